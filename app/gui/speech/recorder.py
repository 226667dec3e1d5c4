"""The microphone through Qt Multimedia: 16 kHz mono frames as numpy arrays."""

from __future__ import annotations

import logging

import numpy as np
from PySide6.QtCore import QObject, Signal

log = logging.getLogger(__name__)


class Recorder(QObject):
    samples = Signal(object)  # float32 array, 16 kHz mono
    level = Signal(float)  # 0..1
    failed = Signal(str)

    def __init__(self, parent=None):
        super().__init__(parent)
        self.source = None
        self.io = None

    @staticmethod
    def devices():
        from PySide6.QtMultimedia import QMediaDevices

        return list(QMediaDevices.audioInputs())

    @staticmethod
    def default_device():
        from PySide6.QtMultimedia import QMediaDevices

        device = QMediaDevices.defaultAudioInput()
        return None if device.isNull() else device

    @property
    def active(self) -> bool:
        return self.source is not None

    def start(self, device=None) -> bool:
        from PySide6.QtMultimedia import QAudioFormat, QAudioSource

        if self.source is not None:
            return True
        device = device or self.default_device()
        if device is None:
            self.failed.emit("No microphone found. Connect one, or check the system's sound settings.")
            return False
        fmt = QAudioFormat()
        fmt.setSampleRate(16000)
        fmt.setChannelCount(1)
        fmt.setSampleFormat(QAudioFormat.SampleFormat.Int16)
        self.source = QAudioSource(device, fmt, self)
        self.source.setBufferSize(16000 * 2 // 5)  # 200 ms
        self.io = self.source.start()
        error = self.source.error()
        if self.io is None or error != type(error).NoError:  # QAudio vs QtAudio across Qt versions
            self.stop()
            self.failed.emit(f"The microphone could not be opened ({error}).")
            return False
        self.io.readyRead.connect(self._read)
        log.info("recording from %s", device.description())
        return True

    def _read(self) -> None:
        if self.io is None:
            return
        data = bytes(self.io.readAll().data())
        if len(data) < 2:
            return
        pcm = np.frombuffer(data[: len(data) // 2 * 2], dtype=np.int16).astype(np.float32) / 32768.0
        self.level.emit(float(min(1.0, np.sqrt(np.mean(pcm * pcm)) * 4)))
        self.samples.emit(pcm)

    def stop(self) -> None:
        if self.source is not None:
            if self.io is not None:
                self._read()
            self.source.stop()
            self.source.deleteLater()
        self.source, self.io = None, None

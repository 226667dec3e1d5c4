"""Live dictation for any pane: microphone → speech worker → text, as signals."""

from __future__ import annotations

import numpy as np
from PySide6.QtCore import QObject, QTimer, Signal

from app.gui.speech.recorder import Recorder

FEED_EVERY_MS = 100


class Dictation(QObject):
    partial = Signal(str)
    final = Signal(str)
    level = Signal(float)
    started = Signal()
    stopped = Signal()  # the microphone is closed
    finished = Signal()  # ...and the last words have been transcribed
    failed = Signal(str)

    def __init__(self, speech_worker, model_for, parent=None):
        super().__init__(parent)
        self.speech = speech_worker
        self.model_for = model_for  # callable: the speech model id to use, or None
        self.recorder = Recorder(self)
        self.recorder.samples.connect(self._collect)
        self.recorder.level.connect(self.level)
        self.recorder.failed.connect(self._failed)
        self._buffer: list[np.ndarray] = []
        self._timer = QTimer(self)
        self._timer.setInterval(FEED_EVERY_MS)
        self._timer.timeout.connect(self._feed)
        self.language: str | None = None

    @property
    def active(self) -> bool:
        return self.recorder.active

    def start(self, device=None) -> bool:
        if self.active:
            return True
        model_id = self.model_for()
        if not model_id:
            self.failed.emit("No speech model installed: open Models to add one.")
            return False
        if not self.recorder.start(device):
            return False
        self.speech.live_start(model_id, self.language, on_error=lambda exc: self._failed(str(exc)))
        self._timer.start()
        self.started.emit()
        return True

    def stop(self) -> None:
        if not self.active:
            return
        self.recorder.stop()
        self._timer.stop()
        self._feed()
        self.speech.live_stop(on_result=self._last_events, on_error=lambda exc: self._failed(str(exc)))
        self.stopped.emit()

    def _last_events(self, events) -> None:
        self._events(events)
        self.finished.emit()

    def _collect(self, pcm) -> None:
        self._buffer.append(pcm)

    def _feed(self) -> None:
        if not self._buffer:
            return
        samples = np.concatenate(self._buffer)
        self._buffer = []
        self.speech.live_feed(samples, on_result=self._events, on_error=lambda exc: self._failed(str(exc)))

    def _events(self, events) -> None:
        for e in events:
            (self.final if e.kind == "final" else self.partial).emit(e.text)

    def _failed(self, message: str) -> None:
        self.recorder.stop()
        self._timer.stop()
        self.failed.emit(message)

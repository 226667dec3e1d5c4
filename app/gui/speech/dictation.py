"""Live dictation for any pane: microphone → speech worker → text, as signals."""

from __future__ import annotations

import time

import numpy as np
from PySide6.QtCore import QObject, QTimer, Signal

from app.gui.speech.recorder import Recorder

FEED_EVERY_MS = 100


class Dictation(QObject):
    partial = Signal(str)
    final = Signal(str)
    segment = Signal(str, float, float)  # a final utterance with its start and end in the dictation's audio
    level = Signal(float)
    started = Signal()
    stopped = Signal()  # the microphone is closed
    finished = Signal()  # ...and the last words have been transcribed
    failed = Signal(str)
    fed = Signal(object)  # the samples handed to the transcriber (its times count on them), to keep

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
        self._job = None
        self._last_audio = 0.0

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
        self._last_audio = time.monotonic()
        self.speech.live_start(model_id, self.language, on_error=lambda exc: self._failed(str(exc)))
        self._timer.start()
        self.started.emit()
        return True

    def stop(self) -> None:
        if not self.active:
            return
        self.recorder.stop()
        self._timer.stop()
        if self._buffer:  # the last words, queued behind whatever is running
            samples = np.concatenate(self._buffer)
            self._buffer = []
            self.fed.emit(samples)
            self.speech.live_feed(samples, on_result=self._events)
        self.speech.live_stop(on_result=self._last_events, on_error=lambda exc: self._failed(str(exc)))
        self.stopped.emit()

    def _last_events(self, events) -> None:
        self._events(events)
        self.finished.emit()

    def _collect(self, pcm) -> None:
        self._buffer.append(pcm)
        self._last_audio = time.monotonic()

    def _feed(self) -> None:
        # Some inputs (an idle virtual device, a muted USB microphone) deliver
        # nothing rather than silence: count a gap in delivery as silence, so an
        # utterance still ends on time.
        now = time.monotonic()
        if self.active and now - self._last_audio > 0.25:
            self._buffer.append(np.zeros(int(16000 * FEED_EVERY_MS / 1000), dtype=np.float32))
        # Back-pressure: while the worker is still transcribing, audio gathers here
        # and goes over as one batch, so a slow machine never builds a backlog.
        if not self._buffer or (self._job is not None and not self._job.done):
            return
        samples = np.concatenate(self._buffer)
        self._buffer = []
        self.fed.emit(samples)
        self._job = self.speech.live_feed(samples, on_result=self._events,
                                          on_error=lambda exc: self._failed(str(exc)))

    def _events(self, events) -> None:
        for e in events:
            (self.final if e.kind == "final" else self.partial).emit(e.text)
            if e.kind == "final":
                self.segment.emit(e.text, e.start_s, e.end_s)

    def _failed(self, message: str) -> None:
        self.recorder.stop()
        self._timer.stop()
        self.failed.emit(message)

"""The speech worker: one thread that owns the loaded Whisper model."""

from __future__ import annotations

from PySide6.QtCore import QObject

from app.gui.workers import Job, SerialWorker


class SpeechWorker(QObject):
    def __init__(self, parent=None):
        super().__init__(parent)
        self.worker = SerialWorker("speech-worker", self)
        self._transcriber = None
        self._live = None
        self.model_id: str | None = None

    def _ensure(self, model_id: str):
        from app.core.models.store import ModelStore
        from app.core.speech.transcriber import Transcriber

        if self._transcriber is None or self.model_id != model_id:
            path, entry = ModelStore().resolve(model_id, "speech")
            self._transcriber = Transcriber(path, model_id=entry.id if entry else path.name)
            self.model_id = model_id
        return self._transcriber

    def load(self, model_id: str, **callbacks) -> Job:
        def job(token, report):
            t = self._ensure(model_id)
            return t.model_id, t.choice.device, t.choice.compute_type

        return self.worker.submit(job, name="load-speech", **callbacks)

    def transcribe(self, model_id: str, path: str, options, **callbacks) -> Job:
        def job(token, report):
            from app.core.speech.transcriber import Segment, TranscriptProgress

            transcriber = self._ensure(model_id)
            segments, fraction = [], 0.0
            for item in transcriber.transcribe(path, options, token):
                if isinstance(item, Segment):
                    segments.append(item)
                elif isinstance(item, TranscriptProgress):
                    fraction = item.fraction
                report((list(segments), fraction))
            return segments

        return self.worker.submit(job, name="transcribe", **callbacks)

    def live_start(self, model_id: str, language: str | None, **callbacks) -> Job:
        def job(token, report):
            from app.core.speech.live import LiveDictation

            self._live = LiveDictation(self._ensure(model_id), language)
            return True

        return self.worker.submit(job, name="live-start", **callbacks)

    def live_feed(self, samples, **callbacks) -> Job:
        def job(token, report):
            return self._live.feed(samples) if self._live is not None else []

        return self.worker.submit(job, name="live-feed", **callbacks)

    def live_stop(self, **callbacks) -> Job:
        def job(token, report):
            events = self._live.flush() if self._live is not None else []
            self._live = None
            return events

        return self.worker.submit(job, name="live-stop", **callbacks)

    def stop(self) -> None:
        self.worker.stop(timeout_ms=5000)

"""The speech worker: one thread that owns the loaded Whisper model."""

from __future__ import annotations

from app.gui.workers import Job, ModelWorker


class SpeechWorker(ModelWorker):
    thread_name = "speech-worker"

    def __init__(self, parent=None):
        super().__init__(parent)
        self._live = None  # the dictation in progress; worker thread only
        self._voices = None  # the speaker model, once asked for; worker thread only

    def open_model(self, model_id: str):
        from app.core.opening import open_transcriber

        return open_transcriber(model_id)

    def load(self, model_id: str, **callbacks) -> Job:
        def job(cancel, progress):
            t = self.ensure(model_id)
            return t.model_id, t.choice.device, t.choice.detail

        return self.submit(job, name="load-speech", **callbacks)

    def transcribe(self, model_id: str, path: str, options, speakers: int | None = None, **callbacks) -> Job:
        """``speakers``: None, none told apart; 0, as many as the voices say; N, that many."""
        def job(cancel, progress):
            from app.core.speech.transcriber import Segment, TranscriptProgress

            voices = self._open_voices() if speakers is not None else None  # a missing model: said first
            transcriber = self.ensure(model_id)
            segments, fraction = [], 0.0
            for item in transcriber.transcribe(path, options, cancel):
                if isinstance(item, Segment):
                    segments.append(item)
                elif isinstance(item, TranscriptProgress):
                    fraction = item.fraction
                progress((list(segments), fraction))
            if voices is not None:  # compared over the whole file, so once it is all transcribed
                from app.core.speech.diarize import diarize

                cancel.raise_if_cancelled()
                segments = diarize(segments, voices, speakers or None, path=path, cancel=cancel)
            return segments

        return self.submit(job, name="transcribe", **callbacks)

    def _open_voices(self):
        if self._voices is None:
            from app.core.opening import open_voices

            self._voices = open_voices()
        return self._voices

    def live_start(self, model_id: str, language: str | None, **callbacks) -> Job:
        def job(cancel, progress):
            from app.core.speech.live import LiveDictation

            self._live = LiveDictation(self.ensure(model_id), language)
            return True

        return self.submit(job, name="live-start", **callbacks)

    def live_feed(self, samples, **callbacks) -> Job:
        def job(cancel, progress):
            return self._live.feed(samples) if self._live is not None else []

        return self.submit(job, name="live-feed", **callbacks)

    def live_stop(self, **callbacks) -> Job:
        def job(cancel, progress):
            events = self._live.flush() if self._live is not None else []
            self._live = None
            return events

        return self.submit(job, name="live-stop", **callbacks)

    def keep_recording(self, recording, path, **callbacks) -> Job:
        """Writes a dictation's recording (up to 58 MB) here, not on the GUI thread."""
        return self.submit(lambda cancel, progress: recording.write(path), name="keep-recording", **callbacks)

    def release(self) -> None:
        self._live = None

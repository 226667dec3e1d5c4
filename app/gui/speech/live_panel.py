"""The Speech pane's microphone row: the device, Record and Hold to talk, the level, and a
dictation's words as they arrive (kept as a transcript of their own).

A mixin of SpeechPane (it uses the pane's dictation, language, store and transcript list).
"""

from __future__ import annotations

from PySide6.QtWidgets import QComboBox, QHBoxLayout, QLabel, QProgressBar, QPushButton

from app.gui.panes.base import button, hbox


class LivePanel:
    def _build_live_row(self) -> QHBoxLayout:
        self.device = QComboBox()
        self.device.setAccessibleName("Microphone")
        self.record_button = QPushButton("● &Record")
        self.record_button.setCheckable(True)
        self.record_button.setAccessibleName("Record from the microphone")
        self.talk_button = button("Hold to talk", "Hold to talk")
        self.meter = QProgressBar()
        self.meter.setRange(0, 100)
        self.meter.setTextVisible(False)
        self.meter.setMaximumWidth(120)
        self.meter.setAccessibleName("Input level")
        self.meter.setObjectName("levelMeter")  # a thin bar, not a box that looks like a text field
        return hbox(QLabel("Microphone"), self.device, self.record_button, self.talk_button, self.meter, stretch=True)

    def refresh_devices(self) -> None:
        from app.gui.speech.recorder import Recorder

        self.device.clear()
        devices = Recorder.devices()
        for d in devices:
            self.device.addItem(d.description(), d)
        has = bool(devices)
        for w in (self.device, self.record_button, self.talk_button):
            w.setEnabled(has)
        self.meter.setVisible(has)  # an empty level bar with no microphone looked like a text field
        self.mic_status.setText(
            "" if has else "No microphone found: connect one, or check the system's sound settings. "
            "File transcription still works."
        )

    def _start_live(self) -> bool:
        self.dictation.language = None if self.language.currentText() == "auto" else self.language.currentText()
        self.listening = self.dictation.start(self.device.currentData())
        if self.listening:
            # Dictation is a transcript of its own; times count from when listening began.
            self.live = self.store.new("Dictation", "dictation")
            from app.core.speech.recordings import DictationAudio

            self.live_recording = DictationAudio()  # kept with the transcript, to play it back
            self._list_add(self.live)
            self._show(self.live)
        return self.listening

    def _set_partial(self, text: str) -> None:
        self.partial.setText(text)
        self.partial.setVisible(bool(text))

    def _toggle_record(self, on: bool) -> None:
        if on:
            if not self._start_live():
                self.record_button.setChecked(False)
            else:
                self.mic_status.setText("Listening…")
        else:
            self.dictation.stop()
            self.mic_status.setText("")

    def _live_final(self, text: str, start: float, end: float) -> None:
        from app.core.speech.transcriber import Segment

        if not self.listening:
            return  # dictation into another pane
        self._set_partial("")
        t = self.live
        if t is None:
            return
        # The utterance's own place in the audio (the time its text arrived includes the transcribing).
        seg = Segment(start, max(end, start + 0.01), text)
        t.segments.append(seg)
        self._keep(t)
        if self.shown is t:
            self.segments = list(t.segments)
            self._add_line(seg)

    def _live_audio(self, samples) -> None:
        if self.listening and getattr(self, "live_recording", None) is not None:
            self.live_recording.add(samples)

    def _live_finished(self) -> None:
        from app.core.speech.recordings import MAX_DICTATION_S, dictation_path

        self.listening = False
        if self.live is not None:
            self.live.status = "done"
            self._keep(self.live)
            rec, self.live_recording = self.live_recording, None
            if rec is not None:
                cut = f"The recording was kept up to its first {MAX_DICTATION_S // 60} minutes."
                self.speech.keep_recording(rec, dictation_path(self.store, self.live.id),
                                           on_result=lambda kept: kept and rec.cut and self.mic_status.setText(cut))
            self.live = None

    def _live_failed(self, message: str) -> None:
        self.record_button.setChecked(False)
        self.mic_status.setText(message)

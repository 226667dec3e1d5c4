"""The Speech pane: a queue of files to transcribe, live dictation, exports."""

from __future__ import annotations

import logging
import time
from pathlib import Path

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QGuiApplication
from PySide6.QtWidgets import (
    QComboBox,
    QFileDialog,
    QHBoxLayout,
    QLabel,
    QListWidget,
    QListWidgetItem,
    QProgressBar,
    QPushButton,
)

from app.core.jobs import HearthError
from app.gui.panes.base import ModelBackedPane, button, hbox
from app.gui.speech.dictation import Dictation
from app.gui.speech.worker import SpeechWorker
from app.gui.widgets.placeholder_list import PlaceholderList

log = logging.getLogger(__name__)
LANGUAGES = ("auto", "en", "de", "fr", "es", "it", "pt", "nl", "pl", "ru", "uk", "tr", "ar", "hi", "ja", "ko", "zh")
MEDIA = "Audio and video (*.wav *.mp3 *.m4a *.flac *.ogg *.opus *.mp4 *.mkv *.webm *.mov);;All files (*)"



def stamp(seconds: float) -> str:
    m, s = divmod(seconds, 60)
    return f"{int(m):02d}:{s:04.1f}"


class SpeechPane(ModelBackedPane):
    kind, title = "speech", "Speech"
    blurb = "Transcribe recordings and dictate into the chat, all on this computer."
    send_to_chat = Signal(str)
    transcript_done = Signal(str)  # the file's path

    def __init__(self, settings, parent=None):
        super().__init__(settings, parent)
        self.setAcceptDrops(True)
        self.speech = SpeechWorker(self)
        self.dictation = Dictation(self.speech, self.picker.current, self)
        self.segments: list = []  # of the transcript shown
        self.queue: list[str] = []
        self.job = None
        self.listening = False  # dictation into this pane (not into the chat) is on

        self.body.addLayout(self._build_files_row())
        self._build_queue()
        self.body.addLayout(self._build_live_row())
        self._build_transcript()
        self.body.addLayout(self._build_export_row())
        self.message = QLabel()
        self.message.setObjectName("speechMessage")
        self.message.setWordWrap(True)
        self.body.addWidget(self.message)
        self._connect()
        self.refresh_devices()

    # --- building ------------------------------------------------------------------------
    def _build_files_row(self) -> QHBoxLayout:
        self.add_button = button("&Add files…", "Add files to transcribe")
        self.transcribe_button = button("&Transcribe", "Transcribe")
        self.cancel_button = button("&Cancel", "Cancel transcription")
        self.cancel_button.setEnabled(False)
        self.language = QComboBox()
        self.language.addItems(LANGUAGES)
        self.language.setAccessibleName("Language")
        self.task = QComboBox()
        # Not "Transcribe" twice side by side (the button and this choice).
        self.task.addItems(("Same language", "Translate to English"))
        self.task.setAccessibleName("Task")
        self.task.setToolTip("Write down what is said in its own language, or translate it into English")
        return hbox(self.add_button, self.transcribe_button, self.cancel_button, QLabel("Language"), self.language,
                    self.task, stretch=True)

    def _build_queue(self) -> None:
        self.file_list = QListWidget()
        self.file_list.setObjectName("speechQueue")
        self.file_list.setAccessibleName("Files to transcribe")
        self.file_list.setMaximumHeight(80)
        self.file_list.hide()  # shown while files wait (an empty white box read as broken)
        self.body.addWidget(self.file_list)
        self.progress = QProgressBar()
        self.progress.setAccessibleName("Transcription progress")
        self.progress.setRange(0, 1000)
        self.progress.hide()  # shown once there is a file to transcribe
        self.body.addWidget(self.progress)

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
        return hbox(QLabel("Microphone"), self.device, self.record_button, self.talk_button, self.meter, stretch=True)

    def _build_transcript(self) -> None:
        self.mic_status = QLabel()
        self.mic_status.setObjectName("micStatus")
        self.body.addWidget(self.mic_status)
        self.partial = QLabel()
        self.partial.setObjectName("livePartial")
        self.partial.setWordWrap(True)
        self.partial.hide()  # shown while words are being heard, so an empty line leaves no gap
        self.body.addWidget(self.partial)
        self.transcript = PlaceholderList()
        self.transcript.setObjectName("transcript")
        self.transcript.setAccessibleName("Transcript (click a line to copy it)")
        self.transcript.setWordWrap(True)
        # Every transcript, one per file and one per dictation, kept across restarts (app.core.speech.transcripts).
        from PySide6.QtWidgets import QSplitter

        from app.core.speech.transcripts import TranscriptStore

        self.store = TranscriptStore()
        self.records: list = []  # Transcript, in the list's order
        self.shown = None  # the Transcript in the view
        self.running = None  # the file's Transcript being made
        self.live = None  # the dictation's Transcript, while listening
        self.transcript_list = QListWidget()
        self.transcript_list.setObjectName("transcriptList")
        self.transcript_list.setAccessibleName("Transcripts")
        self.transcript_list.setMaximumWidth(300)
        # Wrapped to the list's width: a file's error stays readable, and the list never scrolls sideways.
        self.transcript_list.setWordWrap(True)
        self.transcript_list.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.transcripts_area = QSplitter()
        self.transcripts_area.addWidget(self.transcript_list)
        self.transcripts_area.addWidget(self.transcript)
        self.transcripts_area.setStretchFactor(1, 1)
        self.body.addWidget(self.transcripts_area, 1)
        from app.gui.widgets.empty_state import EmptyState

        self.empty = EmptyState(
            "Add audio or video files to turn speech into text, or record from the microphone.",
            "Add files to transcribe…", "file")
        self.body.addWidget(self.empty, 1)
        self.transcripts_area.hide()
        for t in self.store.list():
            self._list_add(t)

    def _build_export_row(self) -> QHBoxLayout:
        out_row = QHBoxLayout()
        self.export_buttons = {}
        for fmt in ("txt", "srt", "vtt", "json"):
            b = QPushButton(f"Export {fmt.upper()}…")
            b.setAccessibleName(f"Export as {fmt.upper()}")
            b.clicked.connect(lambda _=False, f=fmt: self._export(f))
            out_row.addWidget(b)
            self.export_buttons[fmt] = b
        self.send_button = button("Send to &chat", "Send transcript to chat")
        out_row.addStretch(1)
        out_row.addWidget(self.send_button)
        return out_row

    def _connect(self) -> None:
        self.add_button.clicked.connect(self._ask_files)
        self.empty.button.clicked.connect(self._ask_files)
        self.transcript_list.currentRowChanged.connect(self._on_pick)
        for model in (self.file_list.model(), self.transcript.model()):
            for sig in (model.rowsInserted, model.rowsRemoved, model.modelReset):
                sig.connect(self._update_empty)
        self.record_button.toggled.connect(self._update_empty)
        self.transcribe_button.clicked.connect(self.start_queue)
        self.cancel_button.clicked.connect(self.cancel)
        self.transcript.itemClicked.connect(self._copy_item)
        self.send_button.clicked.connect(self._send)
        self.record_button.toggled.connect(self._toggle_record)
        self.talk_button.pressed.connect(lambda: self._start_live())
        self.talk_button.released.connect(self.dictation.stop)
        self.dictation.partial.connect(self._set_partial)
        self.dictation.segment.connect(self._live_final)
        self.dictation.level.connect(lambda v: self.meter.setValue(int(v * 100)))
        self.dictation.failed.connect(self._live_failed)
        self.dictation.stopped.connect(lambda: self.record_button.setChecked(False))
        self.dictation.finished.connect(self._live_finished)

    # --- devices ---------------------------------------------------------------------
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

    def _live_finished(self) -> None:
        self.listening = False
        if self.live is not None:
            self.live.status = "done"
            self._keep(self.live)
            self.live = None

    def _live_failed(self, message: str) -> None:
        self.record_button.setChecked(False)
        self.mic_status.setText(message)

    # --- files -----------------------------------------------------------------------
    def dragEnterEvent(self, event):  # noqa: N802 - Qt override
        if event.mimeData().hasUrls():
            event.acceptProposedAction()

    def dropEvent(self, event):  # noqa: N802 - Qt override
        paths = [u.toLocalFile() for u in event.mimeData().urls() if u.isLocalFile()]
        if paths:
            event.acceptProposedAction()
            self.add_files(paths)
            self.start_queue()

    def _ask_files(self) -> None:
        paths, _ = QFileDialog.getOpenFileNames(self, "Transcribe files", "", MEDIA)
        if paths:
            self.add_files(paths)

    def _update_empty(self, *_args) -> None:
        """The first-step line until there is a file, a transcript line or a recording."""
        empty = (not self.file_list.count() and not self.transcript_list.count() and not self.transcript.count()
                 and not self.record_button.isChecked())
        self.empty.setVisible(empty)
        self.transcripts_area.setVisible(not empty)
        self.file_list.setVisible(self.file_list.count() > 0)
        self.progress.setVisible(self.file_list.count() > 0 or self.job is not None)

    # --- the transcript list ---------------------------------------------------------------
    @staticmethod
    def _label(t) -> str:
        when = time.strftime("%d %b %H:%M", time.localtime(t.created))
        state = {"running": " · working…", "failed": f" · failed: {t.error}", "cancelled": " · cancelled"}
        return f"{t.source}\n{when}{state.get(t.status, '')}"  # the name, then when and how it went

    def _list_add(self, t) -> None:
        self.records.append(t)
        item = QListWidgetItem(self._label(t))
        item.setToolTip(t.error or t.source)
        self.transcript_list.addItem(item)
        self._update_empty()

    def _list_update(self, t) -> None:
        if t in self.records:
            item = self.transcript_list.item(self.records.index(t))
            item.setText(self._label(t))
            item.setToolTip(t.error or t.source)

    def _keep(self, t) -> None:
        try:
            self.store.save(t)
        except OSError as exc:
            self.message.setText(f"Could not keep the transcript: {exc.strerror or exc}")
        self._list_update(t)

    def _show(self, t) -> None:
        """Puts one transcript in the view (selecting it in the list)."""
        self.shown = t
        self.segments = list(t.segments)
        self.transcript.clear()
        if t.status == "failed":  # the reason, not an empty box
            self.transcript.placeholder = f"{t.source} could not be transcribed: {t.error or 'unknown error'}"
        elif t.status == "done" and not t.segments:
            self.transcript.placeholder = f"No speech was found in {t.source}."
        else:
            self.transcript.placeholder = ""
        self.transcript.viewport().update()
        for seg in self.segments:
            self._add_line(seg, live=False)
        row = self.records.index(t)
        if self.transcript_list.currentRow() != row:
            self.transcript_list.blockSignals(True)
            self.transcript_list.setCurrentRow(row)
            self.transcript_list.blockSignals(False)

    def _on_pick(self, row: int) -> None:
        if 0 <= row < len(self.records):
            self._show(self.records[row])

    def add_files(self, paths) -> None:
        for p in paths:
            self.queue.append(p)
            self.file_list.addItem(QListWidgetItem(Path(p).name))

    def options(self):
        from app.core.speech.transcriber import TranscribeOptions

        lang = self.language.currentText()
        return TranscribeOptions(
            language=None if lang == "auto" else lang,
            task="translate" if self.task.currentIndex() == 1 else "transcribe",
            batched=self.settings.speech_batched is not False,
        )

    def start_queue(self) -> None:
        if self.job is not None and not self.job.done:
            return
        if not self.queue:
            self.message.setText("Add a file first (or drop one here).")
            return
        model_id = self.picker.current()
        if not model_id:
            self.message.setText("No speech model installed: open Models to add one.")
            return
        path = self.queue.pop(0)
        self.file_list.takeItem(0)
        self.current_file = path
        self.running = self.store.new(Path(path).name)
        self._list_add(self.running)
        self._show(self.running)
        self.progress.setValue(0)
        self.progress.show()
        self.message.setText(f"Transcribing {Path(path).name}…")
        self.cancel_button.setEnabled(True)
        self.job = self.speech.transcribe(
            model_id, path, self.options(),
            on_progress=self._on_progress, on_result=self._on_done, on_error=self._on_failed,
        )
        self.job.cancelled.connect(self._on_cancelled)

    def cancel(self) -> None:
        if self.job is not None:
            self.job.cancel()

    def _add_line(self, seg, live: bool = False) -> None:
        label = "live" if live else f"{stamp(seg.start)} → {stamp(seg.end)}"
        item = QListWidgetItem(f"[{label}]  {seg.text}")
        item.setData(Qt.ItemDataRole.UserRole, seg.text)
        self.transcript.addItem(item)
        self.transcript.scrollToBottom()

    def _on_progress(self, value) -> None:
        segments, fraction = value
        t = self.running
        if t is not None:
            t.segments = list(segments)
            if self.shown is t:
                for seg in segments[len(self.segments):]:
                    self._add_line(seg)
                self.segments = list(segments)
        self.progress.setValue(int(fraction * 1000))

    def _on_done(self, segments) -> None:
        self._on_progress((segments, 1.0))
        if self.running is not None:
            self.running.status = "done"
            self._keep(self.running)
        name = Path(self.current_file).name
        self.message.setText(
            f"{name}: {len(segments)} segments." if segments else f"{name}: no speech was found in it."
        )
        self._next()
        self.transcript_done.emit(self.current_file)

    def _on_failed(self, exc) -> None:
        name = Path(self.current_file).name
        text = str(exc) if isinstance(exc, HearthError) else f"error: {exc!r}"
        self.message.setText(text if text.startswith(name) else f"{name}: {text}")  # the name once
        if self.running is not None:  # the error stays with its file in the list
            self.running.status = "failed"
            self.running.error = text[len(name):].lstrip(" :") if text.startswith(name) else text
            self._keep(self.running)
        if not isinstance(exc, HearthError):
            from app.gui.errors import reporter

            reporter().report(exc, where="transcription")
        self._next()
        self.transcript_done.emit(self.current_file)

    def _on_cancelled(self) -> None:
        if self.running is not None:
            self.running.status = "cancelled"
            self._keep(self.running)
        self.message.setText(f"{Path(self.current_file).name}: cancelled.")
        self.queue.clear()
        self.file_list.clear()
        self.cancel_button.setEnabled(False)

    def _next(self) -> None:
        self.cancel_button.setEnabled(False)
        if self.queue:
            from PySide6.QtCore import QTimer

            QTimer.singleShot(0, self.start_queue)

    # --- output ----------------------------------------------------------------------
    def transcript_text(self) -> str:
        return " ".join(s.text for s in self.segments if s.text).strip()

    def _copy_item(self, item) -> None:
        QGuiApplication.clipboard().setText(item.data(Qt.ItemDataRole.UserRole))
        self.message.setText("Copied.")

    def _send(self) -> None:
        text = self.transcript_text()
        if not text:
            self.message.setText("There is no transcript to send yet.")
            return
        self.send_to_chat.emit(text)

    def _export(self, fmt: str) -> None:
        if not self.segments:
            self.message.setText("There is no transcript to export yet.")
            return
        from app.gui.dialogs.export import ask_export_path

        source = self.shown.source if self.shown is not None else "transcript"
        path = ask_export_path(self, "Export transcript", Path(source).stem + " transcript", fmt, "transcript")
        if path is not None:
            self.export_to(path, fmt)

    def export_to(self, path: Path, fmt: str) -> None:
        from app.core.speech import subtitles

        try:
            path.write_text(subtitles.render(self.segments, fmt, model=self.picker.current()), encoding="utf-8")
            self.message.setText(f"Exported to {path}.")
        except OSError as exc:
            self.message.setText(f"Could not export: {exc.strerror or exc}")

    def finish_workers(self) -> list:
        self.dictation.stop()
        if self.job is not None:
            self.job.cancel()
        return [self.speech.finish()]

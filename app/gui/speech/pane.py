"""The Speech pane: a queue of files to transcribe, live dictation, exports."""

from __future__ import annotations

import logging
import mimetypes
import os
from pathlib import Path

from PySide6.QtCore import Signal
from PySide6.QtWidgets import (
    QComboBox,
    QFileDialog,
    QHBoxLayout,
    QLabel,
    QListWidget,
    QListWidgetItem,
    QProgressBar,
)

from app.core.jobs import HearthError
from app.gui.errors import UNEXPECTED
from app.gui.panes.base import ModelBackedPane, button, hbox
from app.gui.speech.dictation import Dictation
from app.gui.speech.live_panel import LivePanel
from app.gui.speech.playback_panel import PlaybackPanel
from app.gui.speech.transcripts_panel import TranscriptsPanel
from app.gui.speech.worker import SpeechWorker

log = logging.getLogger(__name__)
LANGUAGES = ("auto", "en", "de", "fr", "es", "it", "pt", "nl", "pl", "ru", "uk", "tr", "ar", "hi", "ja", "ko", "zh")
def is_media(path: str) -> bool:
    """A file that may hold sound: audio or video by its name, or a name that says nothing (the decoder
    decides). A folder, a text file, a picture or a document is not."""
    if not os.path.isfile(path):
        return False
    kind = mimetypes.guess_type(path)[0]
    return kind is None or kind.split("/")[0] in ("audio", "video")


MEDIA = "Audio and video (*.wav *.mp3 *.m4a *.flac *.ogg *.opus *.mp4 *.mkv *.webm *.mov);;All files (*)"


class SpeechPane(LivePanel, PlaybackPanel, TranscriptsPanel, ModelBackedPane):
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
        self.body.addLayout(self._build_play_row())
        self.body.addLayout(self._build_export_row())
        self.message = QLabel()
        self.message.setObjectName("speechMessage")
        self.message.setWordWrap(True)
        self.body.addWidget(self.message)
        self._connect()
        self._connect_playback()
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
        self.speakers = QComboBox()
        # None: no speakers told apart; 0: as many as the voices say; N: that many.
        for text, count in (("1 voice", None), ("Find voices", 0), *((f"{n} voices", n) for n in range(2, 7))):
            self.speakers.addItem(text, count)
        self.speakers.setAccessibleName("Speakers")
        self.speakers.setToolTip("Tell the voices apart (Speaker 1, Speaker 2…): a little longer to transcribe")
        return hbox(self.add_button, self.transcribe_button, self.cancel_button, QLabel("Language"), self.language,
                    self.task, self.speakers, stretch=True)

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
        self.dictation.fed.connect(self._live_audio)

    # --- files -----------------------------------------------------------------------
    def dragEnterEvent(self, event):  # noqa: N802 - Qt override
        if event.mimeData().hasUrls():
            event.acceptProposedAction()

    def dropEvent(self, event):  # noqa: N802 - Qt override
        paths = [u.toLocalFile() for u in event.mimeData().urls() if u.isLocalFile()]
        if paths:
            event.acceptProposedAction()
            self.transcribe_files(paths)

    def _ask_files(self) -> None:
        paths, _ = QFileDialog.getOpenFileNames(self, "Transcribe files", "", MEDIA)
        if paths:
            self.transcribe_files(paths)

    def transcribe_files(self, paths) -> None:
        """A drop and "Add files…" alike: the sound and video files start at once (after any running);
        anything else is refused here, with the reason, rather than queued to fail."""
        media = [p for p in paths if is_media(p)]
        refused = [Path(p).name for p in paths if p not in media]
        if media:
            self.add_files(media)
            self.start_queue()
        if refused:
            log.info("not queued for transcription (not sound or video): %s", ", ".join(refused))
            self.message.setText(f"Not a sound or video file, so not transcribed: {', '.join(refused)}.")

    def _update_empty(self, *_args) -> None:
        """The first-step line until there is a file, a transcript line or a recording."""
        empty = (not self.file_list.count() and not self.transcript_list.count() and not self.transcript.count()
                 and not self.record_button.isChecked())
        self.empty.setVisible(empty)
        self.transcripts_area.setVisible(not empty)
        self.file_list.setVisible(self.file_list.count() > 0)
        self.progress.setVisible(self.file_list.count() > 0 or self.job is not None)

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
            word_timestamps=True,  # kept with the transcript: a click plays from a word, the word playing is lit
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
        self.running.audio = os.path.abspath(path)  # played back from there (by its own name: see recordings)
        self._list_add(self.running)
        self._show(self.running)
        self.progress.setValue(0)
        self.progress.setFormat("%p%")
        self.progress.show()
        self.message.setText(f"Transcribing {Path(path).name}…")
        self.cancel_button.setEnabled(True)
        self.job = self.speech.transcribe(
            model_id, path, self.options(), self.speakers.currentData(),
            on_progress=self._on_progress, on_result=self._on_done, on_error=self._on_failed,
        )
        self.job.cancelled.connect(self._on_cancelled)

    def cancel(self) -> None:
        if self.job is not None:
            self.job.cancel()

    def _on_progress(self, value) -> None:
        segments, fraction = value
        t = self.running
        if t is not None:
            t.segments = list(segments)
            if self.shown is t:
                new, self.segments = segments[len(self.segments):], list(segments)  # the view reads them
                for seg in new:
                    self._add_line(seg)
        self.progress.setValue(int(fraction * 1000))

    def _on_done(self, segments) -> None:
        self._on_progress((segments, 1.0))
        if self.running is not None:
            self.running.status = "done"
            self._keep(self.running)
            if self.shown is self.running and any(s.speaker is not None for s in segments):
                self._show(self.running)  # the lines again, with their speakers (and any split)
        name = Path(self.current_file).name
        self.message.setText(
            f"{name}: {len(segments)} segments." if segments else f"{name}: no speech was found in it."
        )
        self._next()
        self.transcript_done.emit(self.current_file)

    def _on_failed(self, exc) -> None:
        name = Path(self.current_file).name
        text = str(exc) if isinstance(exc, HearthError) else f"the transcription stopped: {UNEXPECTED}"
        self.message.setText(text if text.startswith(name) else f"{name}: {text}")  # the name once
        if self.running is not None:  # the error stays with its file in the list
            self.running.status = "failed"
            self.running.error = text[len(name):].lstrip(" :") if text.startswith(name) else text
            self._keep(self.running)
        self.progress.setValue(self.progress.maximum())  # finished, not stuck at 0 %
        self.progress.setFormat("Failed")
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

    def finish_workers(self) -> list:
        self.player.stop()
        self.dictation.stop()
        if self.job is not None:
            self.job.cancel()
        return [self.speech.finish()]

"""The Speech pane's transcripts: the list of every transcript kept, the one shown (click a line
to play it from there, app.gui.speech.playback_panel), and what leaves it (export, send to chat).

A mixin of SpeechPane (it uses the pane's body, message and picker).
"""

from __future__ import annotations

import time
from pathlib import Path

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QHBoxLayout, QLabel, QListWidget, QListWidgetItem, QPushButton

from app.gui.panes.base import button
from app.gui.speech.transcript_view import TranscriptView, stamp


class TranscriptsPanel:
    def _build_transcript(self) -> None:
        self.mic_status = QLabel()
        self.mic_status.setObjectName("micStatus")
        self.body.addWidget(self.mic_status)
        self.partial = QLabel()
        self.partial.setObjectName("livePartial")
        self.partial.setWordWrap(True)
        self.partial.hide()  # shown while words are being heard, so an empty line leaves no gap
        self.body.addWidget(self.partial)
        self.transcript = TranscriptView()
        self.transcript.setObjectName("transcript")
        self.transcript.setAccessibleName("Transcript (click a line or a word to play from there; F2 edits a line)")
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
        self.transcript.playing_row = self.transcript.playing_word = None
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

    def show_transcript(self, transcript_id: str, seconds: float | None = None) -> bool:
        """Shows a kept transcript with the line at ``seconds`` selected (the search box opens one so);
        False when it is not kept."""
        t = next((r for r in self.records if r.id == transcript_id), None)
        if t is None:  # saved since the list was read (by the CLI, say)
            t = next((r for r in self.store.list() if r.id == transcript_id), None)
            if t is None:
                return False
            self._list_add(t)
        self._show(t)
        if seconds is not None and self.segments:
            row = max((i for i, s in enumerate(self.segments) if s.start <= seconds + 1e-6), default=0)
            self.transcript.setCurrentRow(row)
            self.transcript.scrollToItem(self.transcript.item(row), QListWidget.ScrollHint.PositionAtCenter)
        return True

    def _on_pick(self, row: int) -> None:
        if 0 <= row < len(self.records):
            self._show(self.records[row])

    def _line_text(self, seg) -> str:
        """The line as words (for screen readers and copying); the view draws it with its timings."""
        name = self.shown.speaker_name(seg.speaker) if self.shown is not None else ""
        return f"[{stamp(seg.start)} → {stamp(seg.end)}]  {name + ': ' if name else ''}{seg.text}"

    def _add_line(self, seg, live: bool = False) -> None:
        item = QListWidgetItem(self._line_text(seg))
        item.setData(Qt.ItemDataRole.UserRole, seg.text)
        item.setFlags(item.flags() | Qt.ItemFlag.ItemIsEditable)
        self.transcript.addItem(item)
        if self.transcript.state() != self.transcript.State.EditingState:
            self.transcript.scrollToBottom()

    def transcript_text(self) -> str:
        return " ".join(s.text for s in self.segments if s.text).strip()

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
            names = self.shown.speaker_names if self.shown is not None else None  # and corrected text
            path.write_text(subtitles.render(self.segments, fmt, names, model=self.picker.current()),
                            encoding="utf-8")
            self.message.setText(f"Exported to {path}.")
        except OSError as exc:
            self.message.setText(f"Could not export: {exc.strerror or exc}")

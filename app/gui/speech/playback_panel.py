"""The Speech pane's listening and correcting: play a transcript from a clicked line or word (the
word playing highlighted, space to pause), edit a line in place, undo it, and rename a speaker
for the whole transcript. Every change is kept with the transcript at once.

A mixin of SpeechPane (it uses the pane's store, shown transcript, transcript view and message).
"""

from __future__ import annotations

import bisect
import logging

from PySide6.QtCore import Qt
from PySide6.QtGui import QGuiApplication
from PySide6.QtWidgets import QHBoxLayout, QLabel, QMenu

from app.gui.panes.base import button, hbox
from app.gui.speech.player import Player
from app.gui.speech.transcript_view import stamp

log = logging.getLogger(__name__)


class PlaybackPanel:
    def _build_play_row(self) -> QHBoxLayout:
        self.player = Player(self)
        self.play_button = button("▶ &Play", "Play the transcript (space pauses)")
        self.play_position = QLabel()
        self.play_position.setObjectName("playPosition")
        self.undo_stack: list[tuple[str, int, str, str | None]] = []  # transcript id, row, text, original
        return hbox(self.play_button, self.play_position, stretch=True)

    def _connect_playback(self) -> None:
        view = self.transcript
        view.line = self._line
        view.seek.connect(self.play_at)
        view.toggle_play.connect(self.toggle_play)
        view.undo.connect(self.undo_last_edit)
        view.copy_line.connect(lambda: self._copy_row(view.currentRow()))
        view.delegate.edited.connect(self.edit_line)
        view.delegate.renamed.connect(self.rename)
        view.setContextMenuPolicy(Qt.ContextMenuPolicy.CustomContextMenu)
        view.customContextMenuRequested.connect(self._menu)
        self.play_button.clicked.connect(self.toggle_play)
        self.player.position.connect(self._on_position)
        self.player.problem.connect(self._play_problem)
        self.player.playing_changed.connect(
            lambda on: self.play_button.setText("⏸ &Pause" if on else "▶ &Play"))

    def _line(self, row: int):
        t = self.shown
        if not 0 <= row < len(self.segments):
            return None, ""
        seg = self.segments[row]
        name = t.speaker_name(seg.speaker) if t is not None else ""
        return seg, name

    def _audio(self):
        from app.core.speech.recordings import audio_for

        return audio_for(self.store, self.shown) if self.shown is not None else None

    # --- playing ---------------------------------------------------------------------------
    def play_at(self, row: int, word: int = -1) -> None:
        """From a line's start, or from one of its words."""
        if not 0 <= row < len(self.segments):
            return
        audio = self._audio()
        if audio is None:  # nothing to hear: a click copies the line, as it did before playback
            self._copy_row(row)
            self.message.setText("Copied. There is no recording to play for this transcript (the file was moved "
                                 "or deleted, or it was made before Hearth kept recordings).")
            return
        seg = self.segments[row]
        at = seg.words[word].start if 0 <= word < len(seg.words) and seg.original_text is None else seg.start
        self.playing_of = self.shown
        if self.player.play_from(audio, at):
            self.message.setText("")

    def toggle_play(self) -> None:
        if self.shown is None or not self.segments:
            self.message.setText("There is no transcript to play yet.")
            return
        if not self.player.playing and getattr(self, "playing_of", None) is not self.shown:
            row = max(self.transcript.currentRow(), 0)
            return self.play_at(row)
        self.player.toggle(self._audio())

    def _on_position(self, seconds: float) -> None:
        self.play_position.setText(stamp(seconds))
        if getattr(self, "playing_of", None) is not self.shown or not self.segments:
            self.transcript.set_playing(None, None)
            return
        starts = [s.start for s in self.segments]
        row = bisect.bisect_right(starts, seconds + 1e-3) - 1
        if row < 0 or seconds > self.segments[row].end + 0.5:  # between lines: nothing said now
            self.transcript.set_playing(None, None)
            return
        seg = self.segments[row]
        word = None
        if seg.words and seg.original_text is None:
            word = max(bisect.bisect_right([w.start for w in seg.words], seconds + 1e-3) - 1, 0)
        self.transcript.set_playing(row, word)

    def _play_problem(self, text: str) -> None:
        log.info("playback: %s", text)
        self.message.setText(text)

    # --- correcting --------------------------------------------------------------------------
    def edit_line(self, row: int, text: str) -> None:
        from app.core.speech.transcripts import edit_segment

        t = self.shown
        if t is None or not 0 <= row < len(t.segments) or not text.strip():
            if t is not None and not text.strip():
                self.message.setText("A line cannot be left empty: the edit was not kept.")
            return
        if t.status == "running" and t is not self.live:  # the next lines would write over it
            self.message.setText("Let the transcription finish before correcting it: the edit was not kept.")
            return
        seg = t.segments[row]
        if text.strip() == seg.text:
            return
        self.undo_stack.append((t.id, row, seg.text, seg.original_text))
        edit_segment(t, row, text)
        self._changed(t, row, "Corrected. Ctrl+Z undoes it.")

    def undo_last_edit(self) -> None:
        """The last edit of this session on the transcript shown; else the current line's edit
        (kept from an earlier session) goes back to the transcribed text."""
        from app.core.speech.transcripts import undo_edit

        t = self.shown
        if t is None:
            return
        for i in range(len(self.undo_stack) - 1, -1, -1):
            tid, row, text, original = self.undo_stack[i]
            if tid == t.id and row < len(t.segments):
                del self.undo_stack[i]
                t.segments[row].text, t.segments[row].original_text = text, original
                return self._changed(t, row, "Edit undone.")
        row = self.transcript.currentRow()
        if 0 <= row < len(t.segments) and undo_edit(t, row):
            return self._changed(t, row, "Back to the transcribed text.")
        self.message.setText("Nothing to undo.")

    def rename(self, label: str, name: str) -> None:
        from app.core.speech.transcripts import rename_speaker

        t = self.shown
        if t is None:
            return
        rename_speaker(t, label, name)
        self._keep(t)
        self._refresh_lines()
        self.message.setText(f"Speaker {label} is now {t.speaker_name(label)} throughout.")

    def _changed(self, t, row: int, note: str) -> None:
        self._keep(t)
        self._refresh_lines()
        self.transcript.setCurrentRow(row)
        self.message.setText(note)

    def _refresh_lines(self) -> None:
        """The shown lines again, from the transcript (its texts and names)."""
        self.segments = list(self.shown.segments)
        for row in range(min(self.transcript.count(), len(self.segments))):
            item = self.transcript.item(row)
            item.setText(self._line_text(self.segments[row]))
            item.setData(Qt.ItemDataRole.UserRole, self.segments[row].text)
        self.transcript.doItemsLayout()
        self.transcript.viewport().update()

    def _copy_row(self, row: int) -> None:
        item = self.transcript.item(row) if row >= 0 else None
        if item is not None:
            QGuiApplication.clipboard().setText(item.data(Qt.ItemDataRole.UserRole))
            self.message.setText("Copied.")

    def _menu(self, pos) -> None:
        view = self.transcript
        item = view.itemAt(pos)
        if item is None:
            return
        row = view.row(item)
        seg, name = self._line(row)
        if seg is None:
            return
        menu = QMenu(view)
        menu.addAction("Play from here", lambda: self.play_at(row))
        menu.addAction("Edit text (F2)", lambda: view.edit_text(row))
        undo = menu.addAction("Undo edit (Ctrl+Z)", lambda: (view.setCurrentRow(row), self.undo_last_edit()))
        undo.setEnabled(seg.original_text is not None or any(u[0] == self.shown.id for u in self.undo_stack))
        if seg.speaker is not None:
            menu.addAction(f"Rename {name}…", lambda: view.edit_name(row))
        menu.addAction("Copy line", lambda: self._copy_row(row))
        self.context_menu = menu  # tests reach it
        menu.popup(view.viewport().mapToGlobal(pos))

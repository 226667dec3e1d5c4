"""Listening to a transcript and correcting it (#27), through the real widgets and Qt Multimedia
(the suite's own PulseAudio server gives a null sink to play into)."""

import json
import subprocess
import sys
import wave

import pytest
from PySide6.QtCore import QPoint, Qt
from PySide6.QtWidgets import QLineEdit

from tests.conftest import ROOT
from tests.helpers import speak

SAID = "one two three four five six seven eight nine ten eleven twelve"


def keep_transcript(wav, audio=None):
    """A kept transcript of ``wav``: two speakers, a line each, the words spread over the sound
    (the playback is what is tested here, not the timings), one word the model was unsure of."""
    from app.core.speech.transcriber import Segment, Word
    from app.core.speech.transcripts import TranscriptStore

    with wave.open(str(wav)) as w:
        duration = w.getnframes() / w.getframerate()
    words = SAID.split()
    step = duration / len(words)
    timed = [Word(i * step, (i + 1) * step, (" " if i % 6 else "") + word, 0.2 if i == 2 else 0.9)
             for i, word in enumerate(words)]
    store = TranscriptStore()
    t = store.new(wav.name)
    t.status, t.audio = "done", str(audio or wav)
    t.segments = [Segment(timed[0].start, timed[5].end, " ".join(words[:6]), timed[:6], "1"),
                  Segment(timed[6].start, timed[11].end, " ".join(words[6:]), timed[6:], "2")]
    store.save(t)
    return t


def open_pane(qtbot):
    from app.core.settings import load_settings
    from app.gui.speech.pane import SpeechPane

    pane = SpeechPane(load_settings())
    qtbot.addWidget(pane)
    pane.resize(900, 600)
    pane.show()
    qtbot.waitExposed(pane)
    pane.transcript_list.setCurrentRow(pane.transcript_list.count() - 1)
    return pane


@pytest.fixture
def talk(hearth_home, tmp_path):
    return speak(SAID, tmp_path / "talk.wav", rate=120)


@pytest.fixture
def pane(qtbot, talk):
    keep_transcript(talk)
    pane = open_pane(qtbot)
    yield pane
    pane.shutdown()


def point_of(view, row, what, index=0):
    """Where on the screen a line's speaker name ("name") or its ``index``-th word ("word") is drawn."""
    rect = view.visualRect(view.model().index(row, 0))
    lay = view.delegate.layout(row, rect.width(), view.palette())
    a, b = lay.name if what == "name" else lay.words[index]
    lay.doc.size()  # laid out
    block = lay.doc.findBlock(a)
    line = block.layout().lineForTextPosition(a - block.position())
    assert line.isValid()
    x = (line.cursorToX(a - block.position())[0] + line.cursorToX(b - block.position())[0]) / 2
    y = block.layout().position().y() + line.y() + line.height() / 2
    return rect.topLeft() + QPoint(int(x), int(y))


def test_a_click_on_a_line_plays_from_there_with_the_word_highlighted_and_space_pauses(qtbot, pane):
    view = pane.transcript
    second = pane.segments[1]
    assert not pane.player.playing
    qtbot.mouseClick(view.viewport(), Qt.MouseButton.LeftButton, pos=point_of(view, 1, "word", 0))
    qtbot.waitUntil(lambda: pane.player.playing and pane.player.seconds() > second.start, timeout=20000)
    qtbot.waitUntil(lambda: view.playing_row == 1 and view.playing_word is not None, timeout=20000)
    first_word = view.playing_word
    qtbot.waitUntil(lambda: view.playing_row == 1 and view.playing_word not in (None, first_word), timeout=20000)
    assert pane.player.seconds() > second.words[view.playing_word].start - 0.3
    assert "Pause" in pane.play_button.text()

    qtbot.keyClick(view, Qt.Key.Key_Space)
    qtbot.waitUntil(lambda: not pane.player.playing, timeout=10000)
    assert "Play" in pane.play_button.text()
    paused_at = pane.player.seconds()
    qtbot.keyClick(view, Qt.Key.Key_Space)
    qtbot.waitUntil(lambda: pane.player.playing and pane.player.seconds() > paused_at, timeout=20000)


def test_a_click_on_a_word_plays_from_that_word(qtbot, pane):
    view = pane.transcript
    word = pane.segments[0].words[4]
    qtbot.mouseClick(view.viewport(), Qt.MouseButton.LeftButton, pos=point_of(view, 0, "word", 4))
    qtbot.waitUntil(lambda: view.playing_row == 0 and view.playing_word is not None, timeout=20000)
    assert view.playing_word >= 4 and pane.player.seconds() >= word.start - 0.05


def test_speakers_and_unsure_words_are_shown(qtbot, pane):
    view = pane.transcript
    assert view.item(0).text().endswith("Speaker 1: one two three four five six")
    lay = view.delegate.layout(0, 600, view.palette())
    assert lay.doc.toPlainText()[lay.name[0]:lay.name[1]] == "Speaker 1"
    underlined = [lay.doc.findBlock(a).layout() is not None and _char_format(lay.doc, a).underlineStyle()
                  for a, _ in lay.words]
    from PySide6.QtGui import QTextCharFormat

    dotted = QTextCharFormat.UnderlineStyle.DotLine
    assert [i for i, u in enumerate(underlined) if u == dotted] == [2], "only the unsure word is marked"


def _char_format(doc, at):
    from PySide6.QtGui import QTextCursor

    cursor = QTextCursor(doc)
    cursor.setPosition(at + 1)
    return cursor.charFormat()


def _editor(view, name):
    return view.viewport().findChild(QLineEdit, name)


def test_edit_rename_and_undo_survive_a_restart_and_reach_the_exports(qtbot, pane, tmp_path):
    view = pane.transcript
    # Double-click a word: the line's text opens for editing; Esc leaves it as it was.
    qtbot.mouseDClick(view.viewport(), Qt.MouseButton.LeftButton, pos=point_of(view, 0, "word", 1))
    qtbot.waitUntil(lambda: _editor(view, "lineEditor") is not None)
    editor = _editor(view, "lineEditor")
    qtbot.keyClicks(editor, "nothing kept")
    qtbot.keyClick(editor, Qt.Key.Key_Escape)
    qtbot.waitUntil(lambda: _editor(view, "lineEditor") is None)
    assert pane.segments[0].text == "one two three four five six"
    # Enter keeps the correction.
    view.setCurrentRow(0)
    qtbot.keyClick(view, Qt.Key.Key_F2)
    qtbot.waitUntil(lambda: _editor(view, "lineEditor") is not None)
    editor = _editor(view, "lineEditor")
    qtbot.keyClicks(editor, "won too three")
    qtbot.keyClick(editor, Qt.Key.Key_Return)
    qtbot.waitUntil(lambda: pane.segments[0].text == "won too three")
    # A second correction, undone with Ctrl+Z: back to the first.
    qtbot.keyClick(view, Qt.Key.Key_F2)
    qtbot.waitUntil(lambda: _editor(view, "lineEditor") is not None)
    qtbot.keyClicks(_editor(view, "lineEditor"), "a slip")
    qtbot.keyClick(_editor(view, "lineEditor"), Qt.Key.Key_Return)
    qtbot.waitUntil(lambda: pane.segments[0].text == "a slip")
    qtbot.keyClick(view, Qt.Key.Key_Z, Qt.KeyboardModifier.ControlModifier)
    assert pane.segments[0].text == "won too three" and view.item(0).text().endswith("Speaker 1: won too three")
    # Double-click a speaker's name: renamed on every line of theirs.
    qtbot.mouseDClick(view.viewport(), Qt.MouseButton.LeftButton, pos=point_of(view, 1, "name"))
    qtbot.waitUntil(lambda: _editor(view, "speakerEditor") is not None)
    qtbot.keyClicks(_editor(view, "speakerEditor"), "Tom")
    qtbot.keyClick(_editor(view, "speakerEditor"), Qt.Key.Key_Enter)
    qtbot.waitUntil(lambda: view.item(1).text().endswith("Tom: seven eight nine ten eleven twelve"))

    again = open_pane(qtbot)  # a restart: a new pane on the same store
    try:
        assert again.segments[0].text == "won too three" and again.segments[0].original_text.startswith("one two")
        assert again.transcript.item(1).text().endswith("Tom: seven eight nine ten eleven twelve")
        for fmt in ("txt", "srt", "vtt", "json"):
            again.export_to(tmp_path / f"t.{fmt}", fmt)
        assert "Speaker 1: won too three" in (tmp_path / "t.txt").read_text()
        assert "Tom: seven eight" in (tmp_path / "t.srt").read_text()
        assert "<v Tom>seven eight" in (tmp_path / "t.vtt").read_text()
        data = json.loads((tmp_path / "t.json").read_text())
        assert data["segments"][0]["text"] == "won too three" and data["segments"][1]["speaker"] == "Tom"
        # Undo after the restart: the line goes back to what was transcribed, and that is kept too.
        again.transcript.setCurrentRow(0)
        qtbot.keyClick(again.transcript, Qt.Key.Key_Z, Qt.KeyboardModifier.ControlModifier)
        assert again.segments[0].text == "one two three four five six"
    finally:
        again.shutdown()
    third = open_pane(qtbot)
    try:
        assert third.segments[0].text == "one two three four five six" and third.segments[0].original_text is None
    finally:
        third.shutdown()


@pytest.mark.qt_log_ignore("does not support grabbing the keyboard")  # the offscreen platform, for a popup
def test_the_context_menu_renames_undoes_and_copies(qtbot, pane):
    from PySide6.QtWidgets import QApplication

    view = pane.transcript

    def menu_on(row):
        view.customContextMenuRequested.emit(view.visualItemRect(view.item(row)).center())
        return {a.text(): a for a in pane.context_menu.actions()}

    actions = menu_on(0)
    assert not actions["Undo edit (Ctrl+Z)"].isEnabled(), "nothing edited yet"
    actions["Rename Speaker 1…"].trigger()
    qtbot.waitUntil(lambda: _editor(view, "speakerEditor") is not None)
    qtbot.keyClicks(_editor(view, "speakerEditor"), "Ana")
    qtbot.keyClick(_editor(view, "speakerEditor"), Qt.Key.Key_Return)
    qtbot.waitUntil(lambda: view.item(0).text().endswith("Ana: one two three four five six"))
    pane.context_menu.close()
    pane.edit_line(1, "seven ate nine")  # as the editor hands it over
    actions = menu_on(1)
    assert "Rename Speaker 2…" in actions and actions["Undo edit (Ctrl+Z)"].isEnabled()
    actions["Undo edit (Ctrl+Z)"].trigger()
    assert pane.segments[1].text == "seven eight nine ten eleven twelve"
    pane.context_menu.close()
    menu_on(1)["Copy line"].trigger()
    assert QApplication.clipboard().text() == "seven eight nine ten eleven twelve"
    pane.context_menu.close()


@pytest.mark.qt_log_ignore("Could not open media")  # FFmpeg's own words, to the log; the user gets ours
def test_a_file_that_cannot_be_played_is_said_in_words(qtbot, hearth_home, tmp_path, talk):
    junk = tmp_path / "moved" / "talk.wav"  # the transcript's own file's name: the only one it plays
    junk.parent.mkdir()
    junk.write_bytes(b"this is not a sound at all" * 40)
    keep_transcript(talk, audio=junk)
    pane = open_pane(qtbot)
    try:
        qtbot.mouseClick(pane.transcript.viewport(), Qt.MouseButton.LeftButton,
                         pos=point_of(pane.transcript, 0, "word", 0))
        qtbot.waitUntil(lambda: "Could not play talk.wav" in pane.message.text(), timeout=20000)
        junk.unlink()  # moved away since: said so, nothing tried
        qtbot.mouseClick(pane.transcript.viewport(), Qt.MouseButton.LeftButton,
                         pos=point_of(pane.transcript, 1, "word", 0))
        assert "no recording to play" in pane.message.text()
    finally:
        pane.shutdown()


NO_OUTPUT = """
import sys
from PySide6.QtCore import Qt
from PySide6.QtTest import QTest
from PySide6.QtWidgets import QApplication
app = QApplication([])
from pathlib import Path
from tests.gui.test_speech_playback import keep_transcript, open_pane, point_of
class Bot:
    waitExposed = staticmethod(lambda w: QTest.qWaitForWindowExposed(w))
    addWidget = staticmethod(lambda w: None)
keep_transcript(Path(sys.argv[1]))
pane = open_pane(Bot)
QTest.mouseClick(pane.transcript.viewport(), Qt.MouseButton.LeftButton, pos=point_of(pane.transcript, 0, "word", 0))
print("PLAYING", pane.player.playing)
print("MESSAGE", pane.message.text())
pane.shutdown()
"""


def test_without_a_sound_output_the_pane_says_so(hearth_home, talk):
    import os

    env = dict(os.environ, PULSE_SERVER="unix:/nonexistent/pulse", QT_QPA_PLATFORM="offscreen",
               PYTHONPATH=str(ROOT))
    result = subprocess.run([sys.executable, "-c", NO_OUTPUT, str(talk)], cwd=ROOT, env=env, capture_output=True,
                            text=True, timeout=60)
    assert "PLAYING False" in result.stdout, result.stdout + result.stderr
    assert "No sound output found" in result.stdout, result.stdout + result.stderr
    assert "Traceback" not in result.stderr, result.stderr


@pytest.fixture
def speech(qtbot, starter_store, window):
    window.show_pane("speech")
    pane = window.panes["speech"]
    pane.language.setCurrentText("en")
    return pane


@pytest.mark.slow
def test_speakers_found_in_the_pane_are_on_the_lines_and_a_line_plays(qtbot, speech, tmp_path):
    from tests.voices import dialogue, recording, word_accuracy

    wav = tmp_path / "interview.wav"
    script = recording(wav, dialogue()[:6])
    speech.speakers.setCurrentText("Find voices")
    assert speech.speakers.currentData() == 0
    speech.add_files([wav])
    qtbot.mouseClick(speech.transcribe_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: speech.job is not None and speech.job.done, timeout=180000)
    assert speech.job.outcome == "succeeded", speech.message.text()
    assert {s.speaker for s in speech.segments} == {"1", "2"}, speech.segments
    assert word_accuracy(speech.segments, script) >= 0.9
    lines = [speech.transcript.item(i).text() for i in range(speech.transcript.count())]
    assert len(lines) == len(speech.segments) and any("Speaker 2: " in line for line in lines), lines
    row = next(i for i, s in enumerate(speech.segments) if s.speaker == "2")
    qtbot.mouseClick(speech.transcript.viewport(), Qt.MouseButton.LeftButton,
                     pos=point_of(speech.transcript, row, "word", 0))
    qtbot.waitUntil(lambda: speech.transcript.playing_row == row and speech.player.playing, timeout=20000)

"""Drops and queues agree (#24.10): a picture dropped on the conversation goes where a drop on the
input goes; in Speech "Add files…" starts at once as a drop does; a file that holds no sound is refused
at the drop, not queued to fail with a bar stuck at 0 %."""

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QFileDialog

from tests.gui.test_speech_pane import speech  # noqa: F401 - the Speech pane with whisper-base
from tests.gui.test_vision_chat_pane import seeing, vision_store  # noqa: F401 - a chat model that sees
from tests.helpers import drop_files
from tests.vision import red_png, write


def test_a_picture_dropped_on_the_conversation_is_attached(qtbot, seeing, tmp_path):  # noqa: F811
    red = write(tmp_path / "red.png", red_png())
    assert drop_files(seeing.view.viewport(), [red])
    qtbot.waitUntil(lambda: len(seeing.tray.chips) == 1, timeout=10000)


def test_a_picture_dropped_on_a_blind_models_conversation_says_why(qtbot, window, tmp_path):
    chat = window.panes["chat"]
    window.show_pane("chat")
    red = write(tmp_path / "red.png", red_png())
    assert drop_files(chat.view.viewport(), [red]), "taken, so that the user is told why"
    assert not chat.tray.chips and chat.notice.text() == chat.vision_reason() and chat.notice.text()


def test_add_files_starts_at_once_like_a_drop(qtbot, speech, speech_wav, monkeypatch):  # noqa: F811
    monkeypatch.setattr(QFileDialog, "getOpenFileNames", lambda *a, **k: ([str(speech_wav)], ""))  # native dialog
    qtbot.mouseClick(speech.add_button, Qt.MouseButton.LeftButton)
    assert speech.job is not None, "the file waited for a second click on Transcribe"
    qtbot.waitUntil(lambda: speech.job.done, timeout=60000)
    assert speech.running.status == "done"


def test_a_dropped_text_file_is_refused_with_a_reason(qtbot, speech, tmp_path):  # noqa: F811
    notes = tmp_path / "notes.txt"
    notes.write_text("not a recording")
    drop_files(speech, [notes])
    assert speech.job is None and not speech.queue and speech.transcript_list.count() == 0
    assert "notes.txt" in speech.message.text() and "not" in speech.message.text().lower()
    assert not speech.progress.isVisible()

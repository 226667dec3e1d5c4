"""An empty Chat, Images or Speech pane says what to do first, with the one button that does it (#14)."""

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QFileDialog

from tests.helpers import drop_files, photo_library


def _fake_dialog(monkeypatch, name, value, seen):
    def pick(*args, **kwargs):
        seen.append(name)
        return value

    monkeypatch.setattr(QFileDialog, name, staticmethod(pick))


def test_empty_images_pane_offers_to_add_a_folder(qtbot, clip_store, window, tmp_path, monkeypatch):
    window.show_pane("images")
    pane = window.panes["images"]
    qtbot.waitUntil(lambda: pane.empty.isVisible())
    assert not pane.grid.isVisible() and "folder" in pane.empty.label.text()
    photo_library(tmp_path / "photos", per_class=1)
    seen = []
    # The folder chooser is the system's own dialog: it answers with our folder (a boundary, not Hearth).
    _fake_dialog(monkeypatch, "getExistingDirectory", str(tmp_path / "photos"), seen)
    with qtbot.waitSignal(pane.index_finished, timeout=60000):
        qtbot.mouseClick(pane.empty.button, Qt.MouseButton.LeftButton)
    assert seen == ["getExistingDirectory"]
    qtbot.waitUntil(lambda: pane.grid.isVisible() and not pane.empty.isVisible())


def test_empty_speech_pane_offers_to_add_files_and_goes_when_there_is_one(qtbot, window, speech_wav):
    window.show_pane("speech")
    pane = window.panes["speech"]
    assert pane.empty.isVisible() and not pane.transcript.isVisible()
    assert pane.empty.button.text().startswith("Add files")
    assert drop_files(pane, [speech_wav])
    qtbot.waitUntil(lambda: not pane.empty.isVisible() and pane.transcript.isVisible())
    pane.cancel()


def test_empty_chat_without_a_model_says_so_with_one_button(qtbot, window):
    window.show_pane("chat")
    chat = window.panes["chat"]
    qtbot.waitUntil(lambda: window.hardware is not None and chat.first_run.isVisible(), timeout=20000)
    assert "No chat model yet" in chat.first_run_text.text()
    assert not chat.picker.status.isVisible(), "said once, by the card, not again above it"
    # The one button downloads the model that runs well here (clicked in test_first_run, on a local hub).
    assert chat.suggested and chat.first_run_button.text().startswith("Download (")
    assert chat.suggested_label in chat.first_run_text.text(), "the catalog's name, not the id"

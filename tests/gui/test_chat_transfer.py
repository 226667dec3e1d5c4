"""Export and import in the window (#23): the pane's export writes the pictures beside the file, on a
worker; the window's Import chat reads an export back, and the chat appears in the list and opens."""

import json
import logging

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QFileDialog

from app.core.chat.history import ChatHistory
from app.core.chat.pictures import PictureStore, prepare
from app.core.chat.session import add_user_message
from tests.vision import gradient_png, red_png


def _chat_with_pictures(window):
    pane = window.panes["chat"]
    window.show_pane("chat")
    h = ChatHistory()
    red, grad = prepare(red_png(), "red.png"), prepare(gradient_png(), "grad.png")
    conv = h.create("Two squares")
    add_user_message(h, conv.id, "What are these?", [red, grad])
    h.close()
    pane.sidebar.refresh(select=conv.id)
    pane.open_conversation(conv.id)
    return pane, conv, (red, grad)


def _save_as(monkeypatch, path):
    # The system's own dialog: a boundary, answered here as tests/gui/test_export_dialog.py does.
    monkeypatch.setattr(QFileDialog, "getSaveFileName", staticmethod(lambda *a, **k: (str(path), "")))


def test_export_writes_the_pictures_and_import_brings_the_chat_back(qtbot, window, tmp_path, monkeypatch):
    pane, conv, pics = _chat_with_pictures(window)
    out = tmp_path / "out"
    out.mkdir()
    _save_as(monkeypatch, out / "squares.json")
    qtbot.mouseClick(pane.export_json, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: "Exported" in pane.notice.text(), timeout=20000)
    refs = json.loads((out / "squares.json").read_text())["messages"][0]["attachments"]
    written = [(out / r["file"]).read_bytes() if (out / r["file"]).exists() else None for r in refs]
    assert written == [p.data for p in pics], "the pictures are written beside the file"
    assert "with 2 pictures beside it" in pane.notice.text()
    assert not list(out.glob("*.tmp")), "no temp file left"

    _save_as(monkeypatch, out / "squares.md")
    qtbot.mouseClick(pane.export_md, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: "squares.md" in pane.notice.text() and "Exported" in pane.notice.text(), timeout=20000)
    assert f"![red.png]({refs[0]['file']})" in (out / "squares.md").read_text()

    # Deleted here (its pictures leave the store with it): the import must bring them back from the export.
    pane.history.delete(conv.id)
    pane.new_conversation()
    pane.sidebar.refresh()
    assert not PictureStore().exists(pics[0].sha256)
    monkeypatch.setattr(QFileDialog, "getOpenFileName",
                        staticmethod(lambda *a, **k: (str(out / "squares.json"), "")))
    window.import_chat_action.trigger()
    qtbot.waitUntil(lambda: pane.conversation_id is not None, timeout=20000)
    assert "Imported “Two squares”" in pane.notice.text()
    assert pane.sidebar.current_id() == pane.conversation_id and pane.sidebar.list.count() == 1
    [shown] = pane.view.widgets
    assert shown.text == "What are these?" and shown.pictures.count() >= 2, "the message shows its pictures"
    [message] = ChatHistory().messages(pane.conversation_id)
    assert [PictureStore().read(a.sha256) for a in message.attachments] == [p.data for p in pics]


def test_the_import_button_in_the_chat_list_refuses_a_bad_file_in_words(qtbot, window, tmp_path, monkeypatch):
    pane = window.panes["chat"]
    window.show_pane("chat")
    bad = tmp_path / "notes.json"
    bad.write_text('{"format": "hearth-conversation/1", "messages": [{"role": "tool", "content": "x"}]}')
    monkeypatch.setattr(QFileDialog, "getOpenFileName", staticmethod(lambda *a, **k: (str(bad), "")))
    qtbot.mouseClick(pane.sidebar.import_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: "Could not import notes.json" in pane.notice.text(), timeout=20000)
    assert "no known role" in pane.notice.text()
    assert pane.sidebar.list.count() == 0 and ChatHistory().conversations() == []


def test_a_failed_export_says_so_logs_it_and_leaves_nothing(qtbot, window, tmp_path, monkeypatch, caplog):
    pane, _conv, _pics = _chat_with_pictures(window)
    out = tmp_path / "out"
    (out / "squares.json").mkdir(parents=True)  # its name is taken by a folder: the last write fails
    _save_as(monkeypatch, out / "squares.json")
    with caplog.at_level(logging.WARNING):
        qtbot.mouseClick(pane.export_json, Qt.MouseButton.LeftButton)
        qtbot.waitUntil(lambda: "Export failed" in pane.notice.text(), timeout=20000)
    assert "could not write squares.json" in pane.notice.text()
    assert [p.name for p in out.iterdir()] == ["squares.json"], "the pictures written first were removed"
    assert any("export" in r.getMessage() and r.levelno >= logging.WARNING for r in caplog.records)

"""The export dialog starts in Documents with a clean file name and the format's filter (#14)."""

from PySide6.QtWidgets import QFileDialog

from app.core.chat.history import ChatHistory
from app.gui.dialogs.export import clean_name, documents_dir


def test_clean_names():
    assert clean_name('What is 2/3? A "quick" <note>: ok.') == "What is 2 3 A quick note ok"
    assert clean_name("..  ") == "export"
    assert clean_name("a\x00b\nc", "chat") == "a b c"
    assert len(clean_name("x" * 500)) == 80


def test_chat_export_starts_in_documents_with_a_clean_name(qtbot, window, tmp_path, monkeypatch):
    chat = window.panes["chat"]
    h = ChatHistory()
    conv = h.create("Plans: 2025/26 *draft*?")
    h.add_message(conv.id, "user", "hello")
    chat.sidebar.refresh(select=conv.id)
    chat.open_conversation(conv.id)
    asked = []
    target = tmp_path / "out"  # the user types a name without the suffix

    def dialog(parent, caption, start, filters):  # the system's own dialog: a boundary, answered here
        asked.append((start, filters))
        return str(target), filters

    monkeypatch.setattr(QFileDialog, "getSaveFileName", staticmethod(dialog))
    chat._export("md")
    qtbot.waitUntil(lambda: "Exported" in chat.notice.text(), timeout=20000)  # written on the files worker
    start, filters = asked[0]
    assert start == str(documents_dir() / "Plans 2025 26 draft.md")
    assert filters == "Markdown (*.md)"
    assert (tmp_path / "out.md").read_text().count("hello") == 1, "the suffix is added"

"""Documents in the chat, in the window (#25): drop, paste and the attach button put a document chip in
the composer; Send shows it in the message and the starter model answers; bad ones say why."""

import pytest
from PySide6.QtCore import QMimeData, Qt, QUrl
from PySide6.QtGui import QGuiApplication
from PySide6.QtWidgets import QFileDialog, QToolButton

from app.core.chat.documents import DocumentStore, human_size
from app.core.chat.history import ChatHistory
from tests.core.docs_files import pdf_bytes
from tests.helpers import drop_files


@pytest.fixture
def chat(qtbot, starter_store, window):
    window.show_pane("chat")
    pane = window.panes["chat"]
    assert pane.picker.current() == "gemma-3-270m-q4_k_m" and not pane.sees
    pane.settings_panel.seed.setText("5")
    pane.settings_panel.max_tokens.setValue(24)
    return pane


def _write(path, data):
    path.write_bytes(data if isinstance(data, bytes) else data.encode())
    return path


def _chips(widget):
    return [b.text() for b in widget.findChildren(QToolButton, "documentChip")]


@pytest.mark.slow
def test_dropped_documents_show_as_chips_go_with_the_message_and_the_model_answers(qtbot, chat, tmp_path):
    pane = chat
    note = _write(tmp_path / "garden notes.md", "# Garden\n\nThe tomatoes are planted in the east bed.")
    pdf = _write(tmp_path / "rota.pdf", pdf_bytes([["Watering rota: Ana waters on Mondays."]]))
    assert drop_files(pane.input.viewport(), [note, pdf])
    qtbot.waitUntil(lambda: len(pane.tray.documents) == 2 and pane.tray.pending == 0)
    assert pane.input.toPlainText() == "", "a dropped document is not typed in as a path"
    shown = [f"garden notes.md ({note.stat().st_size} bytes)", f"rota.pdf ({human_size(pdf.stat().st_size)})"]
    assert pane.tray.isVisible() and _chips(pane.tray) == shown
    progress = []
    pane.input.setFocus()
    qtbot.keyClicks(pane.input, "Where are the tomatoes planted?")
    qtbot.keyClick(pane.input, Qt.Key.Key_Return)
    pane.job.progress.connect(progress.append)
    qtbot.waitUntil(lambda: pane.job.done, timeout=120000)
    user, reply = ChatHistory().messages(pane.conversation_id)
    assert [(d.name, d.kind) for d in user.documents] == [("garden notes.md", "markdown"), ("rota.pdf", "pdf")]
    assert reply.content.strip() and not reply.incomplete and progress, "the reply streamed in"
    assert reply.stats["prompt_tokens"] > 40, "the documents were in the prompt (the question alone is 15 tokens)"
    assert pane.tray.documents == [] and not pane.tray.isVisible()
    sent = pane.view.widgets[-2]
    assert _chips(sent) == shown
    assert pane.view.widgets[-1].text == reply.content
    # Opened again, the message still shows its documents.
    pane.open_conversation(pane.conversation_id)
    assert "rota.pdf" in " ".join(_chips(pane.view.widgets[-2]))


def test_a_pasted_file_and_the_attach_button_attach_documents_for_a_model_that_cannot_see(qtbot, chat, tmp_path,
                                                                                          monkeypatch):
    pane = chat
    assert pane.attach_button.isEnabled() and "Attach documents" in pane.attach_button.toolTip()
    mime = QMimeData()
    mime.setUrls([QUrl.fromLocalFile(str(_write(tmp_path / "list.txt", "milk, eggs, bread")))])
    QGuiApplication.clipboard().setMimeData(mime)
    pane.input.setFocus()
    qtbot.keyClick(pane.input, Qt.Key.Key_V, Qt.KeyboardModifier.ControlModifier)
    qtbot.waitUntil(lambda: len(pane.tray.documents) == 1)
    asked = []

    def dialog(*args, **kwargs):
        asked.append(args[3])
        return [str(_write(tmp_path / "b.html", "<h1>B</h1><p>Bee words.</p>"))], ""

    monkeypatch.setattr(QFileDialog, "getOpenFileNames", dialog)  # the native dialog
    qtbot.mouseClick(pane.attach_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: len(pane.tray.documents) == 2)
    assert "Documents (" in asked[0] and "*.png" not in asked[0], "a blind model is offered documents only"
    assert [d.name for d in pane.tray.documents] == ["list.txt", "b.html"] and pane.input.toPlainText() == ""


def test_a_document_too_large_or_unreadable_is_refused_in_words_and_a_removed_one_leaves_no_file(qtbot, chat,
                                                                                                tmp_path):
    pane = chat
    big = tmp_path / "huge.txt"
    with big.open("wb") as fh:
        fh.truncate(60 * 1024 * 1024)
    cases = {big: "huge.txt cannot be attached: too large (60 MB, limit 50 MB)",
             _write(tmp_path / "locked.pdf", pdf_bytes([["x"]], encrypt="pw")): "locked.pdf cannot be attached: ",
             _write(tmp_path / "empty.md", b""): "empty.md cannot be attached: empty file"}
    for path, says in cases.items():
        assert drop_files(pane.input.viewport(), [path])
        qtbot.waitUntil(lambda: pane.tray.pending == 0)
        assert pane.notice.text().startswith(says), pane.notice.text()
        assert pane.tray.documents == []
    assert drop_files(pane.input.viewport(), [_write(tmp_path / "keep.txt", "Kept words.")])
    qtbot.waitUntil(lambda: len(pane.tray.documents) == 1)
    sha = pane.tray.documents[0].sha256
    assert DocumentStore().exists(sha)
    qtbot.mouseClick(pane.tray.document_chips[0].remove, Qt.MouseButton.LeftButton)
    assert pane.tray.documents == [] and not pane.tray.isVisible() and not DocumentStore().exists(sha)
    assert pane.conversation_id is None  # nothing was sent


def test_a_document_that_cannot_be_stored_is_refused_in_words(qtbot, hearth_home, tmp_path):
    """The store's folder for it is blocked (a file where its sub-folder goes): the tray says so in words,
    never as the raw OSError, adds no chip, and takes the next document."""
    import hashlib

    from app.gui.chat.attachments import AttachmentTray

    note = _write(tmp_path / "notes.md", "# Notes\n\nThe spare key is under the flowerpot.")
    other = _write(tmp_path / "other.txt", "Something else entirely.")
    (DocumentStore().root / hashlib.sha256(note.read_bytes()).hexdigest()[:2]).write_text("in the way")
    tray = AttachmentTray()
    qtbot.addWidget(tray)
    said = []
    tray.failed.connect(said.append)
    try:
        tray.add_document(note, note.name)
        qtbot.waitUntil(lambda: bool(said) and tray.pending == 0)
        assert "notes.md" in said[0] and "could not be stored" in said[0]
        assert "Errno" not in said[0] and str(DocumentStore().root) not in said[0]
        assert tray.documents == []
        tray.add_document(other, other.name)
        qtbot.waitUntil(lambda: tray.pending == 0)
        assert [d.name for d in tray.documents] == ["other.txt"]
    finally:
        with qtbot.waitSignal(tray.worker.ended, timeout=10000):
            tray.worker.finish()

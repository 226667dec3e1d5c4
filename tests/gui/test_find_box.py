"""The Ctrl+K box driven by keys: it opens from any pane, searches as the user types (off the GUI thread),
groups the hits by kind, and Enter opens one where it lives; Escape closes it."""

from __future__ import annotations

import os

import pytest
from PySide6.QtCore import QObject, Qt, Slot
from PySide6.QtGui import QDesktopServices

from app.core.find import Hit
from tests import find_library


def _ctrl_k(qtbot, window):
    window.activateWindow()
    qtbot.waitUntil(window.isActiveWindow, timeout=5000)
    qtbot.keyClick(window.focusWidget() or window, Qt.Key.Key_K, Qt.KeyboardModifier.ControlModifier)
    box = window.find_box
    qtbot.waitUntil(lambda: box is not None and box.isVisible() and box.edit.hasFocus(), timeout=5000)
    return box


def _type(qtbot, box, text: str) -> None:
    box.edit.selectAll()
    with qtbot.waitSignal(box.results_shown, timeout=120_000):
        qtbot.keyClicks(box.edit, text)


def _hit(box) -> Hit | None:
    item = box.results.currentItem()
    return item.data(Qt.ItemDataRole.UserRole) if item is not None else None


def _arrow_to(qtbot, box, kind: str) -> Hit:
    """Down from the line edit until a hit of ``kind`` is current, as a user would."""
    for _ in range(box.results.count()):
        hit = _hit(box)
        if hit is not None and hit.kind == kind:
            return hit
        qtbot.keyClick(box.edit, Qt.Key.Key_Down)
    raise AssertionError(f"no {kind} among {[box.results.item(i).text() for i in range(box.results.count())]}")


def _groups(box) -> list[str]:
    return [box.results.item(i).text() for i in range(box.results.count())
            if not box.results.item(i).flags() & Qt.ItemFlag.ItemIsEnabled]


class _FileOpener(QObject):
    """Stands in for the desktop's file handler (Qt's own hook), so no program starts in the test."""

    def __init__(self):
        super().__init__()
        self.urls: list[str] = []

    @Slot("QUrl")
    def open(self, url) -> None:
        self.urls.append(url.toLocalFile())


@pytest.mark.slow
def test_ctrl_k_finds_and_opens_every_kind(qtbot, starter_store, clip_store, tmp_path, open_window):
    library = find_library.build(tmp_path)
    window = open_window()
    window.activateWindow()
    qtbot.waitActive(window)

    window.show_pane("chat")
    window.panes["chat"].input.setFocus()
    box = _ctrl_k(qtbot, window)
    _type(qtbot, box, find_library.SPOKEN)
    assert "Transcripts" in _groups(box)
    hit = _arrow_to(qtbot, box, "transcript")
    assert hit.location.transcript_id == library.meeting_id
    qtbot.keyClick(box.edit, Qt.Key.Key_Return)
    speech = window.panes["speech"]
    assert not box.isVisible() and window.current_pane() == "speech"
    assert speech.shown.id == library.meeting_id
    line = speech.segments[speech.transcript.currentRow()]
    assert line.start == 24.5 and "red kayak" in line.text

    box = _ctrl_k(qtbot, window)  # from the Speech pane now
    _type(qtbot, box, "shady allotment")
    _arrow_to(qtbot, box, "chat")
    qtbot.keyClick(box.edit, Qt.Key.Key_Enter)
    chat = window.panes["chat"]
    assert window.current_pane() == "chat" and chat.conversation_id == library.chats["garden"]
    assert chat.sidebar.current_id() == library.chats["garden"]

    window.show_pane("images")
    box = _ctrl_k(qtbot, window)
    _type(qtbot, box, "a red circle")
    hit = _arrow_to(qtbot, box, "photo")
    images = window.panes["images"]
    # The photos were searched with the Images pane's own CLIP; the find worker never loaded one.
    assert images.images.model_id == "tiny-clip" and box.worker._engines.encoder is None
    qtbot.keyClick(box.edit, Qt.Key.Key_Return)
    qtbot.waitUntil(lambda: getattr(images, "_preview", None) is not None and images._preview.isVisible())
    assert window.current_pane() == "images" and images._preview.windowTitle() == os.path.basename(hit.path)
    images._preview.close()

    opener = _FileOpener()
    QDesktopServices.setUrlHandler("file", opener, "open")
    try:
        box = _ctrl_k(qtbot, window)
        _type(qtbot, box, find_library.PARAPHRASE[0])
        hit = _arrow_to(qtbot, box, "document")
        assert hit.path.endswith(find_library.PARAPHRASE[1])
        where = box.results.visualItemRect(box.results.currentItem()).center()
        qtbot.mouseClick(box.results.viewport(), Qt.MouseButton.LeftButton, pos=where)  # a double-click's first press
        qtbot.mouseDClick(box.results.viewport(), Qt.MouseButton.LeftButton, pos=where)
        qtbot.waitUntil(lambda: opener.urls == [hit.path], timeout=5000)
    finally:
        QDesktopServices.unsetUrlHandler("file")

    box = _ctrl_k(qtbot, window)
    qtbot.keyClick(box.edit, Qt.Key.Key_Escape)
    assert not box.isVisible()


def test_with_nothing_indexed_the_box_says_what_it_could_not_search(qtbot, window):
    box = _ctrl_k(qtbot, window)
    _type(qtbot, box, "anything")
    assert box.results.count() == 0
    text = box.status.text()
    assert text.startswith("Nothing found.") and "documents:" in text and "photos:" in text and "transcripts:" in text
    qtbot.keyClick(box.edit, Qt.Key.Key_Return)  # nothing to open: it searches again, and stays open
    assert box.isVisible()


class _UrlOpener(QObject):
    def __init__(self):
        super().__init__()
        self.urls: list = []

    @Slot("QUrl")
    def open(self, url) -> None:
        self.urls.append(url)


def test_a_pdf_hit_opens_at_its_page_as_in_the_documents_pane(qtbot, tmp_path):
    """The box's document hits open where the Documents pane's do: a PDF at the hit's page."""
    from app.core.find import Location
    from app.gui.find.route import open_hit
    from tests.core.docs_files import pdf_bytes

    pdf = tmp_path / "manual.pdf"
    pdf.write_bytes(pdf_bytes([["Contents"], ["Chapter one"], ["The brake pads are on page three."]]))
    opener = _UrlOpener()
    QDesktopServices.setUrlHandler("file", opener, "open")
    try:
        assert open_hit(None, Hit("document", pdf.name, str(pdf), Location(page=3), "brake pads", 1.0)) == ""
    finally:
        QDesktopServices.unsetUrlHandler("file")
    assert [(u.toLocalFile(), u.fragment()) for u in opener.urls] == [(str(pdf), "page=3")]

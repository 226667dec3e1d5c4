"""Look-and-feel defects found in the screenshots (#14): each drives the real widget and fails on the old look."""

from PySide6.QtCore import Qt
from PySide6.QtGui import QTextCursor
from PySide6.QtWidgets import QApplication

from app.gui import theme
from app.gui.chat.message_view import MessageWidget

LONG_TITLE = "A very long conversation title that does not fit in the list at all, not even close"


def test_the_images_query_text_does_not_touch_the_fields_left_edge(qtbot, window):
    pane = window.panes["images"]
    window.show_pane("images")
    window.resize(1024, 640)
    for scheme in ("light", "dark"):
        theme.apply(scheme)
        pane.query.setText("a red circle")
        pane.query.setCursorPosition(0)
        QApplication.processEvents()
        # The caret before the first letter sits where the text starts: a few pixels inside the frame.
        assert pane.query.cursorRect().center().x() >= 8, f"{pane.query.cursorRect()} ({scheme})"
    theme.apply("light")


def _code_background(card: MessageWidget, word: str) -> str:
    doc = card.body.browsers()[0].document()
    cursor = doc.find(word)
    assert not cursor.isNull(), f"{word!r} is not in the message"
    cursor.setPosition(cursor.selectionStart() + 1, QTextCursor.MoveMode.MoveAnchor)
    return cursor.charFormat().background().color().name()


def test_inline_code_follows_the_theme(qtbot, window):
    """Inline code kept its light background under dark text after a switch to dark: unreadable."""
    theme.apply("light")
    card = window.panes["chat"].view.add(MessageWidget(1, "assistant", "Use the `csvkit` module."))
    assert _code_background(card, "csvkit") == theme.COLORS["light"]["code_bg"]
    try:
        theme.apply("dark")
        assert _code_background(card, "csvkit") == theme.COLORS["dark"]["code_bg"]
    finally:
        theme.apply("light")
    assert _code_background(card, "csvkit") == theme.COLORS["light"]["code_bg"]


def test_a_long_chat_title_is_cut_short_not_scrolled_sideways(qtbot, window):
    chat = window.panes["chat"]
    chat.history.create(LONG_TITLE, "", "", {})
    chat.sidebar.refresh()
    window.show_pane("chat")
    window.resize(1024, 640)
    QApplication.processEvents()
    lst = chat.sidebar.list
    item = lst.findItems(LONG_TITLE, Qt.MatchFlag.MatchExactly)[0]
    qtbot.waitUntil(lambda: lst.visualItemRect(item).width() > 0)  # laid out
    QApplication.processEvents()
    assert not lst.horizontalScrollBar().isVisible(), "the chat list scrolls sideways"
    assert item.toolTip() == LONG_TITLE  # the whole title is still there to read


def test_the_speech_queue_and_progress_show_only_when_there_is_a_file(qtbot, window, tmp_path):
    speech = window.panes["speech"]
    window.show_pane("speech")
    QApplication.processEvents()
    assert not speech.file_list.isVisible() and not speech.progress.isVisible()
    speech.add_files([str(tmp_path / "talk.wav")])
    assert speech.file_list.isVisible() and speech.progress.isVisible()


def test_an_empty_chat_list_says_so_instead_of_a_blank_box(qtbot, window):
    chat = window.panes["chat"]
    window.show_pane("chat")
    window.resize(1024, 640)
    QApplication.processEvents()
    lst = chat.sidebar.list
    assert lst.count() == 0
    image = lst.viewport().grab().toImage()
    base = lst.viewport().palette().color(lst.viewport().backgroundRole()).name()
    inked = sum(1 for x in range(0, image.width(), 2) for y in range(0, min(image.height(), 60), 2)
                if image.pixelColor(x, y).name() != base)
    assert inked > 20, "the empty list is a blank box"
    assert lst.placeholder == "No chats yet"
    qtbot.keyClicks(chat.sidebar.search, "zebra")
    assert lst.count() == 0 and lst.placeholder == "No chats match"

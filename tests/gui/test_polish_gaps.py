"""#14 items that had no test of their own: Esc stops a reply, Ctrl+V in Images (full-size thumbnails after a
paste), "Listening…" clears when dictation stops, message cards differ by role, the active pane is marked."""

import pytest
from PySide6.QtCore import Qt
from PySide6.QtGui import QGuiApplication, QImage
from PySide6.QtWidgets import QApplication

from app.core.chat.history import ChatHistory
from app.gui import theme
from app.gui.chat.message_view import MessageWidget
from app.gui.images.results import THUMB
from tests.gui.test_images_pane import images  # noqa: F401 - the indexed library fixture


@pytest.mark.slow
def test_esc_stops_a_reply_and_keeps_what_came(qtbot, starter_store, window):
    window.show_pane("chat")
    chat = window.panes["chat"]
    chat.settings_panel.max_tokens.setValue(1500)
    chat.input.setFocus()
    qtbot.keyClicks(chat.input, "Write a very long story about a lighthouse keeper.")
    qtbot.keyClick(chat.input, Qt.Key.Key_Return)
    job, seen = chat.job, []
    job.progress.connect(seen.append)
    qtbot.waitUntil(lambda: len(seen) >= 3, timeout=60000)
    qtbot.keyClick(chat.input, Qt.Key.Key_Escape)
    qtbot.waitUntil(lambda: job.done, timeout=15000)
    msgs = ChatHistory().messages(chat.conversation_id)
    assert [m.role for m in msgs] == ["user", "assistant"] and msgs[1].incomplete
    assert msgs[1].content.startswith(seen[0][:10])
    assert chat.send_button.isEnabled() and not chat.stop_button.isEnabled()


def test_ctrl_v_in_images_searches_by_the_pasted_picture_with_full_size_cells(qtbot, images):  # noqa: F811
    pane, lib = images
    target = lib["green circle"][0]
    QGuiApplication.clipboard().setImage(QImage(str(target)))
    pane.grid.setFocus()
    with qtbot.waitSignal(pane.results_ready, timeout=30000) as done:
        qtbot.keyClick(pane.grid, Qt.Key.Key_V, Qt.KeyboardModifier.ControlModifier)
    assert done.args[0] > 0 and pane.query_picture.isVisible()
    QApplication.processEvents()  # laid out before any thumbnail of this search has been made
    cell = pane.grid.visualRect(pane.results.index(0)).size()
    assert cell.width() >= THUMB and cell.height() >= THUMB, f"cell {cell} after a paste"


def test_listening_clears_when_dictation_stops(qtbot, starter_store, pulse, window):
    speech, chat = window.panes["speech"], window.panes["chat"]
    window.show_pane("speech")
    speech.refresh_devices()
    assert speech.record_button.isEnabled(), speech.mic_status.text()
    qtbot.mouseClick(speech.record_button, Qt.MouseButton.LeftButton)
    assert speech.mic_status.text().startswith("Listening")
    qtbot.mouseClick(speech.record_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: not speech.dictation.active, timeout=30000)
    assert "Listening" not in speech.mic_status.text()
    window.show_pane("chat")
    qtbot.waitUntil(chat.mic_button.isEnabled, timeout=10000)
    qtbot.mouseClick(chat.mic_button, Qt.MouseButton.LeftButton)
    assert chat.notice.text().startswith("Listening")
    with qtbot.waitSignal(chat.dictation.finished, timeout=30000):
        qtbot.mouseClick(chat.mic_button, Qt.MouseButton.LeftButton)
    assert "Listening" not in chat.notice.text()


def _background(widget) -> str:
    """The colour just inside the widget's top edge (under its border, above its content)."""
    return widget.grab().toImage().pixelColor(widget.width() // 2, 4).name()


def test_message_cards_differ_by_role_and_the_active_pane_is_marked(qtbot, window):
    chat = window.panes["chat"]
    window.show_pane("chat")
    window.resize(1024, 640)
    user = chat.view.add(MessageWidget(1, "user", "Hello"))
    reply = chat.view.add(MessageWidget(2, "assistant", "Hi there."))
    nav = window.nav
    try:
        for scheme in ("light", "dark"):
            theme.apply(scheme)
            QApplication.processEvents()
            colors = theme.COLORS[scheme]
            assert _background(user) == colors["user"] != _background(reply) == colors["assistant"], scheme
            shot = nav.grab().toImage()
            marks = []
            for row in range(nav.count()):
                assert not nav.item(row).icon().isNull(), f"{nav.item(row).text()} has no icon"
                rect = nav.visualItemRect(nav.item(row))
                marks.append(shot.pixelColor(rect.right() - 8, rect.center().y()).name())
            active = nav.currentRow()
            assert marks[active] == colors["accent"], f"the active pane is not marked ({scheme})"
            assert all(m != colors["accent"] for i, m in enumerate(marks) if i != active)
    finally:
        theme.apply("light")

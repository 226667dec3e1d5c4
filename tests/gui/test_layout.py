"""Every pane at 1024x640, 1920x1080 and 2560x1440, light and dark (#14): nothing scrolls sideways or is clipped,
every action button of a message card is inside the view, thumbnails are full-size on the first search;
on a wide window messages (and the input under them) keep a readable width."""

import pytest
from PySide6.QtCore import QPoint, Qt
from PySide6.QtWidgets import QApplication, QPushButton, QScrollArea

from app.core.settings import PANES
from app.gui import theme
from app.gui.chat.message_view import READABLE_WIDTH, MessageWidget
from app.gui.images.results import THUMB
from tests.helpers import drop_files, photo_library

SIZES = ((1024, 640), (1920, 1080), (2560, 1440))
CODE = "```python\nprint('" + "a very long line of code " * 12 + "')\n```"


def _inside_horizontally(widget, viewport) -> bool:
    left = widget.mapTo(viewport, QPoint(0, 0)).x()
    return left >= 0 and left + widget.width() <= viewport.width()


@pytest.mark.slow
def test_every_pane_fits_both_sizes_in_both_themes(qtbot, clip_store, window, tmp_path):
    chat, images = window.panes["chat"], window.panes["images"]
    photo_library(tmp_path / "photos", per_class=1)
    window.show_pane("images")
    with qtbot.waitSignal(images.index_finished, timeout=60000):
        assert drop_files(images, [tmp_path / "photos"])
    window.resize(*SIZES[0])
    images.query.setText("a red circle")
    with qtbot.waitSignal(images.results_ready, timeout=30000) as first:
        qtbot.mouseClick(images.search_button, Qt.MouseButton.LeftButton)
    assert first.args[0] > 0
    QApplication.processEvents()
    cell = images.grid.visualRect(images.results.index(0)).size()
    assert cell.width() >= THUMB and cell.height() >= THUMB, f"first search: {cell}"

    cards = [chat.view.add(MessageWidget(1, "user", "Explain " + "Pneumonoultramicroscopic" * 8)),
             chat.view.add(MessageWidget(2, "assistant", "Here it is:\n\n" + CODE + "\n\n| a | b |\n|---|---|\n|1|2|"))]
    cards[1].set_stats({"model": "qwen2.5-7b-instruct-q4_k_m", "completion_tokens": 812, "tokens_per_second": 9.7,
                        "time_to_first_token_s": 1.2}, incomplete=True)
    chat.settings_toggle.setChecked(True)
    list_widths = {}
    try:
        for scheme in ("light", "dark"):
            theme.apply(scheme)
            for size in SIZES:
                window.resize(*size)
                for name in PANES:
                    window.show_pane(name)
                    QApplication.processEvents()
                    holder = window.stack.currentWidget()
                    assert isinstance(holder, QScrollArea)
                    assert holder.horizontalScrollBar().maximum() == 0, f"{name} clipped at {size} ({scheme})"
                    clipped = [b.accessibleName() or b.text() for b in holder.widget().findChildren(QPushButton)
                               if b.isVisible() and b.width() < b.minimumSizeHint().width()]
                    assert not clipped, f"buttons cut short in {name} at {size}: {clipped}"
                window.show_pane("chat")
                qtbot.waitUntil(lambda: cards[1].body.code_blocks()[0].view.horizontalScrollBar().maximum() > 0)
                assert chat.view.horizontalScrollBar().maximum() == 0, f"chat scrolls sideways at {size}"
                viewport = chat.view.viewport()
                for card in cards:
                    assert _inside_horizontally(card, viewport)
                    for b in card.actions:
                        assert b.isVisible() and _inside_horizontally(b, viewport), f"{b.accessibleName()} {size}"
                    assert card.width() <= READABLE_WIDTH, f"a {card.width()} px message at {size}"
                assert chat.input.width() < READABLE_WIDTH, f"a {chat.input.width()} px input at {size}"
                list_widths[size] = chat.sidebar.width()
                window.show_pane("images")
                QApplication.processEvents()
                rect = images.grid.visualRect(images.results.index(0))
                assert rect.width() >= THUMB and rect.height() >= THUMB, f"thumbnail cell {rect} at {size}"
                assert images.grid.horizontalScrollBar().maximum() == 0
            assert list_widths[SIZES[-1]] > list_widths[SIZES[0]], f"the chat list stays {list_widths}"
    finally:
        theme.apply("light")

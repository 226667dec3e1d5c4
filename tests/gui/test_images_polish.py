"""Images pane from #14: full-size thumbnails on the first search, live threshold, names, query picture, preview."""

import os

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QApplication

from app.gui.images.results import THUMB
from tests.gui.test_images_pane import images  # noqa: F401 - the indexed library fixture
from tests.helpers import drop_files


def test_thumbnails_are_full_size_on_the_first_search(qtbot, images):  # noqa: F811
    pane, lib = images
    pane.query.setFocus()
    qtbot.keyClicks(pane.query, "a blue star")
    with qtbot.waitSignal(pane.results_ready, timeout=30000):
        qtbot.keyClick(pane.query, Qt.Key.Key_Return)
    QApplication.processEvents()  # laid out, thumbnails not yet made (they are made on demand)
    first = pane.results.index(0)
    rect = pane.grid.visualRect(first)
    assert rect.width() >= THUMB and rect.height() >= THUMB, f"cell {rect.size()} on the first search"
    qtbot.waitUntil(lambda: bool(pane.results.thumbs), timeout=10000)
    assert pane.grid.visualRect(first).size() == rect.size(), "the cell does not change when the thumbnail comes"


def test_threshold_filters_live_shows_its_value_and_hides_non_matches(qtbot, images):  # noqa: F811
    pane, lib = images
    pane.query.setText("a red star")
    with qtbot.waitSignal(pane.results_ready, timeout=30000) as blocker:
        qtbot.mouseClick(pane.search_button, Qt.MouseButton.LeftButton)
    total = blocker.args[0]
    scores = [pane.results.data(pane.results.index(i), pane.results.ScoreRole) for i in range(total)]
    assert all(s > 0 for s in scores), "a score at or below zero is not shown as a match"
    assert len(pane.all_hits) >= total
    cut = int(scores[min(2, total - 1)] * 100) + 1
    with qtbot.waitSignal(pane.results_ready, timeout=1000) as blocker:
        pane.threshold.setValue(cut)  # no new search: the slider filters what is there
    assert 0 < blocker.args[0] < total or blocker.args[0] == 0
    assert pane.threshold_label.text() == f"{cut / 100:.2f}"
    shown = [pane.results.data(pane.results.index(i), pane.results.ScoreRole)
             for i in range(pane.results.rowCount())]
    assert all(s > cut / 100 for s in shown)
    name = pane.results.data(pane.results.index(0), Qt.ItemDataRole.DisplayRole)
    path = pane.results.data(pane.results.index(0), pane.results.PathRole)
    assert name.splitlines()[0] == os.path.basename(path), "the file name is under the thumbnail"


def test_the_query_picture_shows_and_space_previews_a_result(qtbot, images):  # noqa: F811
    pane, lib = images
    target = lib["green circle"][0]
    with qtbot.waitSignal(pane.results_ready, timeout=30000):
        assert drop_files(pane, [target])
    qtbot.waitUntil(lambda: pane.query_picture.isVisible())  # its thumbnail is made off the GUI thread
    assert not pane.query_picture.pixmap().isNull() and pane.query_picture.pixmap().width() <= 96
    pane.grid.setFocus()
    pane.grid.setCurrentIndex(pane.results.index(0))
    qtbot.keyClick(pane.grid, Qt.Key.Key_Space)
    qtbot.waitUntil(lambda: getattr(pane, "_preview", None) is not None and pane._preview.isVisible())
    assert not pane._preview.picture.pixmap().isNull()
    pane.query.setText("a red star")
    with qtbot.waitSignal(pane.results_ready, timeout=30000):
        qtbot.mouseClick(pane.search_button, Qt.MouseButton.LeftButton)
    assert not pane.query_picture.isVisible(), "a text search shows no query picture"


def test_skipped_files_are_listed_with_their_reason(qtbot, clip_store, window, tmp_path):
    from tests.helpers import photo_library

    window.show_pane("images")
    pane = window.panes["images"]
    photo_library(tmp_path / "photos", per_class=1)
    (tmp_path / "photos" / "broken.jpg").write_bytes(b"\xff\xd8\xff\xe0 not really a jpeg")
    with qtbot.waitSignal(pane.index_finished, timeout=60000):
        assert drop_files(pane, [tmp_path / "photos"])
    qtbot.waitUntil(lambda: pane.skipped_button.isVisible(), timeout=10000)
    qtbot.mouseClick(pane.skipped_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: getattr(pane, "_skipped_dialog", None) is not None, timeout=10000)
    rows = [pane._skipped_dialog.list.item(i).text() for i in range(pane._skipped_dialog.list.count())]
    assert len(rows) == 1 and "broken.jpg — " in rows[0] and len(rows[0].split(" — ")[1]) > 3

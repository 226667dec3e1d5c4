import pytest
from PySide6.QtCore import Qt

from tests.helpers import drop_files, photo_library


@pytest.fixture
def images(qtbot, clip_store, window, tmp_path):
    window.show_pane("images")
    pane = window.panes["images"]
    assert pane.picker.current() == "tiny-clip"
    lib = photo_library(tmp_path / "photos", per_class=3)
    with qtbot.waitSignal(pane.index_finished, timeout=60000):
        assert drop_files(pane, [tmp_path / "photos"])  # dropping a folder adds it to the library
    assert pane.last_summary.embedded == 60
    qtbot.waitUntil(lambda: pane.folder_list.count() == 1 and "60 photos" in pane.folder_list.item(0).text())
    return pane, lib


def test_a_dropped_picture_runs_an_image_query_and_fills_the_grid(qtbot, images):
    pane, lib = images
    target = lib["green circle"][1]
    with qtbot.waitSignal(pane.results_ready, timeout=30000) as blocker:
        assert drop_files(pane, [target])
    assert blocker.args[0] == 60
    first = pane.results.index(0)
    assert pane.results.data(first, pane.results.PathRole) == str(target)
    top3 = {pane.results.data(pane.results.index(i), pane.results.PathRole) for i in range(3)}
    assert len(top3 & {str(p) for p in lib["green circle"]}) >= 2
    qtbot.waitUntil(lambda: pane.results.data(first, Qt.ItemDataRole.DecorationRole) is not None, timeout=10000)


def test_typing_a_query_and_the_threshold(qtbot, images):
    pane, lib = images
    pane.query.setFocus()
    qtbot.keyClicks(pane.query, "a red star")
    with qtbot.waitSignal(pane.results_ready, timeout=30000):
        qtbot.keyClick(pane.query, Qt.Key.Key_Return)
    paths = [pane.results.data(pane.results.index(i), pane.results.PathRole) for i in range(3)]
    assert sum(p in {str(x) for x in lib["red star"]} for p in paths) >= 2
    scores = [pane.results.data(pane.results.index(i), pane.results.ScoreRole) for i in range(pane.results.rowCount())]
    assert scores == sorted(scores, reverse=True)
    pane.threshold.setValue(int(scores[2] * 100) + 1)
    with qtbot.waitSignal(pane.results_ready, timeout=30000) as blocker:
        qtbot.mouseClick(pane.search_button, Qt.MouseButton.LeftButton)
    assert 0 < blocker.args[0] < len(scores)

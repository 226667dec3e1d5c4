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
    assert len(pane.all_hits) == 60 and 0 < blocker.args[0] <= 60  # at or below zero is no match (#14)
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


def _empty(folder):
    for p in sorted(folder.rglob("*"), reverse=True):
        p.unlink() if p.is_file() else p.rmdir()


def test_an_emptied_folder_is_kept_until_the_user_confirms_removal(qtbot, images, tmp_path):
    pane, _lib = images
    _empty(tmp_path / "photos")  # a drive's mount point, left empty
    with qtbot.waitSignal(pane.index_finished, timeout=60000):
        qtbot.mouseClick(pane.index_button, Qt.MouseButton.LeftButton)
    assert pane.last_summary.removed == 0 and pane.last_summary.emptied_folders
    qtbot.waitUntil(lambda: pane.removal_question.isVisible())
    qtbot.waitUntil(lambda: "offline (kept)" in pane.folder_list.item(0).text())
    buttons = {b.text(): b for b in pane.removal_question.buttons()}
    qtbot.mouseClick(buttons["Remove entries"], Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: "Removed 60 missing pictures" in pane.index_status.text(), timeout=10000)
    qtbot.waitUntil(lambda: "0 photos" in pane.folder_list.item(0).text()
                    and "offline" not in pane.folder_list.item(0).text())


def test_a_damaged_index_is_explained_and_rebuilt_on_request(qtbot, clip_store, open_window, tmp_path):
    from app.core.images.index import default_path

    path = default_path()
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(b"scrambled by a bad disk " * 300)
    win = open_window()
    try:
        win.show_pane("images")
        pane = win.panes["images"]
        qtbot.waitUntil(lambda: getattr(pane, "rebuild_question", None) is not None
                        and pane.rebuild_question.isVisible(), timeout=20000)
        assert "photo index" in pane.rebuild_question.text() and "damaged" in pane.rebuild_question.text()
        buttons = {b.text(): b for b in pane.rebuild_question.buttons()}
        with qtbot.waitSignal(pane.index_finished, timeout=60000):
            qtbot.mouseClick(buttons["Rebuild"], Qt.MouseButton.LeftButton)
        aside = list(path.parent.glob("images.sqlite3.damaged-*"))
        assert len(aside) == 1 and aside[0].read_bytes() == b"scrambled by a bad disk " * 300
        photo_library(tmp_path / "photos", per_class=1)
        with qtbot.waitSignal(pane.index_finished, timeout=60000):
            assert drop_files(pane, [tmp_path / "photos"])
        assert pane.last_summary.embedded == 20, "the new index works"
    finally:
        win.stop_workers()

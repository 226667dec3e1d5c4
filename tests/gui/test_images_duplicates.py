import os

import pytest
from PySide6.QtCore import Qt

from app.core.images.index import ImageIndex
from tests.dupe_scenes import write_distinct, write_set
from tests.helpers import drop_files


@pytest.fixture
def duplicates(qtbot, clip_store, window, tmp_path, trash_folder):
    window.show_pane("images")
    pane = window.panes["images"]
    shots = write_set(tmp_path / "photos", ("green", "circle"), 7)
    others = write_distinct(tmp_path / "photos", ("green", "circle"), range(50, 53))
    with qtbot.waitSignal(pane.index_finished, timeout=120000):
        assert drop_files(pane, [tmp_path / "photos"])
    assert pane.last_summary.embedded == len(shots) + len(others)
    with qtbot.waitSignal(pane.duplicates_shown, timeout=30000):
        qtbot.mouseClick(pane.duplicates_button, Qt.MouseButton.LeftButton)
    dialog = pane.duplicates_dialog
    qtbot.waitUntil(dialog.isVisible)
    return pane, dialog, shots, trash_folder


def _indexed() -> set[str]:
    index = ImageIndex()
    try:
        return {r[0] for r in index.db.execute("SELECT path FROM files")}
    finally:
        index.close()


def _confirm_box(qtbot, dialog):
    qtbot.mouseClick(dialog.remove_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: dialog.confirmation is not None and dialog.confirmation.isVisible())
    return {b.text().replace("&", ""): b for b in dialog.confirmation.buttons()}


def test_the_dialog_marks_the_keeper_and_confirmed_removal_goes_to_the_trash(qtbot, duplicates):
    pane, dialog, shots, trash = duplicates
    head = dialog.tree.topLevelItem(0)
    assert dialog.tree.topLevelItemCount() == 1 and head.childCount() == len(shots)
    keeper = head.child(0)
    assert keeper.data(0, Qt.ItemDataRole.UserRole) == str(shots["original"])
    assert keeper.text(2) == "keep (suggested)" and "MP" in keeper.text(1)
    # the user keeps the re-encoded copy too: untick it
    kept = next(head.child(i) for i in range(head.childCount())
                if head.child(i).data(0, Qt.ItemDataRole.UserRole) == str(shots["reencoded"]))
    kept.setCheckState(0, Qt.CheckState.Unchecked)
    going = sorted(dialog.chosen())
    assert going == sorted(str(p) for n, p in shots.items() if n not in ("original", "reencoded"))
    qtbot.waitUntil(lambda: keeper.icon(0).isNull() is False, timeout=10000)  # thumbnails arrive
    buttons = _confirm_box(qtbot, dialog)
    with qtbot.waitSignal(pane.duplicates_removed, timeout=30000) as blocker:
        qtbot.mouseClick(buttons["Move to trash"], Qt.MouseButton.LeftButton)
    assert sorted(blocker.args[0].removed) == going and not blocker.args[0].failed
    assert sorted(os.listdir(trash)) == sorted(os.path.basename(p) for p in going)
    assert not any(os.path.exists(p) for p in going)
    assert shots["original"].exists() and shots["reencoded"].exists()
    assert not set(going) & _indexed() and {str(shots["original"]), str(shots["reencoded"])} <= _indexed()
    assert head.childCount() == 2 and "Moved 5 pictures" in dialog.summary.text()


def test_a_cancelled_confirmation_changes_nothing(qtbot, duplicates):
    pane, dialog, shots, trash = duplicates
    before = _indexed()
    chosen = dialog.chosen()
    assert len(chosen) == len(shots) - 1
    buttons = _confirm_box(qtbot, dialog)
    qtbot.mouseClick(buttons["Cancel"], Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: not dialog.confirmation.isVisible())
    # the worker is serial: a removal sent on cancel would have run before this second search
    dialog.close()
    with qtbot.waitSignal(pane.duplicates_shown, timeout=30000) as blocker:
        qtbot.mouseClick(pane.duplicates_button, Qt.MouseButton.LeftButton)
    again = blocker.args[0]
    assert sorted(again.chosen()) == sorted(chosen)
    assert all(os.path.exists(p) for p in shots.values()) and not trash.exists()
    assert _indexed() == before
    again.close()

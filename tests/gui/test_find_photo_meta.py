"""The Ctrl+K box's photo rows say when and where each photo was taken (issue 28): a real tiny-CLIP index
of photos made with EXIF dates and GPS by Pillow, searched by typing in the real box."""

from __future__ import annotations

import os

from PySide6.QtCore import Qt

from app.core.find import FindResult, Hit, Location
from app.gui.find.box import FindBox
from tests.helpers import drop_files
from tests.photo_exif import SHOTS, dated_photos


def _ctrl_k(qtbot, window) -> FindBox:
    window.activateWindow()
    qtbot.waitUntil(window.isActiveWindow, timeout=5000)
    qtbot.keyClick(window.focusWidget() or window, Qt.Key.Key_K, Qt.KeyboardModifier.ControlModifier)
    qtbot.waitUntil(lambda: window.find_box is not None and window.find_box.isVisible(), timeout=5000)
    return window.find_box


def _type(qtbot, box: FindBox, text: str) -> None:
    box.edit.selectAll()
    with qtbot.waitSignal(box.results_shown, timeout=120_000):
        qtbot.keyClicks(box.edit, text)


def _photo_rows(box: FindBox) -> dict:
    """File name -> the list item of each photo hit shown."""
    rows = {}
    for i in range(box.results.count()):
        hit = box.results.item(i).data(Qt.ItemDataRole.UserRole)
        if isinstance(hit, Hit) and hit.kind == "photo":
            rows[os.path.basename(hit.path)] = box.results.item(i)
    return rows


def test_a_photo_row_says_when_and_where_it_was_taken(qtbot, clip_store, window, tmp_path):
    window.show_pane("images")
    pane = window.panes["images"]
    dated_photos(tmp_path / "photos")
    with qtbot.waitSignal(pane.index_finished, timeout=60000):
        assert drop_files(pane, [tmp_path / "photos"])
    assert pane.last_summary.embedded == len(SHOTS)

    box = _ctrl_k(qtbot, window)
    _type(qtbot, box, "Lisbon 2023")  # the words are filters, as in the Images pane: one photo
    rows = _photo_rows(box)
    assert list(rows) == ["lisbon-aug-2023.jpg"], box.status.text()
    row = rows["lisbon-aug-2023.jpg"]
    assert row.data(Qt.ItemDataRole.UserRole).location.taken_source == "exif"
    assert "15 Aug 2023" in row.text() and "Lisbon, Portugal" in row.text()
    assert "\n" not in row.text() and "file" not in row.text()  # one line; a date from EXIF is not marked
    said = row.data(Qt.ItemDataRole.AccessibleTextRole)
    assert "lisbon-aug-2023.jpg" in said and "15 August 2023" in said and "Lisbon, Portugal" in said
    assert "15 August 2023" in row.toolTip() and "Lisbon, Portugal" in row.toolTip()

    _type(qtbot, box, "2020")  # only the two without EXIF: their file's time, 15 January 2020
    rows = _photo_rows(box)
    assert set(rows) == {"no-exif.jpg", "no-exif.png"}, box.status.text()
    for name, row in rows.items():
        assert row.data(Qt.ItemDataRole.UserRole).location.taken_source == "file"
        assert "15 Jan 2020 (file date)" in row.text(), (name, row.text())
        assert "file's time" in row.toolTip() and "file's time" in row.data(Qt.ItemDataRole.AccessibleTextRole)
    qtbot.keyClick(box.edit, Qt.Key.Key_Escape)


def test_a_long_place_is_elided_on_the_row_and_whole_in_its_tooltip(qtbot):
    box = FindBox(worker=None)
    qtbot.addWidget(box)
    box.resize(640, 460)
    box.show()
    place = "Llanfairpwllgwyngyllgogerychwyrndrobwllllantysiliogogogoch, Wales, United Kingdom"
    hit = Hit("photo", "IMG_0001.jpg", "/photos/IMG_0001.jpg",
              Location(taken="2024-07-14T16:02:11+02:00", taken_source="exif", place=place), "", 0.3)
    box._arrived(box._generation, FindResult([hit]))
    row = box.results.item(1)
    assert row.data(Qt.ItemDataRole.UserRole) == hit
    assert "14 Jul 2024" in row.text() and "…" in row.text() and place not in row.text()
    assert "\n" not in row.text()
    line = box.results.fontMetrics().lineSpacing()
    assert box.results.visualItemRect(row).height() < 2 * line, "the row wraps onto a second line"
    assert place in row.toolTip() and place in row.data(Qt.ItemDataRole.AccessibleTextRole)

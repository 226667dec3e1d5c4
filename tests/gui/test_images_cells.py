"""The Images pane's results say when and where each photo was taken (issue 28): under its thumbnail the
short date and the place, cut to the cell; in its tooltip, accessible name and preview the whole sentence.
A real tiny-CLIP index of photos made with EXIF dates and GPS by Pillow, searched in the real pane; and a
chat's citation of one of them, which opens it with its date and place."""

import os
import re

import pytest
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QApplication, QStyleOptionViewItem

from app.core.chat.history import ChatHistory
from app.core.images.index import Hit
from app.gui.images.results import THUMB
from tests.helpers import drop_files
from tests.photo_exif import SHOTS, dated_photos

LISBON_WORDS = "Taken 15 August 2023 at 10:00, in Lisbon, Portugal"


@pytest.fixture
def pane(qtbot, clip_store, window, tmp_path):
    window.show_pane("images")
    pane = window.panes["images"]
    dated_photos(tmp_path / "photos")
    with qtbot.waitSignal(pane.index_finished, timeout=60000):
        assert drop_files(pane, [tmp_path / "photos"])
    assert pane.last_summary.embedded == len(SHOTS)
    return pane


def _search(qtbot, pane, words: str) -> int:
    pane.query.setText(words)
    with qtbot.waitSignal(pane.results_ready, timeout=30000) as blocker:
        qtbot.keyClick(pane.query, Qt.Key.Key_Return)
    QApplication.processEvents()
    return blocker.args[0]


def _cells(pane) -> dict:
    """File name -> (the lines painted under its thumbnail, tooltip, accessible name, the cell's rect)."""
    m, grid = pane.results, pane.grid
    out = {}
    for i in range(m.rowCount()):
        index = m.index(i)
        option = QStyleOptionViewItem()
        option.initFrom(grid)
        option.widget = grid
        option.rect = grid.visualRect(index)
        grid.itemDelegate().initStyleOption(option, index)
        name = os.path.basename(m.data(index, m.PathRole))
        out[name] = (option.text.replace("\u2028", "\n").split("\n"), m.data(index, Qt.ItemDataRole.ToolTipRole),
                     m.data(index, Qt.ItemDataRole.AccessibleTextRole), grid.visualRect(index))
    return out


def _fits(pane, lines, rect) -> bool:
    """Each line within the cell's width, and all of them under the thumbnail within its height."""
    metrics = pane.grid.fontMetrics()
    wide = all(metrics.horizontalAdvance(line) <= rect.width() for line in lines)
    return wide and THUMB + len(lines) * metrics.lineSpacing() <= rect.height()


def test_each_cell_shows_its_photos_date_and_place_and_says_them_whole(qtbot, pane):
    assert _search(qtbot, pane, "2023") == 4
    cells = _cells(pane)
    assert set(cells) == {"lisbon-aug-2023.jpg", "porto-jul-2023.jpg", "tokyo-mar-2023.jpg", "no-gps-aug-2023.jpg"}
    lines, tip, said, rect = cells["lisbon-aug-2023.jpg"]
    assert lines[:3] == ["lisbon-aug-2023.jpg", "15 Aug 2023", "Lisbon, Portugal"], lines
    assert _fits(pane, lines, rect), (lines, rect)
    assert LISBON_WORDS in tip and LISBON_WORDS in said and "lisbon-aug-2023.jpg" in said
    lines, tip, said, rect = cells["porto-jul-2023.jpg"]
    assert lines[1:3] == ["2 Jul 2023", "Porto, Portugal"] and "Taken 2 July 2023 at 18:30, in Porto" in tip
    lines, tip, said, rect = cells["no-gps-aug-2023.jpg"]
    assert lines == ["no-gps-aug-2023.jpg", "1 Aug 2023"], "no place line without GPS (nor a score: a browse)"
    assert tip.endswith("Taken 1 August 2023 at 00:00") and ", in " not in said
    assert all(r.size() == rect.size() for *_, r in cells.values()), "one cell size: the grid stays a grid"

    # Without EXIF: the file's time, marked so, the whole date kept in the cell.
    assert _search(qtbot, pane, "2020") == 2
    cells = _cells(pane)
    for name in ("no-exif.jpg", "no-exif.png"):
        lines, tip, said, rect = cells[name]
        assert lines[1] == "15 Jan 2020 (file date)", lines
        assert _fits(pane, lines, rect), (lines, rect)
        assert "Dated 15 January 2020" in tip and "file's time" in tip and "file's time" in said

    # Space previews the selected result, with its date and place under it.
    assert _search(qtbot, pane, "Lisbon 2023") == 1
    pane.grid.setCurrentIndex(pane.results.index(0))
    pane.grid.setFocus()
    qtbot.keyClick(pane.grid, Qt.Key.Key_Space)
    qtbot.waitUntil(lambda: getattr(pane, "_preview", None) is not None and pane._preview.isVisible())
    assert pane._preview.details.isVisible() and pane._preview.details.text() == LISBON_WORDS
    assert LISBON_WORDS in pane._preview.picture.accessibleName()
    pane._preview.close()


def test_a_long_place_and_name_are_cut_in_the_cell_and_whole_in_the_tooltip(qtbot, pane):
    place = "Llanfairpwllgwyngyllgogerychwyrndrobwllllantysiliogogogoch, Wales, United Kingdom"
    long_name = "/photos/" + "a-very-long-holiday-picture-name-" * 3 + "end.jpg"
    pane._show_results([Hit(long_name, 0.5, taken="2024-07-14T16:02:11+02:00", taken_source="exif", place=place)])
    QApplication.processEvents()
    lines, tip, said, rect = _cells(pane)[os.path.basename(long_name)]
    assert lines[0].startswith("a-very") and lines[0].endswith("end.jpg") and "…" in lines[0]
    assert lines[1] == "14 Jul 2024" and lines[2].startswith("Llanfair") and lines[2].endswith("…")
    assert _fits(pane, lines, rect), (lines, rect)
    assert f"Taken 14 July 2024 at 16:02, in {place}" in tip and place in said


def test_a_cited_photo_shows_and_opens_with_its_date_and_place(qtbot, pane, window):
    from app.core.find import find

    found = find("Lisbon 2023", kinds=["photo"], limit=3)  # as the ask loop's search_photos finds it
    assert [h.title for h in found.hits] == ["lisbon-aug-2023.jpg"]
    cited = found.hits[0].to_json()
    h = ChatHistory()
    c = h.create("Holidays")
    h.add_message(c.id, "user", "Which photo is from Lisbon?")
    reply = h.start_reply(c.id)
    h.add_step(reply.id, {"tool": "search_photos", "arguments": {"query": "Lisbon 2023"}, "results": [cited],
                          "error": None, "summary": "Searched photos for 'Lisbon 2023': 1 found"})
    h.set_citations(reply.id, [{"number": 1, "step": 0, **cited}])
    h.finish_reply(reply.id, "This one [1].", {"model": "gemma", "stop_reason": "answered"})
    h.close()
    chat = window.panes["chat"]
    window.show_pane("chat")
    chat.open_conversation(c.id)
    answer = chat.view.widgets[-1]
    button = answer.sources.buttons[0]
    assert "15 August 2023" in button.toolTip() and "Lisbon, Portugal" in button.toolTip()
    assert LISBON_WORDS in button.accessibleName()
    thumb = answer.steps_view.rows[0].thumbs[cited["path"]]
    assert "Lisbon, Portugal" in thumb.toolTip() and LISBON_WORDS in thumb.accessibleName()

    pane._preview = None
    qtbot.mouseClick(button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: getattr(pane, "_preview", None) is not None and pane._preview.isVisible())
    assert window.current_pane() == "images"
    assert pane._preview.details.text() == LISBON_WORDS, "the citation kept the photo's date and place"
    pane._preview.close()


def _score_line(line: str) -> bool:
    return re.fullmatch(r"-?\d\.\d\d( +offline)?", line) is not None


def test_a_browse_by_date_shows_no_similarity_and_a_search_by_a_picture_does(qtbot, pane, tmp_path):
    # "2023" has no words left once its date is taken out: every photo of 2023, listed, not ranked.
    assert _search(qtbot, pane, "2023") == 4
    for name, (lines, tip, said, _rect) in _cells(pane).items():
        assert not any(_score_line(line) for line in lines), (name, lines)
        assert "1.00" not in tip and "1.00" not in said and "Similarity" not in said, (name, tip, said)
    pane.threshold.setFocus()
    qtbot.keyClick(pane.threshold, Qt.Key.Key_End)  # the slider at its most: a browse has no likeness to cut
    assert pane.threshold.value() == pane.threshold.maximum()
    assert pane.results.rowCount() == 4 and pane.message.text() == "4 results."

    # The same date, searched by one of its photos: ranked by likeness, each score shown.
    qtbot.keyClick(pane.threshold, Qt.Key.Key_Home)
    with qtbot.waitSignal(pane.results_ready, timeout=30000) as blocker:
        pane.search(images=[str(tmp_path / "photos" / "lisbon-aug-2023.jpg")])
    assert blocker.args[0] >= 1
    cells = _cells(pane)
    assert _score_line(cells["lisbon-aug-2023.jpg"][0][-1]), "the picture itself, scored"
    for name, (lines, _tip, said, _rect) in cells.items():
        assert _score_line(lines[-1]) and "Similarity " in said, (name, lines, said)

"""The Images pane's date range, place field and timeline (issue 28), driven through its real widgets
on photos made with EXIF dates and GPS."""

import os

import pytest
from PySide6.QtCore import QDate, Qt

from tests.helpers import drop_files
from tests.photo_exif import SHOTS, dated_photos


@pytest.fixture
def pane(qtbot, clip_store, window, tmp_path):
    window.show_pane("images")
    pane = window.panes["images"]
    dated_photos(tmp_path / "photos")
    with qtbot.waitSignal(pane.index_finished, timeout=60000):
        assert drop_files(pane, [tmp_path / "photos"])
    assert pane.last_summary.embedded == len(SHOTS)
    return pane


def _shown(pane) -> list:
    """The grid's rows: a month's name as text, a photo as its file name."""
    m = pane.results
    rows = []
    for i in range(m.rowCount()):
        header = m.data(m.index(i), m.HeaderRole)
        rows.append(header if header else os.path.basename(m.data(m.index(i), m.PathRole)))
    return rows


def _search(qtbot, pane, enter_in=None):
    with qtbot.waitSignal(pane.results_ready, timeout=30000) as blocker:
        qtbot.keyClick(enter_in or pane.query, Qt.Key.Key_Return)
    return blocker.args[0]


def test_the_date_range_and_the_place_field_narrow_the_results_exactly(qtbot, pane):
    bar = pane.filter_bar
    assert not bar.after.isEnabled()
    qtbot.mouseClick(bar.when, Qt.MouseButton.LeftButton)
    assert bar.after.isEnabled() and bar.before.isEnabled()
    bar.after.setDate(QDate(2023, 8, 1))
    bar.before.setDate(QDate(2023, 8, 31))
    assert _search(qtbot, pane) == 2
    assert set(_shown(pane)) == {"lisbon-aug-2023.jpg", "no-gps-aug-2023.jpg"}

    bar.before.setDate(QDate(2023, 12, 31))
    bar.after.setDate(QDate(2021, 1, 1))
    qtbot.keyClicks(bar.place, "PORTUGAL")
    assert _search(qtbot, pane, bar.place) == 3
    assert set(_shown(pane)) == {"lisbon-aug-2023.jpg", "porto-jul-2023.jpg", "lisbon-dec-2021.jpg"}

    qtbot.mouseClick(bar.when, Qt.MouseButton.LeftButton)  # any time again
    bar.place.clear()
    qtbot.keyClicks(bar.place, "Japan")
    assert _search(qtbot, pane, bar.place) == 1 and _shown(pane) == ["tokyo-mar-2023.jpg"]

    bar.place.clear()
    qtbot.keyClicks(pane.query, "Lisbon 2021")  # the words on the query line filter too
    assert _search(qtbot, pane) == 1 and _shown(pane) == ["lisbon-dec-2021.jpg"]

    pane.query.clear()
    qtbot.keyClicks(pane.query, "x")
    bar.place.setText("Atlantis")  # no photo there: nothing, said so
    assert _search(qtbot, pane) == 0 and "No matches" in pane.message.text()


def test_the_timeline_groups_the_results_under_their_months(qtbot, pane):
    bar = pane.filter_bar
    qtbot.keyClicks(pane.query, "2023")
    assert _search(qtbot, pane) == 4
    qtbot.mouseClick(bar.timeline, Qt.MouseButton.LeftButton)
    assert _shown(pane) == ["August 2023", "lisbon-aug-2023.jpg", "no-gps-aug-2023.jpg", "July 2023",
                            "porto-jul-2023.jpg", "March 2023", "tokyo-mar-2023.jpg"]
    header = pane.results.index(0)
    assert not pane.results.flags(header) & Qt.ItemFlag.ItemIsSelectable
    # A header spans the row: the month's first photo starts the next one.
    qtbot.waitUntil(lambda: pane.grid.visualRect(pane.results.index(1)).top()
                    > pane.grid.visualRect(header).top())
    assert pane.grid.visualRect(header).width() > pane.grid.visualRect(pane.results.index(1)).width() * 2
    qtbot.mouseClick(bar.timeline, Qt.MouseButton.LeftButton)
    assert "August 2023" not in _shown(pane) and len(_shown(pane)) == 4


def test_the_window_server_filters_on_the_pane_s_index(qtbot, pane):
    """The Server switch answers /v1/images/search on the Images pane's own worker and index, filters too."""
    import http.client
    import json
    import threading

    switch = pane.window().server_switch
    switch.port = 0
    qtbot.mouseClick(switch.switch, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: switch.address.text().startswith("http://127.0.0.1:"), timeout=30000)
    answer: dict = {}

    def ask() -> None:  # off the GUI thread, which the pane's worker answers through
        conn = http.client.HTTPConnection("127.0.0.1", switch.server.port, timeout=120)
        body = {"model": "tiny-clip", "query": "a shape", "top": 50, "after": "2023-07", "place": "Portugal"}
        conn.request("POST", "/v1/images/search", json.dumps(body), {"Content-Type": "application/json"})
        resp = conn.getresponse()
        answer["status"], answer["body"] = resp.status, json.loads(resp.read())
        conn.close()

    t = threading.Thread(target=ask)
    t.start()
    qtbot.waitUntil(lambda: "status" in answer, timeout=120000)
    t.join()
    assert answer["status"] == 200, answer["body"]
    got = {os.path.basename(h["path"]): h["place"] for h in answer["body"]["data"]}
    assert got == {"lisbon-aug-2023.jpg": "Lisbon, Portugal", "porto-jul-2023.jpg": "Porto, Portugal"}
    qtbot.mouseClick(switch.switch, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: switch.address.text() == "", timeout=30000)

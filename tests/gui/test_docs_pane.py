"""The Documents pane, driven through its real widgets with the starter all-MiniLM-L6-v2 and real files:
a folder dropped and indexed, a question in other words, the watched folder's edits and deletions, the
skipped files with their reasons, the empty states, and the URL a hit opens."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from PySide6.QtCore import Qt

from tests.helpers import drop_files

DOCS = {
    "cats.txt": "Adult cats should be fed twice a day, once in the morning and once in the evening. "
                "Young kittens need three or four small meals spread through the day.",
    "bikes.md": "# Bicycle care\n\nOil the chain every month and check the tyre pressure before each ride. "
                "Replace worn brake pads early.",
    "bread.html": "<html><body><h1>Sourdough</h1><p>Mix flour, water and starter, let the dough rise overnight, "
                  "then bake it in a hot oven for forty minutes.</p></body></html>",
    "taxes.txt": "Submit the annual income tax return before the end of April. Keep receipts for deductions "
                 "for at least six years.",
    "empty.txt": "",
}


def _library(folder: Path) -> Path:
    folder.mkdir(parents=True)
    for name, text in DOCS.items():
        (folder / name).write_text(text, encoding="utf-8")
    return folder


def _hits(pane) -> list:
    from app.gui.docs.hits import HIT_ROLE

    return [pane.hits.item(i).data(HIT_ROLE) for i in range(pane.hits.count())]


def _ask(qtbot, pane, text: str) -> list:
    """Types a query as a user does (no Enter: the pause in typing starts the search)."""
    pane.query.clear()
    pane.query.setFocus()
    with qtbot.waitSignal(pane.results_ready, timeout=60000):
        qtbot.keyClicks(pane.query, text)
    return _hits(pane)


@pytest.fixture
def docs(qtbot, starter_store, window, tmp_path):
    window.show_pane("documents")
    pane = window.panes["documents"]
    assert pane.picker.current() == "all-minilm-l6-v2"
    qtbot.waitUntil(lambda: pane.stack.currentWidget() is pane.empty)
    folder = _library(tmp_path / "notes")
    with qtbot.waitSignal(pane.index_finished, timeout=120000):
        assert drop_files(pane, [folder])  # dropping a folder adds it and indexes it
    assert pane.last_summary.indexed == 4
    qtbot.waitUntil(lambda: pane.folder_list.count() == 1 and "4 files" in pane.folder_list.item(0).text())
    assert pane.stack.currentWidget() is pane.search_page
    qtbot.waitUntil(lambda: len(pane.watcher.files()) == 5)  # each document, for edits in place
    return pane, folder


@pytest.mark.slow
def test_a_dropped_folder_is_indexed_and_a_question_in_other_words_finds_its_file_first(qtbot, docs):
    pane, folder = docs
    hits = _ask(qtbot, pane, "how often should I give my kitten food")
    assert Path(hits[0].path).name == "cats.txt"
    hits = _ask(qtbot, pane, "how do I make a loaf at home")
    assert Path(hits[0].path).name == "bread.html" and hits[0].heading == "Sourdough"
    item = pane.hits.item(0)
    assert "bread.html — Sourdough" in item.text()
    # The query's words are emphasised in the snippet; the score is shown.
    hits = _ask(qtbot, pane, "tyre pressure")
    from app.gui.docs.hits import HTML_ROLE

    html = pane.hits.item(0).data(HTML_ROLE)
    assert Path(hits[0].path).name == "bikes.md"
    assert "<u>tyre</u>" in html and "<u>pressure</u>" in html and "score " in html
    # The empty file is listed with its reason, on the pane, not in a log.
    assert pane.skipped_list.isVisible() and pane.skipped_list.count() == 1
    assert pane.skipped_list.item(0).text() == "empty.txt — empty file"
    assert "1 skipped" in pane.folder_list.item(0).text()


def _names(pane) -> list[str]:
    return [Path(h.path).name for h in _hits(pane)]


@pytest.mark.slow
def test_watched_edits_additions_and_deletions_keep_search_current(qtbot, docs):
    pane, folder = docs
    summaries = []
    pane.index_finished.connect(summaries.append)
    assert "gearbox" not in " ".join(h.text for h in _ask(qtbot, pane, "gearbox"))
    # An edit in place: only the file's own watch sees it. Only that file is read again, and the open
    # search is run again, so the new words are found without typing.
    (folder / "taxes.txt").write_text("Change the gearbox oil of the tractor every spring.", encoding="utf-8")
    qtbot.waitUntil(lambda: _names(pane)[:1] == ["taxes.txt"] and "gearbox" in _hits(pane)[0].text, timeout=60000)
    qtbot.waitUntil(lambda: any(s is not None and s.indexed == 1 and s.unchanged == 4 for s in summaries))
    # A new file in a new sub-folder, then its deletion.
    (folder / "sub").mkdir()
    (folder / "sub" / "boat.txt").write_text("The sailing boat needs new ropes and a fresh coat of varnish.")
    pane.query.setText("varnish for the sailing boat")
    qtbot.waitUntil(lambda: _names(pane)[:1] == ["boat.txt"], timeout=60000)
    qtbot.waitUntil(lambda: str(folder / "sub") in pane.watcher.directories(), timeout=60000)
    os.remove(folder / "sub" / "boat.txt")
    qtbot.waitUntil(lambda: _hits(pane) and "boat.txt" not in _names(pane), timeout=60000)
    qtbot.waitUntil(lambda: "4 files" in pane.folder_list.item(0).text())
    # A rename: the new name is found, the old one is gone.
    pane.query.setText("feeding kittens")
    qtbot.waitUntil(lambda: _names(pane)[:1] == ["cats.txt"], timeout=60000)
    os.rename(folder / "cats.txt", folder / "pets.txt")
    qtbot.waitUntil(lambda: _names(pane)[:1] == ["pets.txt"] and "cats.txt" not in _names(pane), timeout=60000)


@pytest.mark.slow
def test_indexing_shows_its_progress_and_cancel_keeps_what_was_done(qtbot, starter_store, window, tmp_path):
    window.show_pane("documents")
    pane = window.panes["documents"]
    folder = tmp_path / "many"
    folder.mkdir()
    for i in range(300):
        (folder / f"note{i:03}.txt").write_text(f"Note {i}: the delivery of crate {i} is due on day {i % 28 + 1}.")
    seen = []

    def on_progress(p):
        seen.append(pane.index_status.text())
        if len(seen) == 1:
            qtbot.mouseClick(pane.cancel_button, Qt.MouseButton.LeftButton)

    with qtbot.waitSignal(pane.index_finished, timeout=120000) as finished:
        assert drop_files(pane, [folder / "note007.txt"])  # a dropped file adds the folder it is in
        pane.index_job.progress.connect(on_progress)
    assert finished.args == [None] and "Cancelled" in pane.index_status.text()
    assert " of 300 files" in seen[0] and "Read note" in seen[0]
    assert pane.index_button.isEnabled() and not pane.cancel_button.isEnabled()
    done = int(pane.folder_list.item(0).text().split("\n")[1].split()[0])
    assert 0 < done < 300  # what was indexed is kept
    pane.folder_list.setCurrentRow(0)
    qtbot.mouseClick(pane.remove_folder, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: pane.folder_list.count() == 0 and pane.empty.isVisible())
    assert not pane.watcher.directories() and not pane.watcher.files()


def test_without_an_embedding_model_the_pane_says_which_to_get_and_opens_models(qtbot, window):
    window.show_pane("documents")
    pane = window.panes["documents"]
    assert pane.picker.current() is None
    assert pane.stack.currentWidget() is pane.no_model and pane.no_model.isVisible()
    assert "all-MiniLM-L6-v2" in pane.no_model.label.text()
    qtbot.mouseClick(pane.no_model.button, Qt.MouseButton.LeftButton)
    assert window.current_pane() == "models"


def test_with_a_model_and_no_folders_the_pane_asks_for_one(qtbot, starter_store, window):
    window.show_pane("documents")
    pane = window.panes["documents"]
    qtbot.waitUntil(lambda: pane.stack.currentWidget() is pane.empty)
    assert pane.empty.isVisible() and pane.empty.label.text() == "Drop a folder of documents here or Add folder…"
    assert not pane.search_page.isVisible()


def test_a_hit_opens_its_file_and_a_pdf_at_its_page():
    from app.gui.docs.opener import document_url

    url = document_url("/home/me/manual.pdf", 7)
    assert url.isLocalFile() and url.toLocalFile() == "/home/me/manual.pdf" and url.fragment() == "page=7"
    assert url.toString() == "file:///home/me/manual.pdf#page=7"
    assert document_url("/home/me/Notes.PDF", 2).fragment() == "page=2"
    assert not document_url("/home/me/manual.pdf", None).hasFragment()
    assert not document_url("/home/me/notes.md", 3).hasFragment()  # a page means nothing to a text file
    odd = document_url("/home/me/a #1 ?.txt")
    assert odd.toLocalFile() == "/home/me/a #1 ?.txt" and not odd.hasFragment()

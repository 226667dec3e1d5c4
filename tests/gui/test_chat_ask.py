"""Ask Hearth in the Chat pane (#26): step rows inside the assistant's message, citations that open what
they cite, and the "Use my library" switch."""

import pytest
from PySide6.QtCore import QObject, Qt, Slot
from PySide6.QtWidgets import QPushButton

from app.core.chat.history import ChatHistory
from tests.gui.test_chat_pane import _anchor_points
from tests.helpers import drop_files, photo_library


class _UrlOpener(QObject):
    def __init__(self):
        super().__init__()
        self.urls: list = []

    @Slot("QUrl")
    def open(self, url) -> None:
        self.urls.append(url)


def _stored_answer(tmp_path) -> tuple[int, dict]:
    """A chat whose answer has four steps and two citations, written through the history as the ask
    loop's turn writes them."""
    from tests.core.docs_files import pdf_bytes

    lib = photo_library(tmp_path / "photos", per_class=2)
    stars = lib["red star"] if "red star" in lib else next(iter(lib.values()))
    from app.core.images.index import ImageIndex, default_path

    index = ImageIndex(default_path())
    index.add_folder(tmp_path / "photos")  # the folder the user added: results in it open
    index.close()
    pdf = tmp_path / "photos" / "manual.pdf"
    pdf.write_bytes(pdf_bytes([["Contents"], ["Chapter one"], ["The kayak is stored in the boathouse."]]))
    outside = tmp_path / "outside.pdf"  # a file the user never added: an imported chat may name anything
    outside.write_bytes(pdf.read_bytes())
    photos = [{"kind": "photo", "title": p.name, "path": str(p), "score": 0.3, "text": ""} for p in stars]
    memo = {"kind": "transcript", "title": "Voice memo", "path": None, "text": "the red kayak leaks a little",
            "start": 65.0, "end": 70.0, "transcript_id": "0" * 32}
    page = {"kind": "document", "title": "manual.pdf", "path": str(pdf), "page": 3,
            "text": "The kayak is stored in the boathouse."}
    steps = [
        {"tool": "search_photos", "arguments": {"query": "red star"}, "results": photos, "error": None,
         "summary": "Searched photos for 'red star': 2 found"},
        {"tool": "search_recordings", "arguments": {"query": "kayak"}, "results": [memo], "error": None,
         "summary": "Searched recordings for 'kayak': 1 passage"},
        {"tool": "search_documents", "arguments": {"query": "kayak"}, "results": [page], "error": None,
         "summary": "Searched documents for 'kayak': 1 passage"},
        {"tool": "look_at_photos", "arguments": {"paths": [photos[0]["path"]], "question": "red?"}, "results": [],
         "error": "no model that sees pictures is loaded: choose a vision model to look at photos",
         "summary": "Could not look at photos: no vision model"},
    ]
    h = ChatHistory()
    c = h.create("Lake trip")
    h.add_message(c.id, "user", "Where is the red star, and where is the kayak kept?")
    reply = h.start_reply(c.id)
    for s in steps:
        h.add_step(reply.id, s)
    h.set_citations(reply.id, [{"number": 1, "step": 0, **photos[0]}, {"number": 2, "step": 2, **page},
                               {"number": 3, "step": 2, **page, "title": "outside.pdf", "path": str(outside)}])
    h.finish_reply(reply.id, "The star is in [1]; the kayak is in the boathouse [2], not [3]. `[1]` stays code.",
                   {"model": "gemma", "stop_reason": "answered"})
    h.close()
    return c.id, {"photos": photos, "memo": memo, "page": page}


def test_stored_steps_show_as_rows_and_citations_open_what_they_cite(qtbot, open_window, tmp_path):
    cid, found = _stored_answer(tmp_path)
    window = open_window()
    window.show_pane("chat")
    chat = window.panes["chat"]
    assert chat.conversation_id == cid
    answer = chat.view.widgets[-1]
    rows = answer.steps_view.rows
    assert [r.title for r in rows] == [
        "Searched photos for 'red star': 2 found", "Searched recordings for 'kayak': 1 passage",
        "Searched documents for 'kayak': 1 passage", "Could not look at photos: no vision model"]
    # The photos' thumbnails show in the folded row; the passages when it unfolds.
    assert list(rows[0].thumbs) == [p["path"] for p in found["photos"]]
    qtbot.waitUntil(lambda: all(not b.icon().isNull() for b in rows[0].thumbs.values()), timeout=10000)
    assert not rows[1].detail.isVisible()
    qtbot.mouseClick(rows[1].header, Qt.MouseButton.LeftButton)
    assert rows[1].detail.isVisible()
    card = rows[1].detail.findChildren(QPushButton)[0]
    assert card.text().startswith("1:05") and "leaks a little" in card.text()
    # A text-only model: the failed look names what would see.
    assert rows[3].note.isVisible() and "cannot see pictures" in rows[3].note.text()

    browser = answer.body.browsers()[0]
    links = dict(_anchor_points(browser))
    assert set(links) == {"cite:1", "cite:2", "cite:3"}, "each [n] is a link; the one in code is not"
    assert [b.text() for b in answer.sources.buttons] == ["[1] " + found["photos"][0]["title"],
                                                         "[2] manual.pdf, page 3", "[3] outside.pdf, page 3"]
    opener = _UrlOpener()
    from PySide6.QtGui import QDesktopServices

    QDesktopServices.setUrlHandler("file", opener, "open")
    try:
        qtbot.mouseClick(browser.viewport(), Qt.MouseButton.LeftButton, pos=links["cite:2"])
        qtbot.waitUntil(lambda: len(opener.urls) == 1, timeout=5000)
        qtbot.mouseClick(browser.viewport(), Qt.MouseButton.LeftButton, pos=links["cite:3"])
        qtbot.waitUntil(lambda: "outside the folders you added" in chat.notice.text(), timeout=5000)
        assert len(opener.urls) == 1, "the file outside was not opened"
    finally:
        QDesktopServices.unsetUrlHandler("file")
    assert (opener.urls[0].toLocalFile(), opener.urls[0].fragment()) == (found["page"]["path"], "page=3")

    qtbot.mouseClick(browser.viewport(), Qt.MouseButton.LeftButton, pos=links["cite:1"])
    images = window.panes["images"]
    qtbot.waitUntil(lambda: getattr(images, "_preview", None) is not None and images._preview.isVisible())
    assert window.current_pane() == "images"
    images._preview.close()
    window.show_pane("chat")
    # A result in a row opens too: the photo's thumbnail.
    qtbot.mouseClick(rows[0].thumbs[found["photos"][1]["path"]], Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: window.current_pane() == "images" and images._preview.isVisible())
    images._preview.close()


def test_thumbnails_are_read_only_for_photos_in_the_added_folders(qtbot, open_window, tmp_path):
    """A chat read back or imported may name any path in a step; opening one outside the user's folders
    was refused, but its thumbnail was read (and cached) all the same: any picture on the disk, a FIFO
    that held a reader thread. Now only a photo in the added folders gets a thumbnail."""
    import os
    import shutil

    from PySide6.QtCore import QCoreApplication, QThreadPool

    from app.gui.images.results import thumb_path

    cid, found = _stored_answer(tmp_path)
    inside = found["photos"][0]
    outside = tmp_path / "elsewhere" / "private.png"
    outside.parent.mkdir()
    shutil.copy(inside["path"], outside)
    fifo = tmp_path / "photos" / "pipe.png"
    os.mkfifo(fifo)
    named = [{"kind": "photo", "title": p.name, "path": str(p)} for p in (outside, fifo)] + [inside]
    h = ChatHistory()
    reply = h.start_reply(cid)
    h.add_step(reply.id, {"tool": "search_photos", "arguments": {"query": "x"}, "results": named,
                          "summary": "Searched photos for 'x': 3 found"})
    h.finish_reply(reply.id, "Here.", {"model": "gemma", "stop_reason": "answered"})
    h.close()
    window = open_window()
    row = window.panes["chat"].view.widgets[-1].steps_view.rows[0]
    assert list(row.thumbs) == [str(outside), str(fifo), inside["path"]]
    qtbot.waitUntil(lambda: not row.thumbs[inside["path"]].icon().isNull(), timeout=10000)
    assert QThreadPool.globalInstance().waitForDone(10000), "a thumbnail reader is stuck (the FIFO)"
    QCoreApplication.processEvents()  # the pool's last signals are delivered
    assert row.thumbs[str(outside)].icon().isNull() and not os.path.exists(thumb_path(str(outside)))
    assert row.thumbs[str(fifo)].icon().isNull()


def test_tooltips_show_a_results_words_never_its_markup(qtbot, open_window, tmp_path):
    """Qt reads a tooltip that looks like HTML as HTML: a snippet or an imported chat's title holding
    <img src="/a/fifo"> made the GUI thread read that file (a FIFO: for ever) when the pointer passed."""
    from PySide6.QtGui import QTextDocument

    cid, _found = _stored_answer(tmp_path)
    trap = f'<img src="{tmp_path / "fifo"}"> <b>bold</b>'
    text = f"The kayak {trap} is red."
    hostile = {"kind": "document", "title": f"notes {trap}.md", "path": str(tmp_path / "notes.md"), "text": text}
    h = ChatHistory()
    reply = h.start_reply(cid)
    h.add_step(reply.id, {"tool": "search_documents", "arguments": {"query": "x"}, "results": [hostile],
                          "summary": "Searched documents for 'x': 1 passage"})
    h.set_citations(reply.id, [{"number": 1, "step": 0, **hostile}])
    h.finish_reply(reply.id, "Red [1].", {"model": "gemma", "stop_reason": "answered"})
    h.close()
    window = open_window()
    answer = window.panes["chat"].view.widgets[-1]
    card = answer.steps_view.rows[0].detail.findChildren(QPushButton)[0]
    for tip, said in ((card.toolTip(), text), (answer.sources.buttons[0].toolTip(), f"notes {trap}.md")):
        shown = QTextDocument()
        shown.setHtml(tip)  # as a tooltip that looks like HTML is read
        assert shown.toPlainText() == said and "<img" not in tip


def test_a_damaged_step_shows_damaged_and_the_chat_still_works(qtbot, open_window, tmp_path):
    cid, _found = _stored_answer(tmp_path)
    h = ChatHistory()
    h.db.execute("UPDATE steps SET data = 'not json' WHERE position = 1")
    h.close()
    window = open_window()
    chat = window.panes["chat"]
    rows = chat.view.widgets[-1].steps_view.rows
    assert len(rows) == 4 and rows[1].title == "A step that could not be read"
    assert rows[0].title.startswith("Searched photos") and "Damaged in the history file" in \
        chat.view.widgets[-1].stats.text()


def test_the_library_switch_is_per_chat_and_says_what_it_reaches(qtbot, open_window, clip_store, tmp_path):
    window = open_window()
    chat = window.panes["chat"]
    qtbot.waitUntil(lambda: chat.library_reach.text() != "", timeout=10000)
    assert not chat.library.isChecked() and chat.library_reach.text().startswith("Nothing indexed yet")
    window.stop_workers()

    from app.core.images.index import ImageIndex, default_path

    photo_library(tmp_path / "photos", per_class=1)
    index = ImageIndex(default_path())
    index.add_folder(tmp_path / "photos")
    index.close()
    window = open_window()
    chat = window.panes["chat"]
    qtbot.waitUntil(lambda: chat.library_reach.text() == "Photos, 1 folder", timeout=10000)
    assert chat.library.isChecked(), "on by default once something is indexed"
    h = ChatHistory()
    c = h.create("No library here")
    h.close()
    chat.open_conversation(c.id)
    qtbot.mouseClick(chat.library, Qt.MouseButton.LeftButton)
    assert not chat.library.isChecked()
    chat.new_conversation()
    assert chat.library.isChecked(), "a new chat starts with the default"
    chat.open_conversation(c.id)
    assert not chat.library.isChecked(), "the chat keeps its own choice"
    assert ChatHistory().conversation(c.id).params["use_library"] is False



@pytest.fixture
def asking(qtbot, starter_store, clip_store, open_window, tmp_path):
    """The starter chat model, a tiny-CLIP index of a generated photo folder (added in the Images pane),
    and the Chat pane with "Use my library" on."""
    lib = photo_library(tmp_path / "photos", per_class=2)
    window = open_window()
    window.show_pane("images")
    images = window.panes["images"]
    with qtbot.waitSignal(images.index_finished, timeout=120000):
        assert drop_files(images, [tmp_path / "photos"])
    window.show_pane("chat")
    chat = window.panes["chat"]
    qtbot.waitUntil(lambda: chat.library_reach.text().startswith("Photos, 1 folder"), timeout=10000)
    assert chat.library.isChecked(), "on by default: something is indexed"
    chat.ask_first_tool = "search_photos"  # the starter model is too small to choose a tool well
    chat.settings_panel.seed.setText("11")
    chat.settings_panel.max_tokens.setValue(80)
    return window, chat, {str(p) for paths in lib.values() for p in paths}


@pytest.mark.slow
def test_a_question_shows_its_search_the_answer_and_keeps_them(qtbot, asking, open_window):
    window, chat, photos = asking
    chat.input.setFocus()
    qtbot.keyClicks(chat.input, "Which of my photos show a red star? Cite them.")
    qtbot.keyClick(chat.input, Qt.Key.Key_Return)
    job = chat.job
    qtbot.waitUntil(lambda: job.done, timeout=240000)
    answer = chat.view.widgets[-1]
    rows = answer.steps_view.rows
    assert rows and rows[0].step is not None and rows[0].step.tool == "search_photos"
    assert rows[0].title.startswith("Searched photos for ")
    assert rows[0].thumbs and set(rows[0].thumbs) <= photos, "results are files of the indexed folder"
    assert answer.text.strip() and answer.message_id > 0
    stored = ChatHistory().messages(chat.conversation_id)[-1]
    assert [s.tool for s in stored.steps] == [r.step.tool for r in rows] and not stored.incomplete
    assert answer.cited() and {c["path"] for c in answer.citations} <= photos, "it cites the photos found"
    links = {href for href, _ in _anchor_points(answer.body.browsers()[0])}
    assert links == {f"cite:{n}" for n in answer.cited()}, "each citation the answer makes is a link"
    assert {b.text().split()[0] for b in answer.sources.buttons} == {f"[{n}]" for n in answer.cited()}
    cid = chat.conversation_id
    window.stop_workers()

    again = open_window().panes["chat"]
    again.open_conversation(cid)
    reopened = again.view.widgets[-1]
    assert [r.title for r in reopened.steps_view.rows] == [r.title for r in rows]
    assert set(reopened.steps_view.rows[0].thumbs) == set(rows[0].thumbs)
    assert reopened.citations == answer.citations


@pytest.mark.slow
def test_stop_during_a_step_keeps_the_message_so_far(qtbot, asking):
    window, chat, _photos = asking
    chat.input.setFocus()
    qtbot.keyClicks(chat.input, "Find the photos with a blue circle.")
    qtbot.keyClick(chat.input, Qt.Key.Key_Return)
    job = chat.job
    started = []
    job.progress.connect(lambda p: started.append(p) if getattr(p, "running", None) else None)
    qtbot.waitUntil(lambda: bool(started), timeout=240000)
    qtbot.mouseClick(chat.stop_button, Qt.MouseButton.LeftButton)  # the first step is under way
    qtbot.waitUntil(lambda: job.done, timeout=30000)
    assert chat.send_button.isEnabled() and not chat.stop_button.isEnabled()
    stored = ChatHistory().messages(chat.conversation_id)[-1]
    answer = chat.view.widgets[-1]
    assert stored.role == "assistant" and answer.message_id == stored.id
    assert [r.title for r in answer.steps_view.rows][:len(stored.steps)] == [s.summary for s in stored.steps]
    assert not any(r.running for r in answer.steps_view.rows), "no row is left 'Searching…'"
    if stored.incomplete:  # stopped before the answer ended (a fast search may finish first)
        assert "incomplete" in answer.stats.text()


@pytest.mark.slow
def test_a_question_with_a_document_is_a_plain_reply_even_with_the_library_on(qtbot, asking, tmp_path):
    """The loop is asked the words alone: a message that brings a document (or a picture, as the Images
    pane's "Ask in chat" does) goes to the model as before, its attachment in the prompt."""
    window, chat, _photos = asking
    note = tmp_path / "note.txt"
    note.write_text("The kayak is red.", encoding="utf-8")
    chat.tray.add_document(note, note.name)
    qtbot.waitUntil(lambda: chat.tray.pending == 0 and len(chat.tray.documents) == 1, timeout=30000)
    chat.input.setFocus()
    qtbot.keyClicks(chat.input, "What colour is the kayak?")
    qtbot.keyClick(chat.input, Qt.Key.Key_Return)
    job = chat.job
    assert job.name == "generate" and chat.library.isChecked()
    qtbot.waitUntil(lambda: job.done, timeout=240000)
    answer = chat.view.widgets[-1]
    stored = ChatHistory().messages(chat.conversation_id)
    assert answer.steps_view is None and stored[-1].steps == [] and stored[-2].documents

import http.server
import shutil
import threading
import time
import urllib.request

import pytest
from PySide6.QtCore import QObject, Qt, QUrl, Slot
from PySide6.QtGui import QDesktopServices, QTextCursor

from app.core.chat.history import ChatHistory
from app.core.models.store import ModelStore
from app.gui.chat.message_view import MessageWidget
from tests.helpers import gguf_with_template


@pytest.fixture
def chat(qtbot, starter_store, window):
    window.show_pane("chat")
    pane = window.panes["chat"]
    qtbot.mouseClick(pane.settings_toggle, Qt.MouseButton.LeftButton)
    assert pane.settings_panel.isVisible()
    pane.settings_panel.seed.setText("11")
    pane.settings_panel.max_tokens.setValue(1500)
    return pane


def _send(qtbot, pane, text):
    pane.input.setFocus()
    qtbot.keyClicks(pane.input, text)
    qtbot.keyClick(pane.input, Qt.Key.Key_Return)


@pytest.mark.slow
def test_tokens_stream_in_order_and_stop_keeps_the_partial_reply(qtbot, chat):
    _send(qtbot, chat, "Write a very long story about a lighthouse keeper.")
    assert chat.input.toPlainText() == ""
    job = chat.job
    seen = []
    job.progress.connect(seen.append)
    qtbot.waitUntil(lambda: len(seen) >= 5 and len(seen[-1]) > 40, timeout=60000)
    assert all(b.startswith(a) for a, b in zip(seen, seen[1:], strict=False)), "tokens arrive in order"
    assert chat.view.widgets[-1].text == seen[-1]
    clicked = time.perf_counter()
    qtbot.mouseClick(chat.stop_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: job.done, timeout=10000)
    assert time.perf_counter() - clicked < 5.0  # generous for a loaded machine; the 1500 tokens take minutes
    history = ChatHistory()
    msgs = history.messages(chat.conversation_id)
    assert [m.role for m in msgs] == ["user", "assistant"]
    assert msgs[1].incomplete and msgs[1].content.startswith(seen[-1][:40])
    assert chat.view.widgets[-1].text == msgs[1].content
    assert "incomplete" in chat.view.widgets[-1].stats.text()
    assert chat.send_button.isEnabled() and not chat.stop_button.isEnabled()


@pytest.mark.slow
def test_enter_sends_shift_enter_adds_a_line_and_empty_is_refused(qtbot, chat):
    qtbot.keyClick(chat.input, Qt.Key.Key_Return)
    assert "Type a message first" in chat.notice.text() and chat.job is None
    chat.settings_panel.max_tokens.setValue(8)
    qtbot.keyClicks(chat.input, "first line")
    qtbot.keyClick(chat.input, Qt.Key.Key_Return, Qt.KeyboardModifier.ShiftModifier)
    qtbot.keyClicks(chat.input, "second line")
    assert chat.input.toPlainText() == "first line\nsecond line"
    qtbot.keyClick(chat.input, Qt.Key.Key_Return)
    qtbot.waitUntil(lambda: chat.job is not None and chat.job.done, timeout=60000)
    user = ChatHistory().messages(chat.conversation_id)[0]
    assert user.content == "first line\nsecond line"
    assert "tokens" in chat.view.widgets[-1].stats.text()


@pytest.mark.slow
def test_conversations_survive_a_restart_and_regenerate_replaces(qtbot, chat, window, open_window):
    chat.settings_panel.max_tokens.setValue(12)
    _send(qtbot, chat, "Hello there")
    qtbot.waitUntil(lambda: chat.job is not None and chat.job.done, timeout=60000)
    cid = chat.conversation_id
    first_reply = chat.view.widgets[-1]
    qtbot.mouseClick(first_reply.regen_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: chat.job.done, timeout=60000)
    msgs = ChatHistory().messages(cid)
    assert [m.role for m in msgs] == ["user", "assistant"], "regenerate replaces the reply"
    window.close()

    again = open_window()
    pane = again.panes["chat"]
    assert pane.sidebar.list.count() == 1 and pane.sidebar.current_id() == cid
    assert [w.role for w in pane.view.widgets] == ["user", "assistant"]
    assert pane.view.widgets[1].text == msgs[1].content
    again.close()


@pytest.mark.slow
def test_export_round_trips_through_the_pane(qtbot, chat, tmp_path):
    chat.settings_panel.max_tokens.setValue(6)
    _send(qtbot, chat, "Export this")
    qtbot.waitUntil(lambda: chat.job is not None and chat.job.done, timeout=60000)
    jobs = [chat.export_to(tmp_path / "chat.json", "json"), chat.export_to(tmp_path / "chat.md", "md")]
    qtbot.waitUntil(lambda: all(j.done for j in jobs), timeout=20000)  # written on the files worker
    history = ChatHistory()
    imported = history.import_json((tmp_path / "chat.json").read_text())
    a = [(m.role, m.content) for m in history.messages(chat.conversation_id)]
    b = [(m.role, m.content) for m in history.messages(imported.id)]
    assert a == b and a[0] == ("user", "Export this")
    assert "Export this" in (tmp_path / "chat.md").read_text()


@pytest.mark.slow
def test_a_hostile_template_shows_an_error_and_the_app_lives(qtbot, chat, tmp_path, gemma_path):
    marker = tmp_path / "pwned"
    bad = gguf_with_template(gemma_path, tmp_path / "evil.gguf",
                             "{{ cycler.__init__.__globals__.os.popen('touch " + str(marker) + "').read() }}")
    ModelStore().import_path(bad, "chat", "evil", mode="link")
    chat.picker.refresh()
    chat.picker.combo.setCurrentIndex(chat.picker.combo.findData("evil"))
    _send(qtbot, chat, "hi")
    qtbot.waitUntil(lambda: chat.job is not None and chat.job.done, timeout=60000)
    assert "unsafe" in chat.notice.text()
    assert not marker.exists()
    assert chat.send_button.isEnabled()


def test_a_damaged_model_file_gives_a_message(qtbot, chat, tmp_path, gemma_path):
    copy = tmp_path / "damaged.gguf"
    shutil.copy(gemma_path, copy)
    ModelStore().import_path(copy, "chat", "damaged", mode="link")
    with open(copy, "r+b") as fh:  # damaged after import (a failing disk, a bad sync)
        fh.truncate(10_000_000)
    chat.picker.refresh()
    chat.picker.combo.setCurrentIndex(chat.picker.combo.findData("damaged"))
    assert chat.picker.current() == "damaged"
    _send(qtbot, chat, "hi")
    qtbot.waitUntil(lambda: chat.job.done, timeout=30000)
    assert "could not be loaded" in chat.notice.text() and "truncated" in chat.notice.text()
    assert chat.send_button.isEnabled()
    assert [m.content for m in ChatHistory().messages(chat.conversation_id)] == ["hi"], "the message is kept"


@pytest.mark.slow
def test_a_crash_in_the_model_keeps_the_app_and_the_partial_reply(qtbot, chat):
    import psutil

    _send(qtbot, chat, "Write a very long story about a lighthouse keeper.")
    job, seen = chat.job, []
    job.progress.connect(seen.append)
    qtbot.waitUntil(lambda: len(seen) >= 3, timeout=60000)
    model_processes = [p for p in psutil.Process().children()
                       if "multiprocessing.spawn" in " ".join(p.cmdline())]
    assert len(model_processes) == 1, "the model runs in one process of its own"
    model_processes[0].kill()  # what a native crash in llama.cpp looks like from the window
    qtbot.waitUntil(lambda: job.done, timeout=10000)
    assert "stopped unexpectedly" in chat.notice.text()
    msgs = ChatHistory().messages(chat.conversation_id)
    assert [m.role for m in msgs] == ["user", "assistant"]
    assert msgs[1].incomplete and msgs[1].content, "the partial reply is kept"
    chat.settings_panel.max_tokens.setValue(8)
    _send(qtbot, chat, "Hello again")  # asking again restarts the model
    qtbot.waitUntil(lambda: chat.job is not job and chat.job.done, timeout=60000)
    msgs = ChatHistory().messages(chat.conversation_id)
    assert [m.role for m in msgs] == ["user", "assistant", "user", "assistant"]
    assert msgs[-1].content.strip() and not msgs[-1].incomplete
    assert chat.send_button.isEnabled()


class _Recorder(QObject):
    def __init__(self):
        super().__init__()
        self.urls = []

    @Slot(QUrl)
    def open(self, url):
        self.urls.append(url.toString())


def _anchor_points(browser):
    doc, points = browser.document(), []
    block = doc.begin()
    while block.isValid():
        it = block.begin()
        while not it.atEnd():
            frag = it.fragment()
            if frag.charFormat().isAnchor():
                cursor = QTextCursor(doc)
                cursor.setPosition(frag.position() + 1)
                points.append((frag.charFormat().anchorHref(), browser.cursorRect(cursor).center()))
            it += 1
        block = block.next()
    return points


def test_model_output_can_fetch_nothing_and_opens_only_clicked_http_links(qtbot, window):
    hits = []

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self):  # noqa: N802
            hits.append(self.path)
            self.send_response(200)
            self.end_headers()

        def log_message(self, *args):
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    port = server.server_address[1]
    threading.Thread(target=server.serve_forever, daemon=True).start()
    recorder = _Recorder()
    for scheme in ("http", "https", "file"):
        QDesktopServices.setUrlHandler(scheme, recorder, "open")
    try:
        text = (
            f'Look: <img src="http://127.0.0.1:{port}/leak"> and <b>bold</b>\n\n'
            f"![cat](http://127.0.0.1:{port}/cat.png)\n\n"
            "[secrets](file:///etc/passwd) and [site](http://127.0.0.1:{port}/page)\n\n"
            "```\ncode()\n```\n"
        ).replace("{port}", str(port))
        widget = MessageWidget(1, "assistant", text)
        window.panes["chat"].view.add(widget)
        window.show_pane("chat")
        qtbot.waitExposed(widget)
        body = widget.body.browsers()[0]  # laid out at the width it is shown at, so the link positions hold
        qtbot.waitUntil(lambda: body.document().textWidth() == body.viewport().width())
        plain = widget.body.toPlainText()
        assert f'<img src="http://127.0.0.1:{port}/leak">' in plain, "raw HTML is shown as text"
        assert "<b>bold</b>" in plain
        assert "[image: cat]" in plain
        anchors = _anchor_points(widget.body.browsers()[0])
        hrefs = [h for h, _ in anchors]
        assert f"http://127.0.0.1:{port}/page" in hrefs
        assert not any(h.startswith("file:") for h in hrefs)
        assert recorder.urls == [], "nothing opens by itself"
        for href, point in anchors:
            if href.startswith("http"):
                browser = widget.body.browsers()[0]
                with qtbot.waitSignal(browser.link_opened, timeout=5000):
                    qtbot.mouseClick(browser.viewport(), Qt.MouseButton.LeftButton, pos=point)
        assert recorder.urls == [f"http://127.0.0.1:{port}/page"]
        # A request of our own last: one the view had sent would have reached the server before it.
        urllib.request.urlopen(f"http://127.0.0.1:{port}/barrier", timeout=10).close()
        assert hits == ["/barrier"], "the view made no request"
    finally:
        for scheme in ("http", "https", "file"):
            QDesktopServices.unsetUrlHandler(scheme)
        server.shutdown()


def _the_model_process():
    import psutil

    kids = []
    for p in psutil.Process().children():
        try:
            if p.status() != psutil.STATUS_ZOMBIE and "multiprocessing.spawn" in " ".join(p.cmdline()):
                kids.append(p)
        except psutil.NoSuchProcess:  # an earlier model process, just reaped
            pass
    assert len(kids) == 1, "the model runs in one process of its own"
    return kids[0]


def _streaming(qtbot, pane, text, at_least=3):
    _send(qtbot, pane, text)
    job, seen = pane.job, []
    job.progress.connect(seen.append)
    qtbot.waitUntil(lambda: len(seen) >= at_least, timeout=60000)
    return job, seen


@pytest.mark.slow
def test_stop_ends_a_stuck_model_and_the_next_message_restarts_it(qtbot, chat):
    import psutil

    job, seen = _streaming(qtbot, chat, "Write a very long story about a lighthouse keeper.")
    stuck = _the_model_process()
    stuck.suspend()  # SIGSTOP: the process can no longer answer Stop, as in a stuck native call
    qtbot.mouseClick(chat.stop_button, Qt.MouseButton.LeftButton)
    from app.core.chat.remote import STOP_GRACE_MAX_S  # the grace grows with the load (#22.20)

    qtbot.waitUntil(lambda: job.done, timeout=int((STOP_GRACE_MAX_S + 15) * 1000))
    assert "did not stop within" in chat.notice.text()
    assert chat.send_button.isEnabled() and not chat.stop_button.isEnabled()
    assert not stuck.is_running() or stuck.status() == psutil.STATUS_ZOMBIE
    msgs = ChatHistory().messages(chat.conversation_id)
    assert msgs[1].incomplete and msgs[1].content, "the partial reply is kept"
    chat.settings_panel.max_tokens.setValue(8)
    _send(qtbot, chat, "Hello again")  # the model starts again
    qtbot.waitUntil(lambda: chat.job is not job and chat.job.done, timeout=60000)
    assert chat.job.outcome == "succeeded"
    assert _the_model_process().pid != stuck.pid
    assert chat.notice.text() == "", "the failure notice goes once the model answers again"


@pytest.mark.slow
def test_switching_models_does_not_wait_for_a_stuck_reply(qtbot, chat, gemma_path):
    ModelStore().import_path(gemma_path, "chat", "gemma-twin", mode="link")
    chat.picker.refresh()
    job, _ = _streaming(qtbot, chat, "Write a very long story about a lighthouse keeper.")
    _the_model_process().suspend()
    chat.picker.combo.setCurrentIndex(chat.picker.combo.findData("gemma-twin"))
    qtbot.waitUntil(lambda: "gemma-twin is ready" in chat.notice.text(), timeout=60000)
    assert job.done and chat.send_button.isEnabled()
    chat.settings_panel.max_tokens.setValue(8)
    _send(qtbot, chat, "Hello again")
    qtbot.waitUntil(lambda: chat.job is not job and chat.job.done, timeout=60000)
    assert chat.job.outcome == "succeeded"


@pytest.mark.slow
def test_a_looping_template_is_stopped_and_another_model_answers(qtbot, chat, tmp_path, gemma_path):
    loops = "{% for a in range(100000) %}{% for b in range(100000) %}{{ a }}{% endfor %}{% endfor %}"
    ModelStore().import_path(gguf_with_template(gemma_path, tmp_path / "loops.gguf", loops), "chat", "loops",
                             mode="link")
    chat.picker.refresh()
    chat.picker.combo.setCurrentIndex(chat.picker.combo.findData("loops"))
    _send(qtbot, chat, "hi")
    qtbot.waitUntil(lambda: chat.job is not None and chat.job.done, timeout=60000)
    assert "ran too long" in chat.notice.text()
    assert chat.send_button.isEnabled()
    chat.picker.combo.setCurrentIndex(chat.picker.combo.findData("gemma-3-270m-q4_k_m"))
    chat.settings_panel.max_tokens.setValue(8)
    first = chat.job
    _send(qtbot, chat, "Hello")
    qtbot.waitUntil(lambda: chat.job is not first and chat.job.done, timeout=60000)
    assert chat.job.outcome == "succeeded" and ChatHistory().messages(chat.conversation_id)[-1].content.strip()


@pytest.mark.slow
def test_the_crash_notice_clears_when_the_restarted_model_streams(qtbot, chat):
    job, _ = _streaming(qtbot, chat, "Write a very long story about a lighthouse keeper.")
    _the_model_process().kill()
    qtbot.waitUntil(lambda: job.done, timeout=10000)
    assert "stopped unexpectedly (signal 9)" in chat.notice.text()
    second, seen = _streaming(qtbot, chat, "Write another long story.", at_least=1)
    qtbot.waitUntil(lambda: any(s != "Restarting the model…" for s in seen), timeout=60000)
    assert "stopped unexpectedly" not in chat.notice.text()
    qtbot.mouseClick(chat.stop_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: second.done, timeout=15000)
    assert "stopped unexpectedly" not in chat.notice.text()

"""The window's parts of #13: "Add server…" on the Models page, remote models in the chat's picker,
and the Server switch sharing the panes' loaded models."""

from __future__ import annotations

import http.client
import json
import threading

import pytest
from PySide6.QtCore import Qt, QTimer
from PySide6.QtWidgets import QApplication

GEMMA = "gemma-3-270m-q4_k_m"


@pytest.fixture
def other_hearth(starter_store):
    """Another Hearth's `serve` on loopback, standing in for a bigger machine."""
    from app.server.backends import LocalBackends
    from app.server.run import HearthServer

    backends = LocalBackends(store=starter_store)
    server = HearthServer(backends, "127.0.0.1", 0).start()
    yield server
    server.stop()
    backends.close()


def test_add_server_lists_its_chat_models_in_the_chat_picker(qtbot, window, other_hearth):
    models, chat = window.panes["models"], window.panes["chat"]

    def fill() -> None:
        dialog = QApplication.activeModalWidget()
        dialog.name.setText("box")
        dialog.url.setText(other_hearth.url)
        dialog.accept()

    window.show_pane("models")
    QTimer.singleShot(0, fill)
    qtbot.mouseClick(models.add_server, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: models.message.text().startswith("Added box"), timeout=30000)
    items = [chat.picker.combo.itemData(i) for i in range(chat.picker.combo.count())]
    assert f"box/{GEMMA}" in items and "box/whisper-base" not in items  # its speech model is not a chat model
    from app.core.chat.servers import ServerList

    assert ServerList().get("box").models == (GEMMA,)


def test_a_bad_server_address_is_a_message(qtbot, window):
    models = window.panes["models"]
    models.add_remote_server("box", "ftp://nowhere")
    qtbot.waitUntil(lambda: "Could not add the server" in models.message.text(), timeout=30000)
    assert "http://" in models.message.text()


def test_a_server_offering_a_hundred_thousand_models_is_kept_in_part_and_said_so(qtbot, window):
    """#22 item 16: the saved list (and so the chat's picker) keeps servers.MAX_MODELS; the message
    says how many the server offered, and a server's error is shown as text, never as HTML."""
    from app.core.chat.servers import MAX_MODELS
    from tests.core.test_remote_hostile import EVIL, _models
    from tests.helpers import HostileServer

    models, chat = window.panes["models"], window.panes["chat"]
    ids = ["evil" + EVIL] + [f"m{i}" for i in range(100_000)]
    with HostileServer(_models(ids)) as srv:
        models.add_remote_server("many", srv.url)
        qtbot.waitUntil(lambda: models.message.text().startswith("Added many"), timeout=30000)
    text = models.message.text()
    assert "100,000 model(s), of which the first 500 are kept: m0, m1" in text and "\x1b" not in text
    remote = [chat.picker.combo.itemData(i) for i in range(chat.picker.combo.count())]
    assert len([m for m in remote if str(m).startswith("many/")]) == MAX_MODELS

    body = b"<h1>down</h1><img src='file:///etc/hostname'>"

    def failing(srv, conn, path):
        srv.send(conn, b"HTTP/1.1 502 Bad\r\nContent-Length: %d\r\nConnection: close\r\n\r\n" % len(body) + body)

    with HostileServer(failing) as srv:
        models.add_remote_server("html", srv.url)
        qtbot.waitUntil(lambda: "Could not add the server" in models.message.text(), timeout=30000)
    assert "<h1>down</h1>" in models.message.text()
    assert models.message.textFormat() == Qt.TextFormat.PlainText


@pytest.mark.slow
def test_the_server_switch_serves_the_chat_pane_loaded_model(qtbot, starter_store, open_window):

    win = open_window()
    chat, switch = win.panes["chat"], win.server_switch
    worker = chat.chat
    chat.ensure_model()
    qtbot.waitUntil(lambda: worker.model is not None, timeout=120000)
    engine = worker.model
    switch.port = 0  # any free port: the default one may be taken on a test machine
    qtbot.mouseClick(switch.switch, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: switch.address.text().startswith("http://127.0.0.1:"), timeout=30000)
    assert switch.copy.isVisible()
    qtbot.mouseClick(switch.copy, Qt.MouseButton.LeftButton)
    assert QApplication.clipboard().text() == switch.address.text()

    answer: dict = {}

    def ask() -> None:  # off the GUI thread, which must stay free to hand the job to the pane's worker
        conn = http.client.HTTPConnection("127.0.0.1", switch.server.port, timeout=300)
        body = {"model": GEMMA, "messages": [{"role": "user", "content": "Hello"}], "max_tokens": 6}
        conn.request("POST", "/v1/chat/completions", json.dumps(body), {"Content-Type": "application/json"})
        resp = conn.getresponse()
        answer["status"], answer["body"] = resp.status, json.loads(resp.read())
        conn.close()

    t = threading.Thread(target=ask)
    t.start()
    qtbot.waitUntil(lambda: "status" in answer, timeout=300000)
    t.join()
    assert answer["status"] == 200 and answer["body"]["usage"]["completion_tokens"] > 0
    assert worker.model is engine and worker.model_id == GEMMA  # the pane's model answered; none was loaded again
    assert switch.backends.own.loaded() == {}
    qtbot.mouseClick(switch.switch, Qt.MouseButton.LeftButton)
    assert switch.address.text() == "" and not switch.copy.isVisible()
    win.stop_workers()


def test_the_server_switch_refuses_other_hosts_and_web_pages(qtbot, starter_store):
    """The switch builds the same app as `serve`: a rebinding Host and a page's Origin are refused."""
    from app.gui.server import ServerSwitch

    switch = ServerSwitch({})
    qtbot.addWidget(switch)
    switch.show()
    switch.port = 0
    qtbot.mouseClick(switch.switch, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: switch.address.text().startswith("http://127.0.0.1:"), timeout=30000)
    port = switch.server.port

    def ask(headers, method="GET", path="/v1/models", body=None):
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        conn.request(method, path, body, headers)
        resp = conn.getresponse()
        out = resp.status, json.loads(resp.read())
        conn.close()
        return out

    status, body = ask({"Host": f"attacker.example:{port}"})
    assert status == 421 and body["error"]["code"] == "host_not_allowed"
    status, body = ask({"Origin": "http://evil.example", "Content-Type": "text/plain"}, "POST",
                       "/v1/chat/completions", json.dumps({"messages": [{"role": "user", "content": "hi"}]}))
    assert status == 403 and body["error"]["code"] == "origin_not_allowed"
    assert ask({})[0] == 200
    assert switch.finish().wait(10000)


@pytest.mark.slow
def test_the_server_switch_serves_text_embeddings_like_serve(qtbot, starter_store, open_window):
    """/v1/embeddings naming the text-embedding model gets that model's vectors from the window's server,
    as from `serve`, not the Images pane's CLIP vectors (or an error from it)."""
    import numpy as np

    from app.core.opening import open_embedder

    win = open_window()
    switch = win.server_switch
    switch.port = 0
    qtbot.mouseClick(switch.switch, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: switch.address.text().startswith("http://127.0.0.1:"), timeout=30000)
    texts = ["A man is eating food.", "A man is eating a piece of bread."]
    answer: dict = {}

    def ask() -> None:  # off the GUI thread
        conn = http.client.HTTPConnection("127.0.0.1", switch.server.port, timeout=300)
        body = {"model": "all-minilm-l6-v2", "input": texts, "encoding_format": "float"}
        conn.request("POST", "/v1/embeddings", json.dumps(body), {"Content-Type": "application/json"})
        resp = conn.getresponse()
        answer["status"], answer["body"] = resp.status, json.loads(resp.read())
        conn.close()

    t = threading.Thread(target=ask)
    t.start()
    qtbot.waitUntil(lambda: "status" in answer, timeout=300000)
    t.join()
    assert answer["status"] == 200, answer["body"]
    got = np.array([d["embedding"] for d in answer["body"]["data"]], np.float32)
    embedder = open_embedder("all-minilm-l6-v2", starter_store, device="cpu")
    try:
        want = embedder.embed(texts)
    finally:
        embedder.close()
    assert got.shape == (2, 384) and np.allclose(got, want, atol=1e-4)
    assert answer["body"]["model"] == "all-minilm-l6-v2" and answer["body"]["usage"]["prompt_tokens"] > 0
    qtbot.mouseClick(switch.switch, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: switch.address.text() == "", timeout=30000)
    win.stop_workers()

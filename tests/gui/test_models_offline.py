"""Models pane from #14: an offline download says so in words at once, waits, and starts again by
itself when the network is back; a failed row keeps its message across a restart until retried or cleared."""

import socket

import pytest
from PySide6.QtCore import Qt

from app.core.models.queue import DownloadQueue
from app.core.models.store import ModelStore
from app.core.settings import load_settings, save_settings
from app.gui.models.downloads import DownloadManager
from tests.gui.test_models_page import FILE, MODEL, REPO, _gguf_bytes


def _window(open_window, endpoint):
    settings = load_settings()
    settings.hf_endpoint = endpoint
    save_settings(settings)
    win = open_window()
    win.show_pane("models")
    return win


@pytest.fixture
def network(monkeypatch):
    """The name lookup (the boundary a test cannot unplug): "localhost" fails while ``down`` is set."""
    real = socket.getaddrinfo
    state = {"down": True, "asked": 0}

    def lookup(host, *args, **kwargs):
        if host == "localhost":
            state["asked"] += 1
            if state["down"]:
                raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")
        return real(host, *args, **kwargs)

    monkeypatch.setattr(socket, "getaddrinfo", lookup)
    monkeypatch.setattr(DownloadManager, "recheck_s", (0.2, 0.4))  # the app waits 5 s, then longer
    return state


@pytest.mark.slow
def test_an_offline_download_waits_in_words_and_starts_again_when_the_network_is_back(
        qtbot, hub, tmp_path, open_window, network):
    hub.add(REPO, FILE, _gguf_bytes(tmp_path))
    port = hub.endpoint.rsplit(":", 1)[1]
    win = _window(open_window, f"http://localhost:{port}")
    pane = win.panes["models"]
    pane.select(MODEL)
    qtbot.mouseClick(pane.buttons["download"], Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: pane.browser.row_of(MODEL).status == "offline", timeout=10000)
    row = pane.browser.row_of(MODEL)
    assert row.note.startswith("No internet connection: localhost could not be found")
    assert "starts again by itself" in row.note and "urlopen" not in row.note and "Errno" not in row.note
    assert hub.requests == [], "it failed at the name lookup, without a minute of retries"
    pane.select(MODEL)
    assert pane.browser.card(MODEL).state.text() == "Waiting for the internet"
    shown = pane.details.state.text()  # the whole message, beside the list
    assert shown.startswith("Waiting for the internet: No internet connection")
    assert pane.buttons["download"].text() == "&Retry" and pane.buttons["cancel"].text() == "Cl&ear"
    asked = network["asked"]
    qtbot.waitUntil(lambda: network["asked"] > asked + 1, timeout=10000)  # it keeps checking, off the GUI thread
    assert pane.browser.row_of(MODEL).status == "offline"

    network["down"] = False  # the network is back
    qtbot.waitUntil(lambda: pane.browser.row_of(MODEL).status == "installed", timeout=30000)
    assert ModelStore().get(MODEL) is not None and DownloadQueue().items() == []
    win.close()


@pytest.mark.slow
def test_a_failed_row_keeps_its_words_across_a_restart_until_cleared(qtbot, hub, open_window, network):
    network["down"] = False
    hub.faults.status = 404
    win = _window(open_window, hub.endpoint)
    pane = win.panes["models"]
    pane.select(MODEL)
    qtbot.mouseClick(pane.buttons["download"], Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: pane.browser.row_of(MODEL).status == "failed", timeout=10000)
    note = pane.browser.row_of(MODEL).note
    assert note.startswith("not found on the server (404)")
    win.close()
    requests = len(hub.requests)

    again = _window(open_window, hub.endpoint)  # the app started again
    pane = again.panes["models"]
    row = pane.browser.row_of(MODEL)
    assert row.status == "failed" and row.note == note, "kept, in the same words, and not retried by itself"
    assert len(hub.requests) == requests
    pane.select(MODEL)
    assert pane.buttons["download"].isEnabled() and pane.buttons["download"].text() == "&Retry"
    qtbot.mouseClick(pane.buttons["cancel"], Qt.MouseButton.LeftButton)  # Clear
    qtbot.waitUntil(lambda: pane.browser.row_of(MODEL).status == "available", timeout=5000)
    assert DownloadQueue().items() == []
    again.close()


def test_a_download_left_waiting_for_the_network_starts_again_at_the_next_start(qtbot, hub, tmp_path, open_window,
                                                                                network):
    from app.core.models.queue import QueuedDownload

    network["down"] = False
    hub.add(REPO, FILE, _gguf_bytes(tmp_path))
    DownloadQueue().put(QueuedDownload(MODEL, "chat", state="offline",
                                       error="No internet connection: huggingface.co could not be found."))
    win = _window(open_window, hub.endpoint)
    qtbot.waitUntil(lambda: ModelStore().get(MODEL) is not None, timeout=30000)
    win.close()

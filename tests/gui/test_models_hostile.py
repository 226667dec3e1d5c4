"""Hand-made registry and queue files at start-up (issue #15: 3, 9), through the real window."""

import json

from app.core.models.queue import DownloadQueue
from app.core.models.store import ModelStore
from app.core.settings import load_settings, save_settings


def test_a_bad_registry_and_a_hostile_queue_start_an_empty_store_with_one_message(qtbot, hub, open_window):
    settings = load_settings()
    settings.hf_endpoint = hub.endpoint
    save_settings(settings)
    store = ModelStore()
    store.registry_path.write_text("[]", encoding="utf-8")
    victim = store.root.parent / "victim"
    (victim / "keep").mkdir(parents=True)
    queue = DownloadQueue()
    hostile = {"model_id": "../victim", "kind": "chat", "url": f"{hub.endpoint}/org/x/resolve/main/x.gguf",
               "state": "running", "error": "", "architecture": ""}
    queue.path.write_text(json.dumps({"schema_version": 1, "downloads": [hostile]}), encoding="utf-8")

    win = open_window()
    win.show_pane("models")
    pane = win.panes["models"]
    qtbot.waitUntil(lambda: "registry.json was invalid" in pane.message.text(), timeout=5000)
    assert [r.id for r in pane.browser.rows if r.status == "installed"] == [], "an empty store"
    assert hub.requests == [], "the hostile queue entry was never downloaded"
    assert list(store.root.glob("registry.json.invalid-*")) and list(queue.path.parent.glob("downloads.json.invalid-*"))
    assert (victim / "keep").is_dir()
    win.close()


def test_download_from_url_sends_the_token_only_to_the_configured_hub(qtbot, hub, tmp_path, open_window):
    """The page's "Download from URL" path (downloads.start, as _ask_url calls it) with a token in Settings."""
    from tests.helpers import make_gguf
    from tests.hub_server import Hub

    other = Hub()
    try:
        settings = load_settings()
        settings.hf_endpoint, settings.hf_token = hub.endpoint, "secret"
        save_settings(settings)
        win = open_window()
        manager = win.panes["models"].downloads
        model = make_gguf(tmp_path / "tiny.gguf").read_bytes()
        for server, model_id in ((other, "pasted"), (hub, "on-hub")):
            url = server.add("someone/tiny", f"{model_id}.gguf", model)
            with qtbot.waitSignal(manager.installed, timeout=20000):
                manager.start(model_id, "chat", url)
        assert other.requests and set(other.authorizations()) == {None}, "a pasted URL elsewhere never gets it"
        assert set(hub.authorizations()) == {"Bearer secret"}, "a URL on the configured hub does"
        win.close()
    finally:
        other.close()

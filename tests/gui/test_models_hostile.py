"""Hand-made registry and queue files at start-up (issue #15: 3, 9), through the real window."""

import json

from app.core.models.queue import DownloadQueue
from app.core.models.store import ModelStore
from app.core.settings import load_settings, save_settings
from app.gui.main_window import MainWindow


def test_a_bad_registry_and_a_hostile_queue_start_an_empty_store_with_one_message(qtbot, hub, hearth_home):
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

    win = MainWindow(load_settings())
    qtbot.addWidget(win)
    win.show()
    qtbot.waitUntil(lambda: "models" in win.panes, timeout=10000)
    win.show_pane("models")
    pane = win.panes["models"]
    qtbot.waitUntil(lambda: "registry.json was invalid" in pane.message.text(), timeout=5000)
    assert [r.id for t in pane.tables.values() for r in t.rows if r.status == "installed"] == [], "an empty store"
    assert hub.requests == [], "the hostile queue entry was never downloaded"
    assert list(store.root.glob("registry.json.invalid-*")) and list(queue.path.parent.glob("downloads.json.invalid-*"))
    assert (victim / "keep").is_dir()
    win.close()

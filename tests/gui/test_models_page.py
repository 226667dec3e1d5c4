import numpy as np
import pytest
from PySide6.QtCore import Qt

from app.core.models.queue import DownloadQueue, QueuedDownload
from app.core.models.store import ModelStore
from app.core.settings import load_settings, save_settings

REPO = "Qwen/Qwen2.5-0.5B-Instruct-GGUF"
FILE = "qwen2.5-0.5b-instruct-q4_k_m.gguf"
MODEL = "qwen2.5-0.5b-instruct-q4_k_m"


def _gguf_bytes(tmp_path, mb=4) -> bytes:
    import gguf

    path = tmp_path / "served.gguf"
    w = gguf.GGUFWriter(str(path), "qwen2")
    w.add_context_length(2048)
    w.add_block_count(1)
    w.add_tensor("token_embd.weight", np.random.default_rng(0).random((mb * 256, 1024), dtype=np.float32))
    w.write_header_to_file()
    w.write_kv_data_to_file()
    w.write_tensors_to_file()
    w.close()
    return path.read_bytes()


def _shown_progress(pane) -> int:
    """The model's download bar as the page shows it (0..1000), or -1 while it has none."""
    bar = pane.browser.bars.get(MODEL)
    return bar.value() if bar is not None else -1


@pytest.fixture
def models_window(qtbot, hub, open_window):
    settings = load_settings()
    settings.hf_endpoint = hub.endpoint
    save_settings(settings)
    win = open_window()
    win.show_pane("models")
    yield win
    win.close()


@pytest.mark.slow
def test_clicking_download_moves_the_bar_to_completion_and_installs(qtbot, hub, tmp_path, models_window):
    data = _gguf_bytes(tmp_path)
    hub.add(REPO, FILE, data)
    hub.faults.bytes_per_s = 3_000_000  # long enough for several progress updates
    pane = models_window.panes["models"]
    pane.select(MODEL)
    assert pane.selected().status == "available"
    values = []
    qtbot.mouseClick(pane.buttons["download"], Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: MODEL in pane.browser.bars, timeout=5000)
    pane.browser.bars[MODEL].valueChanged.connect(values.append)
    qtbot.waitUntil(lambda: pane.browser.row_of(MODEL).status == "installed", timeout=30000)
    assert len(values) >= 2 and values == sorted(values) and values[-1] == 1000
    assert ModelStore().get(MODEL).verified
    # The chat pane can pick it now.
    assert models_window.panes["chat"].picker.combo.findData(MODEL) >= 0
    assert DownloadQueue().items() == []


def test_pause_resume_and_cancel_from_the_page(qtbot, hub, tmp_path, models_window):
    data = _gguf_bytes(tmp_path)
    hub.add(REPO, FILE, data)
    hub.faults.bytes_per_s = 2_000_000
    pane = models_window.panes["models"]
    pane.select(MODEL)
    qtbot.mouseClick(pane.buttons["download"], Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: pane.buttons["pause"].isEnabled(), timeout=5000)
    qtbot.waitUntil(lambda: _shown_progress(pane) > 0, timeout=10000)  # bytes have arrived
    qtbot.mouseClick(pane.buttons["pause"], Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: pane.browser.row_of(MODEL).status == "paused", timeout=5000)
    part = ModelStore().root / ".downloads" / MODEL / (FILE + ".part")
    kept = part.stat().st_size
    assert 0 < kept < len(data)
    hub.faults.bytes_per_s = None
    pane.select(MODEL)
    qtbot.mouseClick(pane.buttons["resume"], Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: pane.browser.row_of(MODEL).status == "installed", timeout=30000)
    assert f"bytes={kept}-" in hub.ranges()
    # Delete it, then download and cancel: nothing stays behind.
    pane.delete(MODEL)
    assert ModelStore().get(MODEL) is None
    hub.faults.bytes_per_s = 1_000_000
    pane.select(MODEL)
    qtbot.mouseClick(pane.buttons["download"], Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: pane.buttons["cancel"].isEnabled(), timeout=5000)
    qtbot.waitUntil(lambda: _shown_progress(pane) > 0, timeout=10000)  # a part file exists to be cleaned up
    qtbot.mouseClick(pane.buttons["cancel"], Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: pane.browser.row_of(MODEL).status == "available", timeout=5000)
    assert not (ModelStore().root / ".downloads" / MODEL).exists()


def test_an_interrupted_download_resumes_when_the_app_starts(qtbot, hub, tmp_path, open_window):
    data = _gguf_bytes(tmp_path)
    hub.add(REPO, FILE, data)
    staging = ModelStore().root / ".downloads" / MODEL
    staging.mkdir(parents=True)
    (staging / (FILE + ".part")).write_bytes(data[:1_000_000])  # what a killed app left
    DownloadQueue().put(QueuedDownload(MODEL, "chat", state="running"))
    settings = load_settings()
    settings.hf_endpoint = hub.endpoint
    save_settings(settings)
    win = open_window(panes=False)
    qtbot.waitUntil(lambda: ModelStore().get(MODEL) is not None, timeout=30000)
    assert hub.ranges() == ["bytes=1000000-"]
    win.close()


def test_a_gated_model_says_so(qtbot, hub, models_window):
    hub.faults.status = 401
    pane = models_window.panes["models"]
    pane.select(MODEL)
    qtbot.mouseClick(pane.buttons["download"], Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: pane.browser.row_of(MODEL).status == "failed", timeout=10000)
    assert "token" in pane.message.text()
    assert pane.buttons["download"].isEnabled(), "it can be tried again"


def test_a_first_run_with_no_models_opens_the_models_page_with_a_recommendation(qtbot, open_window):
    win = open_window()
    assert win.current_pane() == "models"
    pane = win.panes["models"]
    qtbot.waitUntil(lambda: "Recommended for this computer" in pane.message.text(), timeout=15000)
    chosen = pane.selected()
    assert chosen is not None and chosen.status == "available" and "fits" in pane.message.text()
    assert chosen.size < win.hardware.ram_bytes * 0.35
    win.close()


def test_a_hidden_models_page_builds_its_estimates_when_shown_not_when_the_hardware_arrives(qtbot, starter_store,
                                                                                          open_window):
    """The hardware report came while the user was on Chat (sending a picture, say), and the Models page
    rebuilt its ~100 cards then: 100+ ms of the GUI thread. A page not on show now waits to be shown."""
    from app.gui.models.page import ModelsPane

    win = open_window()
    win.show_pane("chat")
    models = win.panes["models"]
    assert isinstance(models, ModelsPane) and not models.isVisible()
    qtbot.waitUntil(lambda: models.hardware is not None, timeout=20000)
    assert models.browser.rows and all(r.fit in ("…", "") for r in models.browser.rows), "built before it shows"
    win.show_pane("models")
    qtbot.waitUntil(models.isVisible)
    assert any(r.fit not in ("…", "") for r in models.browser.rows), "shown: the estimates for this machine"

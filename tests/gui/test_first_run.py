"""First run from #14: the Chat pane says the starter is a base model and offers an instruct model
that runs well here (by the speed estimate), with one Download button; a real reply calibrates it."""

import numpy as np
import pytest
from PySide6.QtCore import Qt

from app.core.models import speed
from app.core.models.store import ModelStore
from app.core.settings import load_settings, save_settings

REPO = "Qwen/Qwen2.5-0.5B-Instruct-GGUF"
FILE = "qwen2.5-0.5b-instruct-q4_k_m.gguf"
MODEL = "qwen2.5-0.5b-instruct-q4_k_m"


def _gguf_bytes(tmp_path) -> bytes:
    import gguf

    path = tmp_path / "served.gguf"
    w = gguf.GGUFWriter(str(path), "qwen2")
    w.add_context_length(2048)
    w.add_block_count(1)
    w.add_tensor("token_embd.weight", np.random.default_rng(0).random((256, 1024), dtype=np.float32))
    w.write_header_to_file()
    w.write_kv_data_to_file()
    w.write_tensors_to_file()
    w.close()
    return path.read_bytes()


def test_base_model_line_offers_a_fast_instruct_model_and_downloads_it(
        qtbot, hub, tmp_path, starter_store, open_window):
    hub.add(REPO, FILE, _gguf_bytes(tmp_path))
    # This machine "measured" 25 tokens/s on the starter: the 0.5B model is the largest at >= 10 tokens/s.
    speed.record("chat", "gemma-3-270m-q4_k_m", 253_110_465, 25.0)
    settings = load_settings()
    settings.hf_endpoint = hub.endpoint
    save_settings(settings)
    win = open_window(panes=False)
    qtbot.waitUntil(lambda: bool(win.panes) and win.hardware is not None, timeout=20000)
    win.show_pane("chat")
    chat = win.panes["chat"]
    assert chat.picker.current() == "gemma-3-270m-q4_k_m"
    qtbot.waitUntil(lambda: chat.first_run.isVisible())
    assert "base model" in chat.first_run_text.text()
    assert chat.picker.status.isVisible() and "Will use" in chat.picker.status.text(), "a model: the picker says which"
    assert "Qwen2.5 0.5B Instruct runs well" in chat.first_run_text.text(), "its name, not its id"
    assert chat.first_run_button.text() == "Download (491 MB)"
    assert chat.first_run_button.accessibleName() == "Download Qwen2.5 0.5B Instruct (491 MB)"
    qtbot.mouseClick(chat.first_run_button, Qt.MouseButton.LeftButton)
    assert win.current_pane() == "models"
    models = win.panes["models"]
    qtbot.waitUntil(lambda: models.browser.row_of(MODEL).status == "installed", timeout=30000)
    assert ModelStore().get(MODEL) is not None
    win.show_pane("chat")
    chat.picker.combo.setCurrentIndex(chat.picker.combo.findData(MODEL))
    assert not chat.first_run.isVisible(), "an instruct model needs no such line"
    win.close()


@pytest.mark.slow
def test_a_real_reply_calibrates_the_speed_estimate(qtbot, starter_store, window, monkeypatch):
    """Recorded on the chat's worker, before the reply is handed over: it reads the store and the catalog
    and writes the measurements file, which was GUI-thread work after every reply."""
    import threading

    recorded_on = []
    real_record = speed.record
    monkeypatch.setattr(speed, "record", lambda *a, **k: (recorded_on.append(threading.current_thread()),
                                                          real_record(*a, **k))[1])
    chat = window.panes["chat"]
    window.show_pane("chat")
    chat.settings_panel.max_tokens.setValue(24)
    chat.settings_panel.seed.setText("3")
    chat.input.setFocus()
    qtbot.keyClicks(chat.input, "Once upon a time, in a small village by the sea, there lived")
    qtbot.keyClick(chat.input, Qt.Key.Key_Return)
    qtbot.waitUntil(lambda: chat.job is not None and chat.job.done, timeout=60000)
    assert not chat.first_run.isVisible(), "the line is for an empty conversation only"
    stats = chat.view.widgets[-1]
    cal = speed.load_calibration()["chat"]
    assert cal["model"] == "gemma-3-270m-q4_k_m"
    assert f"{cal['value']:.1f} tok/s" in stats.stats.text(), "the measured speed is the one shown"
    assert cal["size"] == ModelStore().get("gemma-3-270m-q4_k_m").size
    assert recorded_on and threading.main_thread() not in recorded_on

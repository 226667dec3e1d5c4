"""Models pane from #14: a failed "Download from URL" appears in the table and can be retried or cleared."""

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QInputDialog

from app.core.models.queue import DownloadQueue
from app.core.models.store import ModelStore
from tests.gui.test_models_page import _gguf_bytes, models_window  # noqa: F401 - the window on a local hub


def test_a_failed_url_download_is_listed_retried_and_cleared(qtbot, hub, tmp_path, models_window, monkeypatch):  # noqa: F811
    pane = models_window.panes["models"]
    url = f"{hub.endpoint}/someone/tiny/resolve/main/tiny-chat.gguf"
    # Qt's modal input dialog answers with the URL the user would type (it runs its own event loop).
    monkeypatch.setattr(QInputDialog, "getText", staticmethod(lambda *a, **k: (url, True)))
    pane._ask_url()  # 404: nothing is served there yet
    qtbot.waitUntil(lambda: pane.browser.row_of("tiny-chat") is not None
                    and pane.browser.row_of("tiny-chat").status == "failed", timeout=20000)
    row = pane.browser.row_of("tiny-chat")
    assert "404" in row.note or "not found" in row.note
    pane.select("tiny-chat")
    assert pane.buttons["download"].isEnabled() and pane.buttons["cancel"].isEnabled()
    hub.add("someone/tiny", "tiny-chat.gguf", _gguf_bytes(tmp_path))
    qtbot.mouseClick(pane.buttons["download"], Qt.MouseButton.LeftButton)  # retry: the same URL again
    qtbot.waitUntil(lambda: pane.browser.row_of("tiny-chat").status == "installed", timeout=30000)
    assert ModelStore().get("tiny-chat") is not None

    monkeypatch.setattr(QInputDialog, "getText",
                        staticmethod(lambda *a, **k: (f"{hub.endpoint}/someone/gone/resolve/main/gone.gguf", True)))
    pane._ask_url()
    qtbot.waitUntil(lambda: getattr(pane.browser.row_of("gone"), "status", "") == "failed", timeout=20000)
    pane.select("gone")
    qtbot.mouseClick(pane.buttons["cancel"], Qt.MouseButton.LeftButton)  # clear it
    qtbot.waitUntil(lambda: pane.browser.row_of("gone") is None, timeout=5000)
    assert [i.model_id for i in DownloadQueue().items()] == []


def test_an_installed_model_outside_the_catalog_says_whether_it_fits(qtbot, starter_store, open_window):
    """The starter (or an imported) GGUF is not in the catalog; its row still says whether it fits
    and how fast it would run here, from its size, as the catalog's rows do."""
    win = open_window()
    win.show_pane("models")
    pane = win.panes["models"]
    qtbot.waitUntil(lambda: pane.hardware is not None, timeout=30000)
    fit = pane.browser.card("gemma-3-270m-q4_k_m").fit_label
    assert "fits" in fit.text() and "tokens/s" in fit.text(), fit.text()
    assert fit.toolTip().startswith("Speed "), "and how the speed was estimated"
    win.close()

"""The Models page and `models list --available` render the one overview (app.core.models.overview):
the same rows, sizes, states and fit verdicts for the catalog, installed models and URL downloads."""

import json

from app.core import hardware
from app.core.models.queue import DownloadQueue, QueuedDownload
from app.core.settings import load_settings
from app.gui.models.page import ModelsPane
from tests.conftest import run_app

URL_ID = "from-a-url"


def test_the_cli_and_the_models_page_list_the_same_rows(qtbot, starter_store):
    DownloadQueue().put(QueuedDownload(URL_ID, "chat", "https://example.invalid/m.gguf", "failed", "no route"))
    pane = ModelsPane(load_settings())
    qtbot.addWidget(pane)
    pane.set_hardware(hardware.detect())
    result = run_app("models", "list", "--available", "--json")
    assert result.returncode == 0, result.stderr
    listed = json.loads(result.stdout)

    shown = [(r.kind, r) for r in pane.browser.rows]
    assert [(r["kind"], r["id"]) for r in listed] == [(kind, r.id) for kind, r in shown]
    for row, (_, cell) in zip(listed, shown, strict=True):
        assert (row["size"], row["state"], row["catalog"]) == (cell.size, cell.status, cell.catalog), row["id"]
        assert cell.fit.startswith(row["fit_message"]) and row["speed"] in cell.fit, row["id"]
        assert ("recommended here" in cell.fit) == row["recommended"], row["id"]
    by_id = {r["id"]: r for r in listed}
    # Installed from the catalog, installed from elsewhere (with a fit estimate: a chat model), a URL download.
    assert by_id["whisper-base"]["installed"] and by_id["whisper-base"]["fit"] in ("ram", "gpu")
    assert not by_id["gemma-3-270m-q4_k_m"]["catalog"] and by_id["gemma-3-270m-q4_k_m"]["fit"]
    assert by_id[URL_ID]["state"] == "failed" and by_id[URL_ID]["note"] == "no route"
    assert by_id[URL_ID]["download_url"] == "https://example.invalid/m.gguf"
    pane.finish_workers()


def test_each_row_says_whether_its_speed_was_measured_or_estimated(qtbot, starter_store):
    """#24.2: the measured model says measured; every other row says estimated, in the page and the CLI."""
    from app.core.models import speed

    gemma = starter_store.get("gemma-3-270m-q4_k_m")
    speed.record("chat", gemma.id, gemma.size, 40.0, load=0.2)
    pane = ModelsPane(load_settings())
    qtbot.addWidget(pane)
    pane.set_hardware(hardware.detect())
    cells = {r.id: pane.browser.card(r.id).fit_label.text() for r in pane.browser.rows if r.kind == "chat"}
    assert "~40 tokens/s measured" in cells[gemma.id]
    estimated = [i for i, fit in cells.items() if i != gemma.id and "tokens/s" in fit]
    assert estimated and all("estimated" in cells[i] and "measured" not in cells[i] for i in estimated)
    listed = {r["id"]: r for r in json.loads(run_app("models", "list", "--available", "--json").stdout)}
    assert listed[gemma.id]["speed_measured"] and not listed[estimated[0]]["speed_measured"]
    pane.finish_workers()

"""#26: the Models page says which chat model to pick for Ask Hearth on this computer: the largest that the
catalog (resources/catalog.json's `tools`) marks as calling tools well and that fits and runs comfortably here."""

import json
from dataclasses import replace

from app.core import hardware
from app.core.models.fit import estimate_entry_fit
from app.core.resources import resources_dir
from app.core.settings import load_settings
from app.gui.models.page import ModelsPane


def _machine(ram_gb: float):
    """This computer as the page sees it, with the memory given and no GPU."""
    return replace(hardware.detect(), ram_bytes=int(ram_gb * 2**30), gpus=[])


def _pane(qtbot) -> ModelsPane:
    pane = ModelsPane(load_settings())
    qtbot.addWidget(pane)
    return pane


def test_the_models_page_names_a_tool_calling_model_that_fits_for_ask_hearth(qtbot):
    marked = {m["name"]: m["id"] for m in json.loads((resources_dir() / "catalog.json").read_text())["models"]
              if m.get("tools")}
    assert marked, "the catalog marks the chat models that call tools well"
    pane = _pane(qtbot)
    assert not pane.ask_hint.text(), "nothing to say before the hardware is known"
    machine = _machine(16)
    pane.set_hardware(machine)
    hint = pane.ask_hint.text()
    assert "Ask Hearth" in hint and not pane.ask_hint.isHidden()
    named = [name for name in marked if f"pick {name} (" in hint]  # comfortable here, or the fastest that fits
    assert len(named) == 1, hint
    chosen = pane.browser.row_of(marked[named[0]])
    assert ("Calls tools", "plain") in [b for b in _badges(chosen)]
    entry = next(e for e in pane.catalog() if e.id == marked[named[0]])
    assert estimate_entry_fit(entry, machine).verdict != "too_large"
    pane.finish_workers()


def test_without_the_catalogs_tools_mark_or_room_for_one_the_page_says_so(qtbot):
    pane = _pane(qtbot)
    pane.set_hardware(_machine(0.5))  # too small for any of them
    assert "none of them fits this computer" in pane.ask_hint.text()
    pane._catalog = [replace(e, tools=False) for e in pane.catalog()]  # the mark is what the pick reads
    pane.set_hardware(_machine(16))
    assert "none of them fits this computer" in pane.ask_hint.text()
    pane.finish_workers()


def _badges(row):
    from app.gui.models.cards import badges

    return badges(row)

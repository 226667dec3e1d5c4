"""The Models page as a model browser (#24): search and filters narrow the cards, the selected model's
details and actions sit beside them, it fits 1024x640 and 2560x1440 in both themes, and a size reads
the same on the page and in the chat's model picker."""

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QApplication, QDialog, QFileDialog, QInputDialog, QPushButton

from app.core import hardware
from app.core.models.catalog import load_catalog
from app.core.models.fit import estimate_entry_fit
from app.core.models.queue import DownloadQueue, QueuedDownload
from app.core.models.store import ModelStore
from app.core.settings import load_settings
from app.gui import theme
from app.gui.models.page import ModelsPane

FAILED = "qwen2.5-0.5b-instruct-q4_k_m"


def _pane(qtbot):
    pane = ModelsPane(load_settings())
    qtbot.addWidget(pane)
    pane.set_hardware(hardware.detect())
    pane.resize(1000, 700)
    pane.show()
    return pane


def _shown(pane) -> set[str]:
    return {r.id for i, r in enumerate(pane.browser.rows) if not pane.browser.item(i).isHidden()}


def _click(qtbot, pane, model_id):
    """Clicks the model's card, as a user would."""
    item = pane.browser.item(next(i for i, r in enumerate(pane.browser.rows) if r.id == model_id))
    pane.browser.scrollToItem(item)
    QApplication.processEvents()
    qtbot.mouseClick(pane.browser.viewport(), Qt.MouseButton.LeftButton,
                     pos=pane.browser.visualItemRect(item).center())


def test_typing_in_the_search_field_narrows_the_list(qtbot, starter_store):
    pane = _pane(qtbot)
    everything = _shown(pane)
    assert everything == {r.id for r in pane.browser.rows}
    qtbot.keyClicks(pane.filters.search, "whisper")
    whispers = {e.id for e in load_catalog() if "whisper" in e.name.lower()}
    assert _shown(pane) == whispers | {e.id for e in starter_store.list() if "whisper" in e.id}
    assert pane.filters.count.text() == f"{len(_shown(pane))} of {len(everything)} models"
    pane.filters.search.clear()
    qtbot.keyClicks(pane.filters.search, "vision 4b")  # every word, anywhere in the name or description
    assert _shown(pane) == {"gemma-3-4b-it-vision-q4_k_m"}
    pane.filters.search.clear()
    assert _shown(pane) == everything
    pane.finish_workers()


def test_each_filter_narrows_the_list(qtbot, starter_store):
    pane = _pane(qtbot)
    catalog, installed, hw = load_catalog(), starter_store.list(), pane.hardware
    every = {r.id for r in pane.browser.rows}
    for kind in ("chat", "images", "speech"):
        qtbot.mouseClick(pane.filters.kinds[kind], Qt.MouseButton.LeftButton)
        expected = {e.id for e in catalog if e.kind == kind} | {e.id for e in installed if e.kind == kind}
        assert _shown(pane) == expected, kind
    qtbot.mouseClick(pane.filters.kinds[""], Qt.MouseButton.LeftButton)
    assert _shown(pane) == every
    fitting = {e.id for e in catalog if estimate_entry_fit(e, hw).verdict != "too_large"}
    fitting |= {e.id for e in installed if e.kind == "chat" and e.id not in {c.id for c in catalog}
                and estimate_entry_fit(e, hw).verdict != "too_large"}
    chips = {
        "fits": fitting,
        "sees": {e.id for e in catalog if e.projector is not None} | {e.id for e in installed if e.sees},
        "tools": {"qwen2.5-1.5b-instruct-q4_k_m", "qwen2.5-3b-instruct-q4_k_m", "qwen2.5-7b-instruct-q4_k_m",
                  "llama-3.2-3b-instruct-q4_k_m", "llama-3.1-8b-instruct-q4_k_m"},
        "installed": {e.id for e in installed},
    }
    for key, expected in chips.items():
        qtbot.mouseClick(pane.filters.chips[key], Qt.MouseButton.LeftButton)
        assert expected and _shown(pane) == expected, key
        qtbot.mouseClick(pane.filters.chips[key], Qt.MouseButton.LeftButton)
        assert _shown(pane) == every
    qtbot.mouseClick(pane.filters.chips["tools"], Qt.MouseButton.LeftButton)  # filters add up
    qtbot.mouseClick(pane.filters.kinds["speech"], Qt.MouseButton.LeftButton)
    assert _shown(pane) == set() and pane.filters.count.text() == f"0 of {len(every)} models"
    pane.finish_workers()


def _visible_actions(pane) -> set[str]:
    return {key for key, b in pane.buttons.items() if b.isVisible() and b.isEnabled()}


def test_selecting_a_model_shows_its_details_and_the_actions_that_apply(qtbot, starter_store):
    DownloadQueue().put(QueuedDownload(FAILED, "chat", state="failed", error="not found on the server (404)"))
    pane = _pane(qtbot)
    assert pane.selected() is None and _visible_actions(pane) == set()
    entry = next(e for e in load_catalog() if e.id == "qwen2.5-7b-instruct-q4_k_m")
    _click(qtbot, pane, entry.id)
    assert pane.selected().id == entry.id
    d = pane.details
    assert d.title.text() == entry.name and d.description.text() == entry.description
    assert d.facts["Context"].text() == f"{entry.context:,} tokens" and entry.parameters == d.facts["Parameters"].text()
    assert d.facts["Languages"].text().startswith(", ".join(entry.languages[:3]))
    assert d.facts["Speed"].text().startswith(pane.selected().info.speed) and "estimated" in d.facts["Speed"].text()
    assert _visible_actions(pane) == {"download"}
    _click(qtbot, pane, "whisper-base")  # installed
    assert d.title.text() == "Whisper base" and "Installed" in d.state.text()
    assert _visible_actions(pane) == {"default", "folder", "delete"}
    qtbot.mouseClick(pane.buttons["default"], Qt.MouseButton.LeftButton)
    assert pane.settings.default_models["speech"] == "whisper-base"
    assert _visible_actions(pane) == {"folder", "delete"} and "used by default for speech" in d.state.text()
    _click(qtbot, pane, FAILED)
    assert _visible_actions(pane) == {"download", "cancel"}
    assert pane.buttons["download"].text() == "&Retry" and pane.buttons["cancel"].text() == "Cl&ear"
    assert d.state.text() == "Failed: not found on the server (404)"
    assert pane.browser.card(FAILED).state.text() == "Download failed"
    qtbot.keyClicks(pane.filters.search, "whisper")  # the selection filtered away: nothing to act on
    assert pane.selected() is None and _visible_actions(pane) == set()
    pane.select(FAILED)  # selecting it again clears the filters that hid it
    assert pane.selected().id == FAILED and pane.filters.search.text() == ""
    pane.finish_workers()


def _clipped(widget) -> list[str]:
    return [b.accessibleName() or b.text() for b in widget.findChildren(QPushButton)
            if b.isVisible() and b.width() < b.minimumSizeHint().width()]


def test_the_browser_fits_1024x640_and_2560x1440_in_both_themes(qtbot, starter_store, window):
    window.show_pane("models")
    pane = window.panes["models"]
    qtbot.waitUntil(lambda: pane.hardware is not None, timeout=30000)
    holder = window.stack.currentWidget()
    try:
        for scheme in ("light", "dark"):
            theme.apply(scheme)
            for size in ((1024, 640), (2560, 1440)):
                window.resize(*size)
                for model_id in ("whisper-base", FAILED, "qwen2.5-7b-instruct-q4_k_m"):  # 3, 1 and 2 actions
                    pane.select(model_id)
                    QApplication.processEvents()
                    where = f"{model_id} at {size} ({scheme})"
                    assert holder.horizontalScrollBar().maximum() == 0, where
                    assert holder.verticalScrollBar().maximum() == 0, f"the page scrolls: {where}"
                    assert not _clipped(pane), f"buttons cut short: {_clipped(pane)} {where}"
                    card = pane.browser.card(model_id)
                    assert pane.browser.viewport().height() >= 3 * card.height(), f"three cards or more: {where}"
                    assert pane.details.width() >= 280 and pane.details.title.isVisible(), where
                    first, second = (pane.browser.visualItemRect(pane.browser.item(i)) for i in (0, 1))
                    columns = 2 if size[0] > 2000 else 1  # wide: cards side by side, not stretched thin
                    assert (first.top() == second.top()) == (columns == 2), f"{first} {second} {where}"
                    viewport = pane.browser.viewport().rect()
                    assert viewport.contains(pane.browser.visualItemRect(pane.browser.currentItem())), where
    finally:
        theme.apply("light")


def test_a_size_reads_the_same_on_the_models_page_and_in_the_chat_picker(qtbot, starter_store, window):
    """The starter GGUF said 253 MB on the Models page and 241 MB in the chat's picker (10^6 and 2^20)."""
    window.show_pane("models")
    pane = window.panes["models"]
    model_id = "gemma-3-270m-q4_k_m"
    shown = pane.browser.card(model_id).size.text()
    picker = window.panes["chat"].picker.combo
    text = picker.itemText(picker.findData(model_id))
    assert text.startswith(f"{model_id}  ({shown}"), (text, shown)
    pane.select(model_id)
    assert pane.details.facts["Size"].text() == shown
    size = ModelStore().get(model_id).size
    assert shown == f"{size / 1e6:.0f} MB", "decimal megabytes, as the hubs write them"


def test_import_says_its_instructions_in_the_page_and_its_choice_in_words(qtbot, starter_home, monkeypatch):
    gguf = starter_home / "data" / "models" / "gemma-3-270m-q4_k_m"
    gguf = next(gguf.rglob("*.gguf")) if gguf.is_dir() else next((starter_home / "data" / "models").rglob("*.gguf"))
    asked = {}

    def pick(parent, title, *args, **kwargs):
        asked["title"] = title
        return [str(gguf)], ""

    def choose(parent, title, label, items, *args, **kwargs):
        asked["items"] = list(items)
        return "Use where it is (link)", True

    monkeypatch.setattr(QFileDialog, "getOpenFileNames", staticmethod(pick))
    monkeypatch.setattr(QInputDialog, "getItem", staticmethod(choose))
    pane = _pane(qtbot)
    hint = pane.findChild(type(pane.message), "importHint")
    assert hint.isVisible() and "mmproj" in hint.text()
    qtbot.mouseClick(pane.import_file, Qt.MouseButton.LeftButton)
    assert "mmproj" not in asked["title"] and len(asked["title"]) <= 40, asked["title"]
    assert asked["items"] == ["Copy into Hearth's folder", "Move into Hearth's folder", "Use where it is (link)"]
    qtbot.waitUntil(lambda: "Imported" in pane.message.text(), timeout=20000)
    entry = ModelStore().list()[0]
    assert ModelStore().path_of(entry) == gguf, "linked: used where it lies"
    pane.finish_workers()


def test_the_add_server_dialog_has_room_at_1024x640(qtbot, window):
    from app.gui.models.servers import AddServerDialog

    window.resize(1024, 640)
    dialog = AddServerDialog(window)
    qtbot.addWidget(dialog)
    dialog.show()
    QApplication.processEvents()
    assert dialog.height() <= 640 and dialog.width() <= 1024
    for field in (dialog.name, dialog.url, dialog.key):
        wanted = field.fontMetrics().horizontalAdvance(field.placeholderText())
        assert field.width() >= wanted + 16, f"{field.accessibleName()}: {field.width()} px for {wanted} px"
    assert dialog.intro.isVisible() and "OpenAI" in dialog.intro.text()
    assert not _clipped(dialog)
    dialog.done(QDialog.DialogCode.Rejected)

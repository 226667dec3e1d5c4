"""The first five minutes (#24): what a new user meets first does what it says."""

from PySide6.QtCore import Qt

from tests.gui.test_images_pane import images  # noqa: F401 - the indexed library fixture
from tests.helpers import drop_files


def test_a_picture_dropped_on_the_search_field_searches_by_it(qtbot, images):  # noqa: F811
    pane, lib = images
    target = lib["red star"][0]
    with qtbot.waitSignal(pane.results_ready, timeout=30000):
        assert drop_files(pane.query, [target], with_text=True)  # the field says "drop one here"
    assert pane.query.text() == ""  # not its file:// address typed in
    assert pane.results.data(pane.results.index(0), pane.results.PathRole) == str(target)
    qtbot.waitUntil(pane.query_picture.isVisible, timeout=10000)


def test_the_chat_card_stops_saying_no_model_once_one_is_imported(qtbot, window, tmp_path):
    from tests.helpers import make_gguf

    chat, models = window.panes["chat"], window.panes["models"]
    window.show_pane("chat")
    qtbot.waitUntil(chat.first_run.isVisible)
    assert "No chat model yet" in chat.first_run_text.text()
    gguf = make_gguf(tmp_path / "my-model.gguf")
    with qtbot.waitSignal(models.store_changed, timeout=30000):
        models.start_import(str(gguf), "chat", "copy")
    assert chat.picker.current() == "my-model"
    assert not chat.first_run.isVisible(), "the picker shows a model: the card must not say there is none"


def _no_question(monkeypatch, asked):
    from PySide6.QtWidgets import QInputDialog

    from app.gui.models.imports import IMPORT_MODES

    copy = next(label for label, mode in IMPORT_MODES.items() if mode == "copy")
    monkeypatch.setattr(QInputDialog, "getItem", lambda *a, **k: (copy, True))  # the native dialogs
    monkeypatch.setattr(QInputDialog, "getText", lambda *a, **k: (asked.append(a[1]), ("", True))[1])


def test_import_folder_takes_an_openclip_folder(qtbot, window, tmp_path, monkeypatch):
    import shutil

    from PySide6.QtWidgets import QFileDialog

    from tests.conftest import TINY_CLIP

    folder = shutil.copytree(TINY_CLIP, tmp_path / "holiday-clip")
    page, images_pane = window.panes["models"], window.panes["images"]
    window.show_pane("models")
    asked = []
    _no_question(monkeypatch, asked)
    monkeypatch.setattr(QFileDialog, "getExistingDirectory", lambda *a, **k: str(folder))
    qtbot.mouseClick(page.import_folder, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: "Imported" in page.message.text() or "Could not" in page.message.text(), timeout=20000)
    assert page.message.text().startswith("Imported holiday-clip"), page.message.text()
    assert images_pane.picker.current() == "holiday-clip" and asked == []


def test_import_file_of_an_openclip_checkpoint_asks_no_architecture(qtbot, window, tmp_path, monkeypatch):
    import shutil

    from PySide6.QtWidgets import QFileDialog

    from tests.conftest import TINY_CLIP

    folder = shutil.copytree(TINY_CLIP, tmp_path / "hub-clip")
    page = window.panes["models"]
    window.show_pane("models")
    asked = []
    _no_question(monkeypatch, asked)
    weights = str(folder / "open_clip_model.safetensors")
    monkeypatch.setattr(QFileDialog, "getOpenFileNames", lambda *a, **k: ([weights], ""))
    qtbot.mouseClick(page.import_file, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: "Imported" in page.message.text() or "Could not" in page.message.text(), timeout=20000)
    assert page.message.text().startswith("Imported hub-clip"), page.message.text()
    assert asked == [], "its open_clip_config.json names the architecture"
    assert window.panes["images"].picker.current() == "hub-clip"


def _colours(widget) -> int:
    image = widget.grab().toImage()
    return len({image.pixel(x, y) for x in range(0, image.width(), 2) for y in range(0, image.height(), 2)})


def test_after_indexing_the_results_say_what_to_do_and_zero_hides_nothing(qtbot, images):  # noqa: F811
    pane, _lib = images
    assert pane.grid.isVisible() and pane.results.rowCount() == 0
    assert _colours(pane.grid.viewport()) > 2, "a blank box: the grid must say what to do"
    assert "drop a picture" in pane.grid.placeholder
    assert pane.threshold.value() == 0
    qtbot.keyClicks(pane.query, "a red star")
    with qtbot.waitSignal(pane.results_ready, timeout=30000) as blocker:
        qtbot.keyClick(pane.query, Qt.Key.Key_Return)
    positive = sum(h.score > 0 for h in pane.all_hits)
    assert positive < len(pane.all_hits), "the tiny model scores some pictures below zero (no match)"
    assert blocker.args[0] == positive
    assert pane.message.text() == f"{positive} results.", "at 0.00 the slider hides nothing"
    pane.threshold.setValue(int(sorted(h.score for h in pane.all_hits)[-3] * 100))  # hides some matches
    shown, hidden = pane.results.rowCount(), sum(0 < h.score <= pane.threshold.value() / 100 for h in pane.all_hits)
    assert hidden and pane.message.text() == f"{shown} results. {hidden} less similar ones hidden."


def _main_window(qtbot):
    from app.core.settings import load_settings
    from app.gui.main_window import MainWindow

    win = MainWindow(load_settings())
    qtbot.addWidget(win)
    win.show()
    qtbot.waitUntil(lambda: bool(win.panes))
    return win


def _inside(rect, area) -> bool:
    return area.contains(rect.topLeft()) and area.contains(rect.bottomRight())


def test_the_first_window_fits_the_screen(qtbot, hearth_home):
    win = _main_window(qtbot)
    avail = win.screen().availableGeometry()  # the offscreen screen: 800 x 800, narrower than 1100
    assert _inside(win.geometry(), avail), (win.geometry(), avail)
    assert _inside(win.statusBar().geometry().translated(win.geometry().topLeft()), avail)
    win.stop_workers()


def test_a_window_closed_maximized_comes_back_maximized_at_a_usable_size(qtbot, hearth_home):
    from PySide6.QtCore import QRect
    from PySide6.QtWidgets import QMainWindow

    from app.core.settings import load_settings, save_settings
    from app.gui.window_geometry import FRAME, MINIMUM

    other = QMainWindow()  # what a maximized window on another screen left behind: a tiny normal size
    other.setGeometry(QRect(5, 5, 230, 255))
    other.setWindowState(other.windowState() | Qt.WindowState.WindowMaximized)
    settings = load_settings()
    settings.window_geometry = bytes(other.saveGeometry().toBase64()).decode()
    save_settings(settings)
    win = _main_window(qtbot)
    avail = win.screen().availableGeometry()
    assert win.isMaximized()
    usable = MINIMUM.boundedTo(avail.size() - FRAME)  # the screen is smaller than MINIMUM: all of it
    normal = win.normalGeometry()  # what un-maximizing gives
    assert normal.width() >= usable.width() and normal.height() >= usable.height(), normal
    assert _inside(normal, avail)
    win.showNormal()
    qtbot.waitUntil(lambda: not win.isMaximized())
    assert win.width() >= usable.width() and win.height() >= usable.height() and _inside(win.geometry(), avail)
    win.stop_workers()

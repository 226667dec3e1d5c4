import pytest
from PySide6.QtCore import QEvent, QObject, Qt, QTimer

from app.core.settings import PANES, load_settings
from app.gui.main_window import MainWindow
from tests.helpers import nvidia_gpu_names


def _click_nav(qtbot, win, row):
    item = win.nav.item(row)
    rect = win.nav.visualItemRect(item)
    qtbot.mouseClick(win.nav.viewport(), Qt.MouseButton.LeftButton, pos=rect.center())


def test_every_pane_is_reachable_by_click(qtbot, window):
    for row, name in reversed(list(enumerate(PANES))):
        _click_nav(qtbot, window, row)
        assert window.current_pane() == name
        assert window.current_widget() is window.panes[name]
        assert window.current_widget().isVisible()


@pytest.mark.parametrize("key, name", [(Qt.Key.Key_1, "chat"), (Qt.Key.Key_2, "images"),
                                       (Qt.Key.Key_3, "speech"), (Qt.Key.Key_4, "documents"),
                                       (Qt.Key.Key_5, "models")])
def test_every_pane_is_reachable_by_shortcut(qtbot, window, key, name):
    window.show_pane("models" if name != "models" else "chat")
    qtbot.keyClick(window, key, Qt.KeyboardModifier.ControlModifier)
    assert window.current_pane() == name


def test_settings_survive_a_restart(qtbot, open_window):
    first = open_window()  # with its panes: Ctrl+3 needs them, built after the first paint
    first.activateWindow()
    qtbot.waitActive(first)
    qtbot.keyClick(first, Qt.Key.Key_3, Qt.KeyboardModifier.ControlModifier)
    assert first.current_pane() == "speech"
    first.resize(700, 500)
    first.close()
    assert load_settings().last_pane == "speech"

    second = open_window(panes=False)
    qtbot.waitExposed(second)
    assert second.current_pane() == "speech"
    qtbot.waitUntil(lambda: second.current_widget() is second.panes.get("speech"))
    assert (second.width(), second.height()) == (700, 500)
    second.close()


def test_status_bar_names_the_hardware(qtbot, window):
    qtbot.waitUntil(lambda: window.hardware is not None, timeout=15000)
    text = window.hw_label.text()
    assert f"{window.hardware.cpu.physical_cores}-core" in text
    assert "GB RAM" in text
    gpus = nvidia_gpu_names()  # what nvidia-smi says, not what this machine is assumed to have
    if gpus:
        assert all(name in text for name in gpus) and "no GPU" not in text
    else:
        assert "no GPU" in text


def test_hardware_dialog_from_the_help_menu(qtbot, window):
    qtbot.waitUntil(lambda: window.hardware is not None, timeout=15000)
    window.hardware_action.trigger()
    dialog = window._hardware_dialog
    assert dialog.isVisible()
    assert "Runtimes:" in dialog.text.toPlainText() and "llama.cpp" in dialog.text.toPlainText()
    # Detection is cached per process; the dialog's button detects again, off the GUI thread.
    first = window.hardware
    qtbot.mouseClick(dialog.refresh, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: window.hardware is not first, timeout=15000)
    assert "Runtimes:" in dialog.text.toPlainText() and dialog.refresh.isEnabled()


def test_panes_say_which_model_they_will_use(qtbot, starter_store, open_window):
    win = open_window()
    chat, speech, images = win.panes["chat"], win.panes["speech"], win.panes["images"]
    assert chat.picker.current() == "gemma-3-270m-q4_k_m"
    assert "gemma-3-270m-q4_k_m" in chat.picker.status.text()
    assert speech.picker.current() == "whisper-base"
    assert images.picker.current() is None and "No images model" in images.picker.status.text()
    # "Manage models…" leads to the Models pane, which lists both starters.
    qtbot.mouseClick(images.picker.manage, Qt.MouseButton.LeftButton)
    assert win.current_pane() == "models"
    models = win.panes["models"]
    installed = {r.id for r in models.browser.rows if r.status == "installed"}
    assert installed == {"gemma-3-270m-q4_k_m", "whisper-base", "all-minilm-l6-v2", "resemblyzer-voice-encoder"}
    win.close()


def test_widgets_carry_accessible_names(window):
    from PySide6.QtWidgets import QComboBox, QListWidget, QPushButton, QTableWidget

    unnamed = [
        w.objectName() or type(w).__name__
        for kind in (QComboBox, QListWidget, QTableWidget)
        for w in window.findChildren(kind)
        if not w.accessibleName()
    ]
    unnamed += [b.text() for b in window.findChildren(QPushButton) if not (b.accessibleName() or b.text())]
    assert unnamed == []


def test_models_pane_imports_in_the_background(qtbot, window, tmp_path):
    from tests.helpers import make_gguf

    pane = window.panes["models"]
    window.show_pane("models")
    job = pane.start_import(str(make_gguf(tmp_path / "tiny.gguf")), "chat")
    qtbot.waitUntil(lambda: job.done, timeout=10000)
    assert "Imported tiny" in pane.message.text()
    assert pane.browser.row_of("tiny").status == "installed"
    assert window.panes["chat"].picker.current() == "tiny"

    bad = tmp_path / "bad.gguf"
    bad.write_text("not a model")
    job = pane.start_import(str(bad), "chat")
    qtbot.waitUntil(lambda: job.done, timeout=10000)
    assert "not a GGUF" in pane.message.text()
    assert [r.id for r in pane.browser.rows if not r.catalog] == ["tiny"]


def test_a_pane_that_fails_to_build_is_an_error_pane_and_the_rest_work(qtbot, open_window, monkeypatch):
    from app.gui.images.pane import ImagesPane
    from app.gui.panes.base import BrokenPane

    def fail(self):
        raise RuntimeError("no room for folders")

    monkeypatch.setattr(ImagesPane, "_build_folders", fail)
    win = open_window()
    broken = win.panes["images"]
    assert isinstance(broken, BrokenPane) and set(win.broken_panes) == {"images"}
    assert "could not start: no room for folders" in broken.message.text()
    for row, name in enumerate(PANES):
        _click_nav(qtbot, win, row)
        assert win.current_widget() is win.panes[name]
    win.panes["models"].store_changed.emit()  # refreshes every picker; the broken pane has none
    qtbot.waitUntil(lambda: win.hardware is not None, timeout=15000)  # reaches every pane, the broken one too
    win.stop_workers()


def test_quitting_does_not_block_the_gui_thread_while_a_worker_finishes(qtbot, window):
    import threading

    release, started = threading.Event(), threading.Event()

    def busy(cancel, progress):
        started.set()
        release.wait(20)

    window.worker.submit(busy, name="busy")
    qtbot.waitUntil(started.is_set, timeout=10000)
    ended = []
    window.closed.connect(lambda: ended.append(True))
    assert window.close() is False, "the close waits for the workers, without blocking"
    assert not window.isVisible() and ended == []
    qtbot.wait(50)  # the GUI thread keeps turning while the worker is busy
    assert ended == []
    with qtbot.waitSignal(window.closed, timeout=15000):
        release.set()
    assert ended == [True]


class _CloseOnFirstPaint(QObject):
    """Queues the window's close as its first paint begins: ahead of the building of the panes
    that the paint queues, as when the user quits at once."""

    def eventFilter(self, obj, event):  # noqa: N802 - Qt override
        if event.type() == QEvent.Type.Paint:
            obj.removeEventFilter(self)
            QTimer.singleShot(0, obj.close)
        return False


def test_a_window_closed_before_its_panes_are_built_starts_no_workers(qtbot, hearth_home):
    win = MainWindow(load_settings())
    qtbot.addWidget(win)
    closer = _CloseOnFirstPaint()
    win.installEventFilter(closer)
    win.show()
    qtbot.waitUntil(lambda: win._painted and not win.isVisible())
    ran = []
    QTimer.singleShot(0, lambda: ran.append(True))  # queued after the building, so it runs after it
    qtbot.waitUntil(lambda: bool(ran))
    assert win.panes == {}, "the panes (and their worker threads) were built for a closed window"

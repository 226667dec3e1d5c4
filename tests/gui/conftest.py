import pytest


@pytest.fixture
def window(qtbot, hearth_home):
    from app.core.settings import load_settings
    from app.gui.errors import install_hooks
    from app.gui.main_window import MainWindow

    install_hooks()
    win = MainWindow(load_settings())
    qtbot.addWidget(win)
    win.show()
    win.activateWindow()
    qtbot.waitActive(win)
    qtbot.waitUntil(lambda: bool(win.panes))
    qtbot.wait(50)  # the shortcut map settles after activation
    yield win
    win.stop_workers()

"""#23: what became of a saved file (set aside, a newer Hearth's kept) is said in the window once."""

from app.core import paths
from app.core.saved_json import take_notices
from app.core.settings import load_settings
from app.gui.main_window import MainWindow


def test_damaged_settings_are_named_in_the_status_bar(qtbot):
    take_notices()
    paths.settings_file().write_text("{broken", encoding="utf-8")
    win = MainWindow(load_settings())
    qtbot.addWidget(win)
    win.show()
    qtbot.waitUntil(lambda: "models" in win.panes, timeout=10000)
    aside = sorted(paths.settings_file().parent.glob("settings.json.invalid-*"))
    assert len(aside) == 1 and aside[0].read_text(encoding="utf-8") == "{broken"
    message = win.statusBar().currentMessage()
    assert "settings.json was invalid" in message and aside[0].name in message
    assert take_notices() == [], "said once"

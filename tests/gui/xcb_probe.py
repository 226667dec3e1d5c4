"""Run by test_real_display on an Xvfb screen with a window manager (QT_QPA_PLATFORM=xcb): opens
Hearth's window as a user would, lets it settle, and prints what a user would see of it as JSON.
``close``: then closes the window maximized (it saves its geometry), as a user quitting would."""

import json
import os
import sys

from PySide6.QtCore import QPoint, QRect, QTimer


def main() -> None:
    from app.core.settings import load_settings
    from app.gui.application import create_app
    from app.gui.main_window import MainWindow

    app = create_app([])
    win = MainWindow(load_settings())
    win.show()

    def rect(r: QRect) -> list[int]:
        return [r.x(), r.y(), r.width(), r.height()]

    def report() -> None:
        nav = win.nav
        switch = win.server_switch
        at = switch.mapToGlobal(QPoint(0, 0))
        print(json.dumps({
            "rects": [rect(nav.visualItemRect(nav.item(i))) for i in range(nav.count())],
            "frame": rect(win.frameGeometry()), "normal": rect(win.normalGeometry()),
            "maximized": win.isMaximized(), "avail": rect(win.screen().availableGeometry()),
            "switch": [at.x(), at.y(), switch.width(), switch.height()],
        }), flush=True)
        if "close" in sys.argv:
            win.showMaximized()
            QTimer.singleShot(1000, win.close)
        else:
            win.close()

    win.closed.connect(lambda: os._exit(0))
    win.panes_ready.connect(lambda: QTimer.singleShot(1500, report))  # the window manager has placed it
    app.exec()


if __name__ == "__main__":
    main()

"""Where the main window opens: the first time at a size that fits the screen, later where it was
left, but never off the screen it opens on, larger than it, or too small to use (#24.4)."""

from __future__ import annotations

from PySide6.QtCore import QByteArray, QRect, QSize
from PySide6.QtGui import QGuiApplication

DEFAULT = QSize(1100, 720)
MINIMUM = QSize(960, 600)  # the panes are laid out for 1024 x 640 at the least
SMALLEST = QSize(480, 360)  # a size the user chose is kept down to this; below it, it is a broken geometry
FRAME = QSize(16, 48)  # the window manager's title bar and borders, unknown before the window shows


def place(window, saved: str = "") -> bool:
    """Restores ``saved`` (base64 of saveGeometry) clamped to the screen, or opens at a size that fits.
    True: the window is to be shown maximized (``showMaximized``). Not set here by setWindowState: its
    Qt.WindowState argument makes PySide build the Qt namespace's ~95 enums, 20-60 ms before the first paint."""
    restored = bool(saved) and window.restoreGeometry(QByteArray.fromBase64(saved.encode()))
    maximized = window.isMaximized()  # not windowState(): the Qt namespace costs ~20 ms before the first paint
    normal = (window.normalGeometry() if maximized else window.geometry()) if restored else QRect()
    screen = (QGuiApplication.screenAt(normal.center()) if restored else None) or window.screen() \
        or QGuiApplication.primaryScreen()
    if screen is None:  # no screen at all: nothing to fit
        window.resize(DEFAULT)
        return False
    avail = screen.availableGeometry()
    room = QSize(max(avail.width() - FRAME.width(), 1), max(avail.height() - FRAME.height(), 1))
    if not restored:
        fits = DEFAULT.width() <= room.width() and DEFAULT.height() <= room.height()
        rect = QRect(0, 0, *(DEFAULT if fits else room).toTuple())
        rect.moveCenter(avail.center())
        window.setGeometry(rect)
        return not fits  # a small screen: all of it, status bar included
    # A maximized window's normal size was never chosen (one came back 230 x 255): it gets a usable one;
    # a size the user dragged the window to is kept unless it is too small to be one.
    floor = MINIMUM if maximized else SMALLEST
    size = normal.size().boundedTo(room).expandedTo(floor.boundedTo(room))
    border = FRAME.width() // 2  # the frame's left, right and bottom; the rest of FRAME's height is its title
    x = min(max(normal.x(), avail.x() + border), avail.x() + avail.width() - size.width() - border)
    y = min(max(normal.y(), avail.y() + FRAME.height() - border), avail.y() + avail.height() - size.height() - border)
    window.setGeometry(QRect(x, y, size.width(), size.height()))
    return maximized

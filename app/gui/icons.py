"""SVG icons from resources/icons/ui, tinted to the current theme (no emoji font needed).

An icon is Qt's own SVG icon engine over a copy of the SVG in its colour: it draws a size when a widget
first paints it, so building the window or a message draws nothing (drawing ten sizes of each icon up
front took ~30 ms of the window's first paint, and more for each chat message). The copies live in a
folder of this process's own, removed at exit: Qt reads the file again for each new size, so a folder
the user (or a test) may empty while Hearth runs would leave blank icons.
"""

from __future__ import annotations

import atexit
import logging
import threading
import zlib
from functools import lru_cache
from pathlib import Path

from PySide6.QtCore import QSize
from PySide6.QtGui import QIcon

from app.core.resources import resources_dir
from app.gui.colors import current_colors

log = logging.getLogger(__name__)
SIZES = (16, 20, 24, 32, 48)  # drawn up front only where no folder can be written
_folder: list[Path] = []  # this process's, once made
_folder_lock = threading.Lock()  # tinted_file is plain file work: the chat's warm-up calls it on a worker


def icon_path(name: str):
    return resources_dir() / "icons" / "ui" / f"{name}.svg"


@lru_cache(maxsize=64)
def _source(name: str) -> str:
    return icon_path(name).read_text(encoding="utf-8")


@lru_cache(maxsize=256)
def _svg(name: str, color: str) -> bytes:
    return _source(name).replace("currentColor", color).encode()


def _own_folder() -> Path:
    with _folder_lock:
        if not _folder:
            import shutil
            import tempfile

            folder = Path(tempfile.mkdtemp(prefix="hearth-icons-"))
            atexit.register(shutil.rmtree, folder, ignore_errors=True)
            _folder.append(folder)
        return _folder[0]


@lru_cache(maxsize=512)
def tinted_file(name: str, color: str) -> str:
    """The icon's SVG in ``color``, as a file Qt's SVG icon engine can load. OSError where none can be written."""
    data = _svg(name, color)
    path = _own_folder() / f"{name}-{color.lstrip('#')}-{zlib.crc32(data):08x}.svg"
    path.write_bytes(data)
    return str(path)


def pixmap(name: str, size: int, color: str, ratio: float = 1.0):
    """The icon drawn now, as a QPixmap: only where no folder for the SVG copies can be written."""
    from PySide6.QtCore import QByteArray, QRectF
    from PySide6.QtGui import QColor, QPainter, QPixmap
    from PySide6.QtSvg import QSvgRenderer

    renderer = QSvgRenderer(QByteArray(_svg(name, color)))
    px = QPixmap(int(size * ratio), int(size * ratio))
    px.fill(QColor(0, 0, 0, 0))  # not Qt.GlobalColor: the Qt namespace costs ~20 ms before the first paint
    painter = QPainter(px)
    renderer.render(painter, QRectF(0, 0, px.width(), px.height()))
    painter.end()
    px.setDevicePixelRatio(ratio)
    return px


def icon(name: str, color: str | None = None, disabled: str | None = None, selected: str | None = None,
         greyed: bool = True) -> QIcon:
    """An icon drawn in the theme's text colour (or `color`), greyed when disabled (unless not ``greyed``:
    the pane list's rows never are), in `selected` when selected (an item view's current row; without it
    Qt tints the normal one)."""
    colors = current_colors()
    return QIcon(_icon(name, color or colors["text"], (disabled or colors["disabled"]) if greyed else None, selected))


@lru_cache(maxsize=256)
def _icon(name: str, color: str, disabled: str | None, selected: str | None) -> QIcon:
    """One per name and colours: every message's buttons share them."""
    modes = [(mode, tint) for mode, tint in ((QIcon.Mode.Disabled, disabled), (QIcon.Mode.Selected, selected))
             if tint]
    try:
        result = QIcon(tinted_file(name, color))
        for mode, tint in modes:
            result.addFile(tinted_file(name, tint), QSize(), mode)
        return result
    except OSError as exc:
        log.warning("icons are drawn up front: no folder for them can be written (%s)", exc)
    result = QIcon()
    for size in SIZES:
        result.addPixmap(pixmap(name, size, color, 2.0), QIcon.Mode.Normal)
        for mode, tint in modes:
            result.addPixmap(pixmap(name, size, tint, 2.0), mode)
    return result

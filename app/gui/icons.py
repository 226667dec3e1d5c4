"""SVG icons from resources/icons/ui, tinted to the current theme (no emoji font needed)."""

from __future__ import annotations

from functools import lru_cache

from PySide6.QtCore import QByteArray, QRectF, Qt
from PySide6.QtGui import QIcon, QPainter, QPixmap
from PySide6.QtSvg import QSvgRenderer

from app.core.resources import resources_dir
from app.gui.colors import current_colors

SIZES = (16, 20, 24, 32, 48)


def icon_path(name: str):
    return resources_dir() / "icons" / "ui" / f"{name}.svg"


@lru_cache(maxsize=256)
def _svg(name: str, color: str) -> bytes:
    text = icon_path(name).read_text(encoding="utf-8")
    return text.replace("currentColor", color).encode()


def pixmap(name: str, size: int, color: str, ratio: float = 1.0) -> QPixmap:
    renderer = QSvgRenderer(QByteArray(_svg(name, color)))
    px = QPixmap(int(size * ratio), int(size * ratio))
    px.fill(Qt.GlobalColor.transparent)
    painter = QPainter(px)
    renderer.render(painter, QRectF(0, 0, px.width(), px.height()))
    painter.end()
    px.setDevicePixelRatio(ratio)
    return px


def icon(name: str, color: str | None = None, disabled: str | None = None) -> QIcon:
    """An icon drawn in the theme's text colour (or `color`), greyed when disabled."""
    colors = current_colors()
    color = color or colors["text"]
    disabled = disabled or colors["disabled"]
    result = QIcon()
    for size in SIZES:
        result.addPixmap(pixmap(name, size, color, 2.0), QIcon.Mode.Normal)
        result.addPixmap(pixmap(name, size, disabled, 2.0), QIcon.Mode.Disabled)
    return result

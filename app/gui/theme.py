"""Light and dark themes: a Fusion palette, one style sheet, and the colours other widgets ask for.

"system" (the default) follows the desktop's colour scheme and changes with it.
"""

from __future__ import annotations

import logging
import weakref

from PySide6.QtCore import QObject, Signal
from PySide6.QtGui import QColor, QGuiApplication, QPalette
from PySide6.QtWidgets import QApplication

from app.gui import colors
from app.gui.colors import COLORS, current, current_colors

__all__ = ["COLORS", "current", "current_colors"]  # theme.COLORS and friends, as before

log = logging.getLogger(__name__)

THEMES = ("system", "light", "dark")
LABELS = {"system": "Follow the system", "light": "Light", "dark": "Dark"}

class _Notifier(QObject):
    changed = Signal(str)  # "light" | "dark"


_state = {"choice": "system", "hooked": False, "palette_set": False}
_notifier: _Notifier | None = None
_icon_users: list[tuple[weakref.ref, str]] = []


def notifier() -> _Notifier:
    global _notifier
    if _notifier is None:
        _notifier = _Notifier()
    return _notifier


def system_scheme() -> str:
    app = QGuiApplication.instance()
    if app is None:
        return "light"
    if not _state["palette_set"]:
        return _palette_scheme(app)
    from PySide6.QtCore import Qt

    try:
        scheme = app.styleHints().colorScheme()
    except AttributeError:  # Qt before 6.5
        return "light"
    return "dark" if scheme == Qt.ColorScheme.Dark else "light"


def _palette_scheme(app) -> str:
    """The scheme the platform's own palette shows (dark: text lighter than its window), for the first
    theme, before the window's first paint: colorScheme() returns an enum of the Qt namespace, and making
    its ~95 enums costs 20-40 ms. ``confirm_system_scheme`` asks Qt itself once the window has painted."""
    p = app.palette()
    window, text = p.color(QPalette.ColorRole.Window), p.color(QPalette.ColorRole.WindowText)
    return "dark" if window.lightness() < text.lightness() else "light"


def confirm_system_scheme() -> None:
    """After the first paint: the colour scheme Qt reports wins over the palette's guess."""
    _on_system_change()


def resolve(choice: str) -> str:
    return system_scheme() if choice not in ("light", "dark") else choice


def palette(name: str) -> QPalette:
    c = COLORS[name]
    p = QPalette()
    role = QPalette.ColorRole
    for r, key in (
        (role.Window, "window"), (role.WindowText, "text"), (role.Base, "base"), (role.AlternateBase, "alt"),
        (role.Text, "text"), (role.Button, "alt"), (role.ButtonText, "text"), (role.ToolTipBase, "base"),
        (role.ToolTipText, "text"), (role.Highlight, "accent"), (role.HighlightedText, "accent_text"),
        (role.Link, "link"), (role.PlaceholderText, "muted"), (role.BrightText, "error"),
    ):
        p.setColor(r, QColor(c[key]))
    for r in (role.WindowText, role.Text, role.ButtonText):
        p.setColor(QPalette.ColorGroup.Disabled, r, QColor(c["disabled"]))
    return p


def tick_file(color: str) -> str:
    """A checkbox's tick in ``color``, as a file a style sheet can name (style sheets take no icon object)."""
    from app.core import paths

    path = paths.cache_dir() / "ui" / f"tick-{color.lstrip('#')}.svg"
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text('<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 24 24" width="24" height="24" '
                        f'fill="none" stroke="{color}" stroke-width="3.2" stroke-linecap="round" '
                        'stroke-linejoin="round"><path d="M5 12.5l4.5 4.5L19 7.5"/></svg>', encoding="utf-8")
    return path.as_posix()


def style_sheet(name: str) -> str:
    c = COLORS[name]
    return f"""
QListWidget#paneList {{ background: {c['sidebar']}; border: none; padding: 8px 6px; outline: 0; }}
QListWidget#paneList::item {{ padding: 8px 10px; margin: 2px 0; border-radius: 6px; color: {c['text']}; }}
QListWidget#paneList::item:hover {{ background: {c['alt']}; }}
QListWidget#paneList::item:selected {{ background: {c['accent']}; color: {c['accent_text']}; }}
QFrame#message-user {{ background: {c['user']}; border: 1px solid {c['border']}; border-radius: 10px; }}
QFrame#message-assistant, QFrame#message-system {{
    background: {c['assistant']}; border: 1px solid {c['border']}; border-radius: 10px; }}
QFrame#message-user QTextBrowser, QFrame#message-assistant QTextBrowser, QFrame#message-system QTextBrowser {{
    background: transparent; }}
QLabel#messageStats, QLabel#libraryReach, QLabel#stepNote, QLabel#sourcesLabel {{ color: {c['muted']}; }}
QPushButton#stepHeader, QPushButton#stepResult {{ text-align: left; border: none; background: transparent;
    padding: 2px 4px; }}
QPushButton#stepHeader:hover, QPushButton#stepResult:hover {{ background: {c['alt']}; }}
QLabel#chatNotice, QLabel#paneNotice {{ color: {c['muted']}; }}
QLabel[role="error"] {{ color: {c['error']}; }}
QFrame#emptyState {{ background: {c['base']}; border: 1px dashed {c['border']}; border-radius: 12px; }}
QPushButton {{ background: {c['base']}; color: {c['text']}; border: 1px solid {c['border']}; border-radius: 6px;
    padding: 4px 8px; }}
QPushButton:hover {{ background: {c['alt']}; }}
QPushButton:focus {{ border-color: {c['accent']}; }}
QPushButton:pressed, QPushButton:checked {{ background: {c['selection']}; border-color: {c['accent']}; }}
QPushButton:disabled {{ color: {c['disabled']}; background: transparent; border: 1px dashed {c['border']}; }}
QPushButton[primary="true"] {{ background: {c['accent']}; color: {c['accent_text']}; border: none;
    border-radius: 6px; padding: 6px 14px; font-weight: 600; }}
QPushButton[primary="true"]:disabled {{ background: {c['alt']}; color: {c['disabled']}; }}
QScrollArea#conversationView {{ background: {c['window']}; border: none; }}
QWidget#conversationInner {{ background: {c['window']}; }}
QPlainTextEdit#chatInput {{ border: 1px solid {c['border']}; border-radius: 8px; padding: 4px;
    background: {c['base']}; }}
QPlainTextEdit#chatInput:focus {{ border: 1px solid {c['accent']}; }}
QToolTip {{ color: {c['text']}; background: {c['base']}; border: 1px solid {c['border']}; }}
QLineEdit {{ border: 1px solid {c['border']}; border-radius: 6px; padding: 4px 8px; background: {c['base']};
    selection-background-color: {c['selection']}; selection-color: {c['text']}; }}
QLineEdit:focus {{ border: 1px solid {c['accent']}; }}
QLineEdit:disabled {{ color: {c['muted']}; background: {c['alt']}; }}
QAbstractSpinBox QLineEdit, QComboBox QLineEdit {{ border: none; padding: 0; background: transparent; }}
QListWidget#conversationList, QListWidget#transcriptList, QListWidget#folderList, QListWidget#speechQueue,
QListWidget#transcript {{ border: 1px solid {c['border']}; border-radius: 6px; background: {c['base']};
    padding: 4px; outline: 0; }}
QListWidget#conversationList::item, QListWidget#transcriptList::item, QListWidget#folderList::item,
QListWidget#speechQueue::item {{ padding: 6px 8px; border-radius: 5px; color: {c['text']}; }}
QListWidget#transcript::item {{ padding: 3px 6px; border-radius: 4px; color: {c['text']}; }}
QListWidget#conversationList::item:hover, QListWidget#transcriptList::item:hover,
QListWidget#folderList::item:hover, QListWidget#transcript::item:hover {{ background: {c['alt']}; }}
QListWidget#conversationList::item:selected, QListWidget#transcriptList::item:selected,
QListWidget#folderList::item:selected, QListWidget#speechQueue::item:selected,
QListWidget#transcript::item:selected {{ background: {c['selection']}; color: {c['text']}; }}
QListWidget#conversationList::item:disabled {{ color: {c['muted']}; }}
QListWidget#findResults {{ border: 1px solid {c['border']}; border-radius: 6px; background: {c['base']};
    padding: 4px; outline: 0; }}
QListWidget#findResults::item {{ padding: 3px 6px; border-radius: 4px; color: {c['text']}; }}
QListWidget#findResults::item:disabled {{ color: {c['muted']}; padding-top: 8px; }}
QListWidget#findResults::item:enabled:hover {{ background: {c['alt']}; }}
QListWidget#findResults::item:selected {{ background: {c['selection']}; color: {c['text']}; }}
QListWidget#modelList {{ border: 1px solid {c['border']}; border-radius: 8px; background: {c['base']};
    padding: 4px; outline: 0; }}
QListWidget#modelList::item {{ border-radius: 6px; border-bottom: 1px solid {c['alt']}; }}
QListWidget#modelList::item:hover {{ background: {c['alt']}; }}
QListWidget#modelList::item:selected {{ background: {c['selection']}; }}
QLabel#modelCardName {{ font-weight: 600; }}
QLabel#modelDetailsTitle {{ font-size: 15pt; font-weight: 600; }}
QLabel#modelCardText, QLabel#modelCardFit, QLabel#modelCardState, QLabel#modelCardSize, QLabel#modelDetailsId,
QLabel#speedBasis, QLabel#importHint, QLabel#modelsSummary, QLabel#modelCount {{ color: {c['muted']}; }}
QLabel[badge="plain"] {{ background: {c['alt']}; color: {c['text']}; border: 1px solid {c['border']};
    border-radius: 8px; padding: 0 6px; }}
QLabel[badge="good"] {{ background: {c['selection']}; color: {c['text']}; border: 1px solid {c['accent']};
    border-radius: 8px; padding: 0 6px; }}
QLabel[badge="accent"] {{ background: {c['accent']}; color: {c['accent_text']}; border-radius: 8px; padding: 0 6px; }}
QScrollArea#modelDetailsScroll {{ border: 1px solid {c['border']}; border-radius: 8px; background: {c['base']}; }}
QFrame#modelDetails {{ background: {c['base']}; }}
QLabel#modelCardState[role="error"], QLabel#modelDetailsState[role="error"] {{ color: {c['error']}; }}
QPushButton[chip="true"] {{ border-radius: 12px; padding: 3px 10px; }}
QCheckBox::indicator {{ width: 14px; height: 14px; border: 1px solid {c['muted']}; border-radius: 4px;
    background: {c['base']}; }}
QCheckBox::indicator:hover {{ border-color: {c['accent']}; }}
QCheckBox::indicator:checked {{ background: {c['accent']}; border-color: {c['accent']};
    image: url("{tick_file(c['accent_text'])}"); }}
QCheckBox::indicator:disabled {{ background: {c['alt']}; border-color: {c['border']}; }}
QProgressBar#levelMeter {{ border: none; border-radius: 3px; background: {c['alt']}; max-height: 6px; }}
QProgressBar#levelMeter::chunk {{ background: {c['accent']}; border-radius: 3px; }}
"""


def apply(choice: str = "system", app: QApplication | None = None) -> str:
    """Applies a theme choice to the application; returns the scheme in use ("light" or "dark")."""
    app = app or QApplication.instance()
    choice = choice if choice in THEMES else "system"
    _state["choice"] = choice
    name = resolve(choice)
    colors.set_current(name)
    if app is None:
        return name
    if not _state["hooked"]:
        _state["hooked"] = True
        try:
            app.styleHints().colorSchemeChanged.connect(_on_system_change)
        except AttributeError:
            pass
    app.setPalette(palette(name))
    _state["palette_set"] = True  # from now on app.palette() is ours, not the platform's
    app.setStyleSheet(style_sheet(name))
    _retint_icons()
    notifier().changed.emit(name)
    return name


def _on_system_change(*_args) -> None:
    if _state["choice"] == "system" and resolve("system") != current():
        apply("system")


def set_icon(widget, name: str) -> None:
    """Gives a button (or action) an icon that follows theme changes."""
    from app.gui.icons import icon

    widget.setIcon(icon(name))
    _icon_users.append((weakref.ref(widget), name))


def _retint_icons() -> None:
    from app.gui.icons import icon

    alive = []
    for ref, name in _icon_users:
        widget = ref()
        if widget is None:
            continue
        try:
            widget.setIcon(icon(name))
        except RuntimeError:  # the C++ object is gone
            continue
        alive.append((ref, name))
    _icon_users[:] = alive

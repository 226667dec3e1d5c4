"""The themes' colours and the scheme in use: what icons.py tints with and theme.py applies.

Apart from theme.py so that icons.py can read the colours without importing theme.py, which draws
its buttons' icons with icons.py.
"""

from __future__ import annotations

COLORS = {
    "light": {
        "window": "#f6f5f3", "base": "#ffffff", "alt": "#efedea", "text": "#1f2328", "muted": "#6b7075",
        "accent": "#c2551f", "accent_text": "#ffffff", "border": "#d8d5d0", "sidebar": "#ecebe8",
        "user": "#fbeee6", "assistant": "#ffffff", "code_bg": "#f3f2ef", "code_border": "#dedbd6",
        "link": "#0b62c4", "error": "#b3261e", "selection": "#f3c9b2", "disabled": "#a9acb0",
    },
    "dark": {
        "window": "#1e1f22", "base": "#26282c", "alt": "#2d2f34", "text": "#e6e6e6", "muted": "#9aa0a6",
        "accent": "#ef8a4c", "accent_text": "#1b1b1b", "border": "#4a4e56", "sidebar": "#18191b",
        "user": "#3a2d25", "assistant": "#26282c", "code_bg": "#16171a", "code_border": "#3a3d43",
        "link": "#7ab7ff", "error": "#ff8a80", "selection": "#6b4a36", "disabled": "#5c6067",
    },
}

_applied = {"name": "light"}


def current() -> str:
    """The scheme in use: "light" or "dark" (theme.apply sets it)."""
    return _applied["name"]


def current_colors() -> dict[str, str]:
    return COLORS[current()]


def set_current(name: str) -> None:
    _applied["name"] = name

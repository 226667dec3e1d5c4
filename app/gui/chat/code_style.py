"""The Pygments style for each theme."""

from __future__ import annotations

from pygments.styles import get_style_by_name
from pygments.util import ClassNotFound

NAMES = {"light": "friendly", "dark": "monokai"}


def pygments_style(scheme: str):
    try:
        return get_style_by_name(NAMES.get(scheme, "friendly"))
    except ClassNotFound:  # a trimmed Pygments
        return get_style_by_name("default")

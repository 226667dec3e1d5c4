"""The Chat pane's warm-up: what the first Send would otherwise do on the GUI thread, done on a worker."""

from __future__ import annotations

# What the first message needs that the window did not: imported by warm_up on the pictures' worker.
WARM_UP = ("app.core.chat.session", "app.core.chat.pictures", "app.core.images.scan", "app.core.models.projector",
           "app.core.models.speed", "app.core.models.catalog")


MESSAGE_ICONS = ("copy", "edit", "regenerate", "close")


def warm_up(cancel, progress, colors: dict) -> None:
    """Imports (and runs once) what the first Send would otherwise import on the GUI thread: the session,
    the pictures' decoder, the Markdown parser and the code highlighter, ~100-200 ms that stalled the window."""
    import importlib

    from app.gui.chat import markdown

    for name in WARM_UP:
        importlib.import_module(name)
    markdown.segments("*A* `b`\n\n```python\nc = 1\n```\n")
    from app.gui import icons

    for name in MESSAGE_ICONS:  # the files the first message's buttons read (icons.tinted_file is plain I/O)
        icons.tinted_file(name, colors["text"])
        icons.tinted_file(name, colors["disabled"])

"""Text from outside (a server's model ids, its error bodies, a reply) made safe to show.

A terminal obeys the control characters in what it prints: ESC sequences clear the screen,
set the window title or rewrite earlier lines, and a lone surrogate cannot even be encoded
for it. So every C0 and C1 control, DEL, bidi override and lone surrogate is shown as a
visible escape instead. One helper, so every place that prints such text does the same.
"""

from __future__ import annotations

import re

_CONTROLS = re.compile("[\x00-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069\ud800-\udfff]")


def printable(text: str, limit: int | None = None, keep: str = "") -> str:
    """`text` with its control characters escaped (those in `keep`, e.g. "\\n\\t", stay), cut to
    `limit` characters with an ellipsis."""
    text = str(text)
    if limit is not None and len(text) > limit:
        text = text[:limit] + "…"

    def escape(m: re.Match) -> str:
        c = m.group()
        if c in keep:
            return c
        return f"\\x{ord(c):02x}" if ord(c) <= 0xFF else f"\\u{ord(c):04x}"

    return _CONTROLS.sub(escape, text)

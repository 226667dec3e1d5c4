"""What history.py and imports.py (which ChatHistory.import_json calls) both need: the error, the
export format's tag and an exported picture's file name. Apart so that imports.py need not import
history.py, which imports it: history.HistoryError and friends are these same objects.
"""

from __future__ import annotations

from app.core.jobs import HearthError

EXPORT_FORMAT = "hearth-conversation/1"


class HistoryError(HearthError):
    pass


def picture_file_name(sha256: str) -> str:
    """An exported picture's file name beside the .md/.json: from its hash only, never from user text."""
    return f"picture-{sha256[:16]}.png"

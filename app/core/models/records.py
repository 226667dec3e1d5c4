"""The one rule for what the models' files on disk may say, and what happens when they break it.

``registry.json`` and ``downloads.json`` are read back as hostile input: ids and
kinds pass :func:`check_id`/:func:`check_kind` (the rule new ids pass too), a
folder is removed only when it resolves inside its root, and a file of the
wrong shape is set aside (renamed, never deleted) with one notice for the user.
"""

from __future__ import annotations

import logging
import re
from pathlib import Path

from app.core import saved_json
from app.core.jobs import ModelError
from app.core.models.kinds import KINDS

log = logging.getLogger(__name__)

ID_RX = re.compile(r"^[a-z0-9][a-z0-9._-]{0,127}$")

def valid_id(model_id: object) -> bool:
    return isinstance(model_id, str) and bool(ID_RX.match(model_id))


def check_id(model_id: object) -> str:
    if not valid_id(model_id):
        raise ModelError(f"'{model_id}' is not a valid model id (lower-case letters, digits, . _ -)")
    return model_id  # type: ignore[return-value]


def check_kind(kind: object) -> str:
    if kind not in KINDS:
        raise ModelError(f"unknown model kind '{kind}' (one of {', '.join(KINDS)})")
    return kind


def inside(root: Path, path: Path) -> bool:
    """True when ``path`` resolves (links followed) strictly inside ``root``."""
    root, path = Path(root).resolve(), Path(path).resolve()
    return path != root and path.is_relative_to(root)


def relative_path_ok(value: str) -> bool:
    """A stored relative path may not climb out of its folder."""
    p = Path(value)
    return p.is_absolute() or (bool(p.parts) and ".." not in p.parts)


def set_aside(path: Path, problem: str) -> Path | None:
    """Renames a bad file beside itself and reports it once (app.core.saved_json's rule)."""
    try:
        return saved_json.set_aside(path, problem)
    except saved_json.SetAsideError as exc:
        raise ModelError(str(exc)) from exc


def take_notices() -> list[str]:
    """The messages not yet shown to the user, about any saved file (each is returned once)."""
    return saved_json.take_notices()

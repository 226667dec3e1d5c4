"""One policy for Hearth's saved JSON files, the one ``app.core.db`` keeps for databases.

Settings, the server list, the model registry, the download queue, speed data and
transcripts are each a JSON object with a ``schema_version`` (none means 1).

- A file written by a newer Hearth is read-only: this Hearth uses what it
  understands of it and never overwrites it (``write_versioned`` refuses), so
  running an older Hearth once never demotes a newer one's data. The user is told once.
- A damaged file (not UTF-8, not JSON, not an object, a version that is not a
  number, too large) is set aside under a name that says so, never deleted, and
  the user is told once which name it now has.
- A file that cannot be opened (no permission, a FIFO) is left where it is and said.

Notices wait in one queue; the CLI and the window each show them once (``take_notices``).
"""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass
from pathlib import Path

from app.core.fileio import MAX_JSON_BYTES, atomic_write_json, loads_json, read_json_regular, read_text_regular
from app.core.jobs import HearthError

log = logging.getLogger(__name__)

VERSION_KEY = "schema_version"

_notices: list[str] = []
_told: set[str] = set()
_lock = threading.Lock()


class NewerFileError(HearthError):
    """Saving would overwrite a file written by a newer Hearth."""


class SetAsideError(HearthError):
    """A damaged file could not be renamed out of the way."""


@dataclass
class ReadResult:
    data: dict | None  # the object read ("ok" or "newer"), else None
    state: str  # "missing" | "ok" | "newer" | "set_aside" | "unreadable"
    note: str = ""  # what the user was told, in words
    version: int = 0

    @property
    def read_only(self) -> bool:
        """A newer Hearth's file, or one that could not be read: never written over."""
        return self.state in ("newer", "unreadable")


def _notify(message: str) -> None:
    with _lock:
        _notices.append(message)


def take_notices() -> list[str]:
    """The messages not yet shown to the user (each is returned once)."""
    with _lock:
        out = list(_notices)
        _notices.clear()
    return out


def set_aside(path: Path, problem: str) -> Path | None:
    """Renames a bad file beside itself and reports it once (a log entry and a notice).

    None when the file was gone already (another reader set it aside and reported);
    ``SetAsideError`` when it could not be renamed.
    """
    path = Path(path)
    stamp = time.strftime("%Y%m%d-%H%M%S")
    aside = path.with_name(f"{path.name}.invalid-{stamp}")
    n = 1
    while aside.exists():
        aside = path.with_name(f"{path.name}.invalid-{stamp}-{n}")
        n += 1
    try:
        path.rename(aside)
    except FileNotFoundError:
        return None
    except OSError as exc:
        raise SetAsideError(f"{path} is invalid ({problem}) and could not be set aside: "
                            f"{exc.strerror or exc}") from exc
    message = f"{path.name} was invalid ({problem}); it was kept as {aside.name} and Hearth started without it."
    log.warning("%s", message)
    _notify(message)
    return aside


def newer_note(path: Path, what: str, version: object, current: int) -> str:
    return (f"{what} ({path}) was written by a newer Hearth ({VERSION_KEY} {version}, this one knows "
            f"{current}); Hearth uses what it understands of it and leaves the file as it is. "
            f"Update Hearth to change {what}.")


def _tell_once(path: Path, note: str, why: str) -> None:
    """Logs and queues the notice the first time this process finds this file so (newer, unreadable)."""
    key = f"{Path(path).absolute()}\0{why}"
    with _lock:
        if key in _told:
            return
        _told.add(key)
    log.warning("%s", note)
    _notify(note)


def _damaged(path: Path, problem: str) -> ReadResult:
    try:
        aside = set_aside(path, problem)
    except SetAsideError as exc:
        _tell_once(path, str(exc), "unreadable")
        return ReadResult(None, "unreadable", str(exc))
    note = f"{path.name} was invalid ({problem}); kept as {aside.name}" if aside else ""
    return ReadResult(None, "set_aside", note)


def parse_versioned(path: Path, raw: bytes | str, current: int, what: str) -> ReadResult:
    """The policy for a file's bytes, read by whatever open its owner needs (servers.json has its own)."""
    path = Path(path)
    try:
        text = raw.decode("utf-8") if isinstance(raw, bytes) else raw
        data = loads_json(text)
    except ValueError as exc:
        return _damaged(path, f"not JSON: {exc}")
    if not isinstance(data, dict):
        return _damaged(path, f"not a JSON object but a {type(data).__name__}")
    version = data.get(VERSION_KEY, 1)
    if not isinstance(version, int) or isinstance(version, bool) or version < 1:
        return _damaged(path, f"its {VERSION_KEY} {version!r} is not a version number")
    if version > current:
        note = newer_note(path, what, version, current)
        _tell_once(path, note, "newer")
        return ReadResult(data, "newer", note, version)
    return ReadResult(data, "ok", "", version)


def read_versioned(path: Path, current: int, what: str, limit: int = MAX_JSON_BYTES) -> ReadResult:
    """Reads a saved JSON object under the policy above; ``what`` names it for the user ("the settings")."""
    path = Path(path)
    try:
        raw = read_text_regular(path, limit).encode("utf-8")
    except FileNotFoundError:
        return ReadResult(None, "missing")
    except OSError as exc:  # no permission, a FIFO: not damage we can see, so the file stays
        note = (f"{what} ({path}) cannot be read: {exc.strerror or exc}; Hearth works without it "
                f"and leaves it as it is.")
        _tell_once(path, note, "unreadable")
        return ReadResult(None, "unreadable", note)
    except ValueError as exc:  # too large, or not UTF-8
        return _damaged(path, str(exc))
    return parse_versioned(path, raw, current, what)


def newer_on_disk(path: Path, current: int) -> int | None:
    """The version of the file at path when a newer Hearth wrote it, else None (missing, damaged, ours)."""
    try:
        data = read_json_regular(path)
    except (OSError, ValueError):
        return None
    version = data.get(VERSION_KEY) if isinstance(data, dict) else None
    if isinstance(version, int) and not isinstance(version, bool) and version > current:
        return version
    return None


def check_writable(path: Path, current: int, what: str) -> None:
    """Refuses (``NewerFileError``, in words) to replace a file a newer Hearth wrote."""
    version = newer_on_disk(path, current)
    if version is not None:
        note = newer_note(path, what, version, current)
        _tell_once(path, note, "newer")
        raise NewerFileError(f"{what} ({path}) was written by a newer Hearth ({VERSION_KEY} {version}); "
                             f"it is not changed. Update Hearth to change it.")


def write_versioned(path: Path, data: dict, current: int, what: str) -> None:
    """Writes ``data`` with its version, atomically, unless a newer Hearth's file is there."""
    check_writable(path, current, what)
    atomic_write_json(Path(path), {**data, VERSION_KEY: current})

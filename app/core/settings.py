"""Typed user settings, persisted as versioned JSON with migrations.

One owner per settings file and process (``SettingsFile``): it reads the file
once, checks every value's type (a wrong one is logged and replaced by its
default, never a crash), and writes atomically on each ``save``. Whoever needs
settings is handed that one ``Settings`` object: the window, the store, the CLI.
"""

from __future__ import annotations

import logging
import threading
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path

from app.core import paths
from app.core.saved_json import NewerFileError, SetAsideError, read_versioned, set_aside, write_versioned

log = logging.getLogger(__name__)

SCHEMA_VERSION = 2
PANES = ("chat", "images", "speech", "documents", "models")
V1_PANES = ("chat", "images", "speech", "models")  # what a v1 file's pane index counted
HUB_ENDPOINT = "https://huggingface.co"  # the hub the catalog's files come from, unless the user names another


@dataclass
class Settings:
    schema_version: int = SCHEMA_VERSION
    window_geometry: str = ""  # base64 of QWidget.saveGeometry()
    last_pane: str = "chat"
    default_models: dict[str, str] = field(default_factory=dict)  # kind -> model id
    models_dir: str = ""  # empty: the platform default
    hf_endpoint: str = HUB_ENDPOINT
    hf_token: str = ""
    chat_context: int = 4096
    speech_batched: bool = True  # files through faster-whisper's batched pipeline; False: sequential
    chat_threads: int = 0  # 0: the physical core count
    chat_gpu_layers: int = -1  # -1: chosen from the fit estimate
    theme: str = "system"  # "system" | "light" | "dark"


def _v1_to_v2(data: dict) -> dict:
    # v1 stored the pane as an index; v2 stores its name so panes can be reordered.
    index = data.pop("last_pane_index", 0)
    data.setdefault("last_pane", V1_PANES[index] if isinstance(index, int) and 0 <= index < len(V1_PANES) else "chat")
    return data


MIGRATIONS = {1: _v1_to_v2}


def migrate(data: dict) -> dict:
    """Brings older settings up to date; a newer Hearth's are left as they are (read for what is known)."""
    version = data.get("schema_version", 1)
    if not isinstance(version, int) or isinstance(version, bool) or version < 1:
        raise ValueError(f"settings schema_version {version!r} is not a number")
    while version < SCHEMA_VERSION:
        data = MIGRATIONS[version](dict(data))
        version += 1
        data["schema_version"] = version
    return data


def _valid(value, default) -> bool:
    if isinstance(default, bool) or isinstance(value, bool):
        return type(value) is type(default)
    if isinstance(default, dict):
        return isinstance(value, dict) and all(isinstance(k, str) and isinstance(v, str) for k, v in value.items())
    return isinstance(value, type(default))


def from_dict(data: dict) -> Settings:
    """Known keys whose values have the right type; anything else is logged and left at its default."""
    if not isinstance(data, dict):
        raise ValueError("settings are not a JSON object")
    data = migrate(data)
    defaults = Settings()
    values = {}
    for f in fields(Settings):
        if f.name not in data:
            continue
        value, default = data[f.name], getattr(defaults, f.name)
        if _valid(value, default):
            values[f.name] = value
        else:
            log.warning("setting %s has the wrong type (%s: %r); using the default %r",
                        f.name, type(value).__name__, value, default)
    settings = Settings(**values)
    if settings.last_pane not in PANES:
        log.warning("setting last_pane %r is not a pane; using %r", settings.last_pane, "chat")
        settings.last_pane = "chat"
    # A hand-edited file may hold anything: out-of-range values fall back to their defaults.
    if settings.theme not in ("system", "light", "dark"):
        settings.theme = "system"
    for name, low, high, default in (
        ("chat_context", 256, 1 << 20, 4096), ("chat_threads", 0, 1024, 0), ("chat_gpu_layers", -1, 1000, -1)
    ):
        value = getattr(settings, name)
        if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
            setattr(settings, name, default)
    return settings


def read_file(path: Path) -> tuple[Settings, bool]:
    """The file's settings and whether they are read-only (a newer Hearth wrote them, or unreadable).

    A damaged file is set aside under a name that says so and defaults are used; a newer one
    is read for the settings this Hearth knows and never overwritten (app.core.saved_json).
    """
    got = read_versioned(path, SCHEMA_VERSION, "the settings")
    if got.data is None:
        return Settings(), got.read_only
    try:
        settings = from_dict(got.data)
    except (ValueError, TypeError, KeyError) as exc:
        if not got.read_only:
            try:
                set_aside(path, str(exc))
            except SetAsideError as err:
                log.error("%s", err)
                return Settings(), True
        return Settings(), got.read_only
    settings.schema_version = SCHEMA_VERSION
    return settings, got.read_only


class SettingsFile:
    """The owner of one settings file: loaded once, saved atomically on change."""

    def __init__(self, path: Path):
        self.path = path
        self.settings, self.read_only = read_file(path)

    def save(self, settings: Settings | None = None) -> bool:
        """False when the file is a newer Hearth's: the change holds for this run only (logged)."""
        if settings is not None:
            self.settings = settings
        self.settings.schema_version = SCHEMA_VERSION
        if not self.read_only:
            try:
                write_versioned(self.path, asdict(self.settings), SCHEMA_VERSION, "the settings")
                return True
            except NewerFileError:
                self.read_only = True  # a newer Hearth wrote it since we read it
        log.info("settings not saved: %s is a newer Hearth's or unreadable; the change holds until Hearth closes",
                 self.path)
        return False


_owners: dict[Path, SettingsFile] = {}
_owners_lock = threading.Lock()  # stores are built on worker threads too


def settings_file() -> SettingsFile:
    """This process's owner of the settings file (one per HEARTH_HOME, so tests each get their own)."""
    path = paths.settings_file()
    with _owners_lock:
        owner = _owners.get(path)
        if owner is None:
            owner = _owners[path] = SettingsFile(path)
        return owner


def load_settings() -> Settings:
    """The process's one Settings object, read from disk the first time only."""
    return settings_file().settings


def save_settings(settings: Settings) -> bool:
    """Makes ``settings`` the current ones and writes them atomically (False: a newer Hearth's file, kept)."""
    return settings_file().save(settings)

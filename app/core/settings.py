"""Typed user settings, persisted as versioned JSON with migrations."""

from __future__ import annotations

import json
import logging
from dataclasses import asdict, dataclass, field, fields

from app.core import paths
from app.core.fileio import atomic_write_json

log = logging.getLogger(__name__)

SCHEMA_VERSION = 2
PANES = ("chat", "images", "speech", "models")


@dataclass
class Settings:
    schema_version: int = SCHEMA_VERSION
    window_geometry: str = ""  # base64 of QWidget.saveGeometry()
    last_pane: str = "chat"
    default_models: dict[str, str] = field(default_factory=dict)  # kind -> model id
    models_dir: str = ""  # empty: the platform default
    hf_endpoint: str = "https://huggingface.co"
    hf_token: str = ""
    chat_context: int = 4096
    speech_batched: bool = True  # files through faster-whisper's batched pipeline; False: sequential


def _v1_to_v2(data: dict) -> dict:
    # v1 stored the pane as an index; v2 stores its name so panes can be reordered.
    index = data.pop("last_pane_index", 0)
    data.setdefault("last_pane", PANES[index] if 0 <= index < len(PANES) else "chat")
    return data


MIGRATIONS = {1: _v1_to_v2}


def migrate(data: dict) -> dict:
    version = int(data.get("schema_version", 1))
    if version > SCHEMA_VERSION:
        raise ValueError(f"settings schema {version} is newer than this Hearth ({SCHEMA_VERSION})")
    while version < SCHEMA_VERSION:
        data = MIGRATIONS[version](dict(data))
        version += 1
        data["schema_version"] = version
    return data


def from_dict(data: dict) -> Settings:
    known = {f.name for f in fields(Settings)}
    settings = Settings(**{k: v for k, v in migrate(data).items() if k in known})
    if settings.last_pane not in PANES:
        settings.last_pane = "chat"
    return settings


def load_settings() -> Settings:
    path = paths.settings_file()
    if not path.exists():
        return Settings()
    try:
        return from_dict(json.loads(path.read_text(encoding="utf-8")))
    except (ValueError, TypeError, OSError) as exc:
        # Keep the unreadable file for the user; start from defaults.
        backup = path.with_suffix(".json.bad")
        log.error("settings unreadable (%s); kept as %s, using defaults", exc, backup)
        try:
            path.replace(backup)
        except OSError:
            pass
        return Settings()


def save_settings(settings: Settings) -> None:
    settings.schema_version = SCHEMA_VERSION
    atomic_write_json(paths.settings_file(), asdict(settings))

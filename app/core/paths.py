"""Every directory Hearth uses, and nothing else builds one.

Directories come from platformdirs; ``HEARTH_HOME`` overrides all of them with
one root (tests, portable installs).  Each accessor creates its folder.
"""

from __future__ import annotations

import os
from pathlib import Path

APP_NAME = "Hearth"
APP_AUTHOR = "Hearth"


def home_override() -> Path | None:
    value = os.environ.get("HEARTH_HOME")
    return Path(value).expanduser().resolve() if value else None


def _ensure(path: Path) -> Path:
    path.mkdir(parents=True, exist_ok=True)
    return path


def _platform_dirs():
    from platformdirs import PlatformDirs

    return PlatformDirs(APP_NAME, APP_AUTHOR, roaming=False)


def _dir(name: str, platform_attr: str) -> Path:
    root = home_override()
    return _ensure(root / name if root else Path(getattr(_platform_dirs(), platform_attr)))


def data_dir() -> Path:
    return _dir("data", "user_data_dir")


def config_dir() -> Path:
    return _dir("config", "user_config_dir")


def cache_dir() -> Path:
    return _dir("cache", "user_cache_dir")


def log_dir() -> Path:
    return _dir("logs", "user_log_dir")


def default_models_dir() -> Path:
    return data_dir() / "models"


def models_dir(custom: str | Path = "") -> Path:
    """The models folder: ``custom`` (the user's setting, passed in by whoever holds the settings), else
    the platform default. This module reads no settings: it is the leaf everything else builds on."""
    return _ensure(Path(custom).expanduser() if custom else default_models_dir())


def db_dir() -> Path:
    return _ensure(data_dir() / "db")


def pictures_dir() -> Path:
    """Pictures attached to chat messages, stored once by content (sha256)."""
    return _ensure(data_dir() / "pictures")


def chat_documents_dir() -> Path:
    """Documents attached to chat messages, stored once by content (sha256)."""
    return _ensure(data_dir() / "chat-documents")


def thumbnails_dir() -> Path:
    return _ensure(cache_dir() / "thumbnails")


def settings_file() -> Path:
    return config_dir() / "settings.json"


def log_file() -> Path:
    return log_dir() / "hearth.log"


def crash_file() -> Path:
    return log_dir() / "crash.log"


def previous_crash_file() -> Path:
    return log_dir() / "crash-previous.log"


def servers_file() -> Path:
    """The remote chat servers the user added, with their keys (kept 0600)."""
    return data_dir() / "servers.json"


def all_dirs(custom_models_dir: str | Path = "") -> dict[str, Path]:
    return {
        "data": data_dir(),
        "config": config_dir(),
        "cache": cache_dir(),
        "logs": log_dir(),
        "models": models_dir(custom_models_dir),
        "databases": db_dir(),
        "thumbnails": thumbnails_dir(),
        "pictures": pictures_dir(),
    }

"""Logging to a rotating file, and native crash capture with faulthandler."""

from __future__ import annotations

import faulthandler
import logging
import sys
from pathlib import Path

from app.core import paths

_crash_fh = None
FORMAT = "%(asctime)s %(levelname)s %(threadName)s %(name)s: %(message)s"


def setup_logging(level: int = logging.INFO, console: bool = False, rotate: bool = True) -> Path:
    """Idempotent: a second call (tests, CLI after GUI) changes nothing, except that ``rotate=False`` (the
    window, before its first paint: importing logging.handlers costs ~10 ms there) logs to the file
    without rotating until a later call swaps in the rotating handler."""
    root = logging.getLogger()
    target = paths.log_file()
    for existing in list(root.handlers):
        if isinstance(existing, logging.FileHandler) and Path(existing.baseFilename) == target:
            if not rotate or getattr(existing, "maxBytes", None) is not None:
                return target  # rotating already, or asked not to
            root.removeHandler(existing)  # the early one: the rotating one takes over the same file
            existing.close()
    handler: logging.FileHandler
    if rotate:
        from logging.handlers import RotatingFileHandler

        handler = RotatingFileHandler(target, maxBytes=2 << 20, backupCount=5, encoding="utf-8")
    else:
        handler = logging.FileHandler(target, encoding="utf-8")
    handler.setFormatter(logging.Formatter(FORMAT))
    root.addHandler(handler)
    if console:
        stream = logging.StreamHandler(sys.stderr)
        stream.setLevel(logging.WARNING)
        stream.setFormatter(logging.Formatter("%(levelname)s: %(message)s"))
        root.addHandler(stream)
    root.setLevel(level)
    return target


def enable_crash_capture() -> Path | None:
    """Points faulthandler at the crash file; returns last run's crash report, if any."""
    global _crash_fh
    current, previous = paths.crash_file(), paths.previous_crash_file()
    found = None
    if _crash_fh is None:
        if current.exists() and current.stat().st_size > 0:
            current.replace(previous)
            found = previous
            logging.getLogger(__name__).warning("the last run crashed; report kept at %s", previous)
        _crash_fh = open(current, "w", encoding="utf-8")  # noqa: SIM115 - held open for faulthandler
    faulthandler.enable(_crash_fh, all_threads=True)
    return found


def disable_crash_capture() -> None:
    """A clean exit leaves an empty crash file, so the next start offers nothing."""
    global _crash_fh
    if _crash_fh is not None:
        faulthandler.disable()
        _crash_fh.close()
        _crash_fh = None
        paths.crash_file().unlink(missing_ok=True)

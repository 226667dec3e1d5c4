"""What to watch so a document folder's index stays current: every folder (a file added, renamed or
deleted changes its folder) and, up to a limit, every document file (an edit in place changes only the
file). Past the limit only folders are watched: an editor that saves by renaming is still seen."""

from __future__ import annotations

import os
from pathlib import Path

from app.core.docs.index import scan

MAX_WATCHED_FILES = 4000  # inotify's per-user watches are shared with the rest of the desktop


def watch_targets(folders: list[str], max_files: int = MAX_WATCHED_FILES) -> tuple[list[str], list[str]]:
    """(folders and their sub-folders, document files), for the folders that are there now."""
    dirs: list[str] = []
    files: list[str] = []
    for folder in folders:
        if not os.path.isdir(folder):
            continue
        for root, subdirs, _names in os.walk(folder):
            subdirs[:] = [d for d in subdirs if not d.startswith(".") and not os.path.islink(os.path.join(root, d))]
            dirs.append(root)
        if len(files) < max_files:
            files.extend(sorted(scan(Path(folder)))[:max_files - len(files)])
    return dirs, files

"""The download queue, persisted so downloads resume after a restart."""

from __future__ import annotations

import json
import threading
from dataclasses import asdict, dataclass

from app.core import paths
from app.core.fileio import atomic_write_json

SCHEMA_VERSION = 1
STATES = ("queued", "running", "paused", "failed")


@dataclass
class QueuedDownload:
    model_id: str
    kind: str
    url: str = ""  # empty: a catalog entry
    state: str = "queued"
    error: str = ""
    architecture: str = ""


class DownloadQueue:
    _lock = threading.Lock()

    def __init__(self):
        self.path = paths.data_dir() / "downloads.json"

    def items(self) -> list[QueuedDownload]:
        try:
            data = json.loads(self.path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return []
        return [QueuedDownload(**d) for d in data.get("downloads", [])]

    def _save(self, items: list[QueuedDownload]) -> None:
        atomic_write_json(self.path, {"schema_version": SCHEMA_VERSION, "downloads": [asdict(i) for i in items]})

    def put(self, item: QueuedDownload) -> None:
        with self._lock:
            items = [i for i in self.items() if i.model_id != item.model_id]
            items.append(item)
            self._save(items)

    def set_state(self, model_id: str, state: str, error: str = "") -> None:
        with self._lock:
            items = self.items()
            for i in items:
                if i.model_id == model_id:
                    i.state, i.error = state, error
            self._save(items)

    def remove(self, model_id: str) -> None:
        with self._lock:
            self._save([i for i in self.items() if i.model_id != model_id])

    def recover(self) -> list[QueuedDownload]:
        """At start-up: what was running when the app stopped is queued again (resumes from its .part)."""
        with self._lock:
            items = self.items()
            for i in items:
                if i.state == "running":
                    i.state = "queued"
            self._save(items)
            return [i for i in items if i.state == "queued"]

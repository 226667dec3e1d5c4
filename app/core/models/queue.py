"""The download queue, persisted so downloads resume after a restart.

``downloads.json`` is read like the registry: an entry whose id, kind, URL or
state breaks the rule is dropped (never downloaded, never cancelled into a
path) and the file as it was is set aside for the user.
"""

from __future__ import annotations

import logging
import threading
from dataclasses import asdict, dataclass, fields

from app.core import paths
from app.core.jobs import DownloadError
from app.core.models.download import check_url
from app.core.models.kinds import KINDS
from app.core.models.records import set_aside, valid_id
from app.core.saved_json import NewerFileError, read_versioned, write_versioned

log = logging.getLogger(__name__)

SCHEMA_VERSION = 1
# "offline": failed for want of a network; it starts again by itself once the host can be reached
# (checked now and then while the app runs, and at the next start).
STATES = ("queued", "running", "paused", "failed", "offline")


@dataclass
class QueuedDownload:
    model_id: str
    kind: str
    url: str = ""  # empty: a catalog entry
    state: str = "queued"
    error: str = ""
    architecture: str = ""


def _item_from(record: object) -> QueuedDownload:
    if not isinstance(record, dict):
        raise ValueError(f"an entry is a {type(record).__name__}, not an object")
    names = {f.name for f in fields(QueuedDownload)}
    if not {"model_id", "kind"} <= record.keys() or not all(isinstance(record[k], str) for k in record
                                                             if k in names):
        raise ValueError("an entry lacks its id or kind, or holds a value that is not text")
    item = QueuedDownload(**{k: v for k, v in record.items() if k in names})
    if not valid_id(item.model_id):
        raise ValueError(f"bad id {item.model_id!r}")
    if item.kind not in KINDS:
        raise ValueError(f"bad kind {item.kind!r}")
    if item.state not in STATES:
        raise ValueError(f"bad state {item.state!r}")
    if item.url:
        try:
            check_url(item.url)
        except DownloadError as exc:
            raise ValueError(f"{item.model_id}: {exc}") from None
    return item


class DownloadQueue:
    _lock = threading.Lock()

    def __init__(self):
        self.path = paths.data_dir() / "downloads.json"
        self.read_only = False

    def items(self) -> list[QueuedDownload]:
        """A newer Hearth's queue is its own: none of it is started here, and it is left as it is."""
        got = read_versioned(self.path, SCHEMA_VERSION, "the download queue")
        self.read_only = got.read_only
        if got.state != "ok":
            return []
        records = (got.data or {}).get("downloads")
        if not isinstance(records, list):
            set_aside(self.path, "not an object with a list of downloads")
            return []
        items, problems = [], []
        for record in records:
            try:
                items.append(_item_from(record))
            except ValueError as exc:
                problems.append(str(exc))
        if problems and set_aside(self.path, "; ".join(problems[:3])) and items:
            self._save(items)
        return items

    def _save(self, items: list[QueuedDownload]) -> None:
        if self.read_only:
            log.info("the download queue %s is a newer Hearth's or unreadable; not saved", self.path)
            return
        try:
            write_versioned(self.path, {"downloads": [asdict(i) for i in items]}, SCHEMA_VERSION,
                            "the download queue")
        except NewerFileError as exc:
            log.info("%s", exc)

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
        """At start-up: what was running when the app stopped, or waiting for the network, is queued
        again (resumes from its .part). A failed one stays failed, with its message, until the user acts."""
        with self._lock:
            items = self.items()
            for i in items:
                if i.state in ("running", "offline"):
                    i.state = "queued"
            self._save(items)
            return [i for i in items if i.state == "queued"]

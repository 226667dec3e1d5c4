"""Downloads for the Models page: one at a time, persisted, pausable."""

from __future__ import annotations

import logging
import os

from PySide6.QtCore import QObject, Signal

from app.core.models.download import Downloader, PauseToken
from app.core.models.queue import DownloadQueue, QueuedDownload
from app.gui.workers import SerialWorker

log = logging.getLogger(__name__)


def _install(pause, progress, item: QueuedDownload, endpoint: str, access_token: str | None):
    from app.core.models.catalog import find
    from app.core.models.installer import install_entry, install_url
    from app.core.models.store import ModelStore

    downloader = Downloader(token=access_token)
    store = ModelStore()
    if item.url:
        # The token goes with a pasted URL only when it points at the configured hub.
        return install_url(item.url, item.kind, store, item.model_id, item.architecture, downloader, pause, progress,
                           endpoint=endpoint)
    entry = find(item.model_id)
    return install_entry(entry, store, endpoint, downloader, pause, progress)


class DownloadManager(QObject):
    progress = Signal(str, object)  # model id, DownloadProgress
    state_changed = Signal(str, str, str)  # model id, state, message
    installed = Signal(str)

    def __init__(self, settings, parent=None):
        super().__init__(parent)
        self.settings = settings
        self.queue = DownloadQueue()
        self.worker = SerialWorker("download-worker", self)
        self.pauses: dict[str, PauseToken] = {}  # the running downloads, by model id
        self.shutting_down = False

    def endpoint(self) -> str:
        return os.environ.get("HF_ENDPOINT") or self.settings.hf_endpoint

    def access_token(self) -> str | None:
        return self.settings.hf_token or os.environ.get("HF_TOKEN") or None

    def start(self, model_id: str, kind: str, url: str = "", architecture: str = "") -> None:
        if model_id in self.pauses:
            return
        item = QueuedDownload(model_id, kind, url, "running", "", architecture)
        self.queue.put(item)
        pause = PauseToken()
        self.pauses[model_id] = pause
        self.state_changed.emit(model_id, "running", "Waiting…")
        self.worker.submit(
            _install, item, self.endpoint(), self.access_token(),
            cancel=pause,
            on_progress=lambda p, m=model_id: self.progress.emit(m, p),
            on_result=lambda entry, m=model_id: self._done(m),
            on_error=lambda exc, m=model_id: self._failed(m, exc),
            name=f"download {model_id}",
        ).cancelled.connect(lambda m=model_id, p=pause: self._stopped(m, p))

    def pause(self, model_id: str) -> None:
        if model_id in self.pauses:
            self.pauses[model_id].pause()

    def cancel(self, model_id: str) -> None:
        pause = self.pauses.get(model_id)
        if pause is not None:
            pause.cancel()
        else:  # a paused or failed one: forget it and its partial files
            from app.core.models.installer import discard_partial
            from app.core.models.store import ModelStore

            discard_partial(ModelStore(), model_id)
            self.queue.remove(model_id)
            self.state_changed.emit(model_id, "", "")

    def recover(self) -> None:
        for item in self.queue.recover():
            log.info("resuming the download of %s", item.model_id)
            self.start(item.model_id, item.kind, item.url, item.architecture)

    def states(self) -> dict[str, QueuedDownload]:
        return {i.model_id: i for i in self.queue.items()}

    def _done(self, model_id: str) -> None:
        self.pauses.pop(model_id, None)
        self.queue.remove(model_id)
        self.state_changed.emit(model_id, "", "Installed")
        self.installed.emit(model_id)

    def _failed(self, model_id: str, exc) -> None:
        self.pauses.pop(model_id, None)
        self.queue.set_state(model_id, "failed", str(exc))
        self.state_changed.emit(model_id, "failed", str(exc))

    def _stopped(self, model_id: str, pause: PauseToken) -> None:
        self.pauses.pop(model_id, None)
        if self.shutting_down:
            return  # stays "running" in the queue: it resumes at the next start
        if pause.paused:
            self.queue.set_state(model_id, "paused")
            self.state_changed.emit(model_id, "paused", "Paused")
        else:
            from app.core.models.installer import discard_partial
            from app.core.models.store import ModelStore

            discard_partial(ModelStore(), model_id)
            self.queue.remove(model_id)
            self.state_changed.emit(model_id, "", "Cancelled")

    def finish(self) -> SerialWorker:
        """Never blocks: pauses the running downloads (their .part files stay for the next start)."""
        self.shutting_down = True
        for pause in self.pauses.values():
            pause.pause()
        self.worker.finish(cancel=False)
        return self.worker

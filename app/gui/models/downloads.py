"""Downloads for the Models page: one at a time, persisted, pausable."""

from __future__ import annotations

import logging
import os

from PySide6.QtCore import QObject, Signal

from app.core.models.download import Downloader, PauseToken
from app.core.models.queue import DownloadQueue, QueuedDownload
from app.gui.workers import SerialWorker

log = logging.getLogger(__name__)


def _install(token, report, item: QueuedDownload, endpoint: str, hub_token: str | None):
    from app.core.models.catalog import find
    from app.core.models.installer import install_entry, install_url
    from app.core.models.store import ModelStore

    downloader = Downloader(token=hub_token)
    store = ModelStore()
    if item.url:
        # The token goes with a pasted URL only when it points at the configured hub.
        return install_url(item.url, item.kind, store, item.model_id, item.architecture, downloader, token, report,
                           endpoint=endpoint)
    entry = find(item.model_id)
    return install_entry(entry, store, endpoint, downloader, token, report)


class DownloadManager(QObject):
    progress = Signal(str, object)  # model id, DownloadProgress
    state_changed = Signal(str, str, str)  # model id, state, message
    installed = Signal(str)

    def __init__(self, settings, parent=None):
        super().__init__(parent)
        self.settings = settings
        self.queue = DownloadQueue()
        self.worker = SerialWorker("download-worker", self)
        self.tokens: dict[str, PauseToken] = {}
        self.shutting_down = False

    def endpoint(self) -> str:
        return os.environ.get("HF_ENDPOINT") or self.settings.hf_endpoint

    def hub_token(self) -> str | None:
        return self.settings.hf_token or os.environ.get("HF_TOKEN") or None

    def start(self, model_id: str, kind: str, url: str = "", architecture: str = "") -> None:
        if model_id in self.tokens:
            return
        item = QueuedDownload(model_id, kind, url, "running", "", architecture)
        self.queue.put(item)
        token = PauseToken()
        self.tokens[model_id] = token
        self.state_changed.emit(model_id, "running", "Waiting…")
        self.worker.submit(
            _install, item, self.endpoint(), self.hub_token(),
            token=token,
            on_progress=lambda p, m=model_id: self.progress.emit(m, p),
            on_result=lambda entry, m=model_id: self._done(m),
            on_error=lambda exc, m=model_id: self._failed(m, exc),
            name=f"download {model_id}",
        ).cancelled.connect(lambda m=model_id, t=token: self._stopped(m, t))

    def pause(self, model_id: str) -> None:
        if model_id in self.tokens:
            self.tokens[model_id].pause()

    def cancel(self, model_id: str) -> None:
        token = self.tokens.get(model_id)
        if token is not None:
            token.cancel()
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
        self.tokens.pop(model_id, None)
        self.queue.remove(model_id)
        self.state_changed.emit(model_id, "", "Installed")
        self.installed.emit(model_id)

    def _failed(self, model_id: str, exc) -> None:
        self.tokens.pop(model_id, None)
        self.queue.set_state(model_id, "failed", str(exc))
        self.state_changed.emit(model_id, "failed", str(exc))

    def _stopped(self, model_id: str, token: PauseToken) -> None:
        self.tokens.pop(model_id, None)
        if self.shutting_down:
            return  # stays "running" in the queue: it resumes at the next start
        if token.paused:
            self.queue.set_state(model_id, "paused")
            self.state_changed.emit(model_id, "paused", "Paused")
        else:
            from app.core.models.installer import discard_partial
            from app.core.models.store import ModelStore

            discard_partial(ModelStore(), model_id)
            self.queue.remove(model_id)
            self.state_changed.emit(model_id, "", "Cancelled")

    def shutdown(self) -> None:
        self.shutting_down = True
        for token in self.tokens.values():
            token.pause()  # keep the .part files
        self.worker.stop(timeout_ms=5000, cancel=False)

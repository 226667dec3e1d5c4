"""Downloads for the Models page: one at a time, persisted, pausable.

A download that failed for want of a network waits as "offline" and starts again by itself once
its host can be reached: checked off the GUI thread after 5 s, then less and less often (every
5 minutes at most), and at the next start. Failed rows keep their message until retried or cleared.
"""

from __future__ import annotations

import logging
import os

from PySide6.QtCore import QObject, QTimer, Signal

from app.core.jobs import HearthError
from app.core.models.download import Downloader, OfflineError, PauseToken, reachable
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


def _reachable_of(cancel, progress, urls: list[str]) -> set[str]:
    return {u for u in urls if not cancel.cancelled and reachable(u)}


class DownloadManager(QObject):
    progress = Signal(str, object)  # model id, DownloadProgress
    state_changed = Signal(str, str, str)  # model id, state, message
    installed = Signal(str)
    recheck_s = (5, 15, 30, 60, 120, 300)  # waits between checks for the network, the last one repeated

    def __init__(self, settings, parent=None):
        super().__init__(parent)
        self.settings = settings
        self.queue = DownloadQueue()
        self.worker = SerialWorker("download-worker", self)
        self.pauses: dict[str, PauseToken] = {}  # the running downloads, by model id
        self.shutting_down = False
        self.checker = SerialWorker("network-check", self)  # a check can take seconds: never on the GUI thread
        self._recheck = QTimer(self)
        self._recheck.setSingleShot(True)
        self._recheck.timeout.connect(self._check_network)
        self._checks = 0  # checks since the network was last seen; sets the next wait
        self._checking = False

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
        log.warning("download of %s failed: %s", model_id, exc)
        if isinstance(exc, OfflineError):
            text = f"{exc} It starts again by itself when {exc.host} can be reached, or press Retry."
            self.queue.set_state(model_id, "offline", text)
            self.state_changed.emit(model_id, "offline", text)
            self._schedule_check()
            return
        if isinstance(exc, HearthError):
            text = str(exc)
        else:  # a bug, not the network: still said in words, and logged in full
            log.error("download of %s failed", model_id, exc_info=exc)
            text = f"an unexpected error stopped the download ({type(exc).__name__}); the log has the details"
        self.queue.set_state(model_id, "failed", text)
        self.state_changed.emit(model_id, "failed", text)

    # --- waiting for the network ------------------------------------------------------------
    def _url_of(self, item: QueuedDownload) -> str:
        return item.url or self.endpoint()

    def _schedule_check(self) -> None:
        if self.shutting_down or self._checking or self._recheck.isActive():
            return
        self._recheck.start(int(1000 * self.recheck_s[min(self._checks, len(self.recheck_s) - 1)]))

    def _check_network(self) -> None:
        waiting = [i for i in self.queue.items() if i.state == "offline"]
        if self.shutting_down or not waiting:
            self._checks = 0
            return
        self._checking = True
        self.checker.submit(_reachable_of, sorted({self._url_of(i) for i in waiting}),
                            on_result=self._network_checked, on_error=lambda exc: self._network_checked(set()),
                            name="network-check")

    def _network_checked(self, up: set) -> None:
        self._checking = False
        if self.shutting_down:
            return
        back = [i for i in self.queue.items() if i.state == "offline" and self._url_of(i) in up]
        for item in back:
            log.info("the network is back: downloading %s again", item.model_id)
            self.start(item.model_id, item.kind, item.url, item.architecture)
        self._checks = 0 if back else self._checks + 1
        self._schedule_check()  # another host may still be out of reach

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
        self._recheck.stop()
        for pause in self.pauses.values():
            pause.pause()
        self.worker.finish(cancel=False)
        self.checker.finish()
        return self.worker

    def finish_all(self) -> list[SerialWorker]:
        """finish(), and every thread it ends (the network check too)."""
        return [self.finish(), self.checker]

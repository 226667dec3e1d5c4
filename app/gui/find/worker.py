"""The search box's worker: one thread that keeps the text-embedding model open between searches
(app/ARCHITECTURE.md, Threads). Photos are searched on the Images pane's worker when there is one, with
the CLIP model that pane already holds, so it is never loaded twice."""

from __future__ import annotations

from collections.abc import Callable

from PySide6.QtCore import QObject

from app.gui.workers import Job, SerialWorker


class FindWorker(QObject):
    def __init__(self, parent=None):
        super().__init__(parent)
        self.worker = SerialWorker("find-worker", self)
        self._engines = None  # app.core.find.Engines; worker thread only

    def search(self, query: str, kinds: set[str], limit: int, **callbacks) -> Job:
        def job(cancel, progress):
            from app.core.find import Engines, find

            if self._engines is None:
                self._engines = Engines()
            return find(query, kinds=kinds, limit=limit, cancel=cancel, engines=self._engines)

        return self.worker.submit(job, name="find", **callbacks)

    def finish(self) -> SerialWorker:
        """Never blocks: closes the models this worker opened, on its thread, and ends it."""

        def cleanup() -> None:
            if self._engines is not None:
                self._engines.close()
                self._engines = None

        self.worker.finish(cleanup)
        return self.worker


def photo_search(images_worker, model_id: Callable[[], str | None]):
    """A photo search run on the Images pane's worker with the model it holds (or would open), or None
    when that pane has no model to offer (the find worker then says why photos were not searched)."""

    def submit(query: str, limit: int, **callbacks) -> Job | None:
        chosen = model_id()
        if not chosen:
            return None

        def job(cancel, progress):
            from app.core.find import Engines, find

            engines = Engines(clip_opener=lambda: images_worker.ensure(chosen))
            return find(query, kinds={"photo"}, limit=limit, cancel=cancel, engines=engines)

        return images_worker.submit(job, name="find-photos", **callbacks)

    return submit

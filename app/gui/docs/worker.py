"""The documents worker: one thread that owns the text-embedding model and the document index."""

from __future__ import annotations

from app.gui.workers import Job, ModelWorker


class DocsWorker(ModelWorker):
    """The model is an app.core.embeddings.engine.Embedder. The index connection is opened on first use by
    any job (listing, adding or removing a folder needs no model) and closed at exit, on this thread.
    Search waits behind a running index job: one thread touches the model (ARCHITECTURE.md, Threads)."""

    thread_name = "docs-worker"

    def __init__(self, parent=None):
        super().__init__(parent)
        self._index = None  # app.core.docs.index.DocsIndex; worker thread only

    def open_model(self, model_id: str):
        from app.core.opening import open_embedder

        return open_embedder(model_id)

    def library(self):
        """The index connection, opened on first use (a damaged one is set aside and rebuilt). Worker thread only."""
        from app.core.docs.index import DocsIndex

        if self._index is None:
            self._index = DocsIndex.open_or_rebuild()
        return self._index

    def release(self) -> None:
        if self._index is not None:
            self._index.close()
            self._index = None

    def folders(self, **callbacks) -> Job:
        """(folders with their counts, skipped files with reasons, what to watch)."""

        def job(cancel, progress):
            from app.core.docs.watch import watch_targets

            index = self.library()
            folders = index.folders()
            return folders, index.skipped(), watch_targets([f["path"] for f in folders])

        return self.submit(job, name="docs-folders", **callbacks)

    def add_folder(self, path: str, **callbacks) -> Job:
        return self.submit(lambda cancel, progress: self.library().add_folder(path), name="docs-add", **callbacks)

    def remove_folder(self, path: str, **callbacks) -> Job:
        return self.submit(lambda cancel, progress: self.library().remove_folder(path), name="docs-remove",
                           **callbacks)

    def index(self, model_id: str, **callbacks) -> Job:
        def job(cancel, progress):
            from app.core.docs.index import DocSummary

            embedder = self.ensure(model_id)
            summary = None
            for item in self.library().index(embedder, cancel):
                if isinstance(item, DocSummary):
                    summary = item
                else:
                    progress(item)
            cancel.raise_if_cancelled()
            return summary

        return self.submit(job, name="docs-index", **callbacks)

    def search(self, model_id: str, query: str, limit: int, **callbacks) -> Job:
        def job(cancel, progress):
            cancel.raise_if_cancelled()
            return self.library().search(query, self.ensure(model_id), limit)

        return self.submit(job, name="docs-search", **callbacks)

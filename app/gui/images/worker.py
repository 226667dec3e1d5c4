"""The images worker: one thread that owns the CLIP model and the index connection."""

from __future__ import annotations

from app.gui.workers import Job, ModelWorker


class ImagesWorker(ModelWorker):
    """The model is (encoder, index key). The index connection is opened on first use by any job
    (listing, adding or removing a folder needs no model) and closed at exit, on this thread."""

    thread_name = "images-worker"

    def __init__(self, parent=None):
        super().__init__(parent)
        self._index = None  # app.core.images.index.ImageIndex; worker thread only

    def open_model(self, model_id: str):
        from app.core.opening import open_encoder

        return open_encoder(model_id)

    def library(self):
        """The index connection, opened on first use. Worker thread only."""
        from app.core.images.index import ImageIndex

        if self._index is None:
            self._index = ImageIndex()
        return self._index

    def release(self) -> None:
        if self._index is not None:
            self._index.close()
            self._index = None

    def folders(self, **callbacks) -> Job:
        def job(cancel, progress):
            index = self.library()
            return index.folders(), index.skipped()

        return self.submit(job, name="folders", **callbacks)

    def skipped_files(self, **callbacks) -> Job:
        def job(cancel, progress):
            return self.library().skipped_files()

        return self.submit(job, name="skipped-files", **callbacks)

    def add_folder(self, path: str, **callbacks) -> Job:
        def job(cancel, progress):
            self.library().add_folder(path)
            return path

        return self.submit(job, name="add-folder", **callbacks)

    def remove_folder(self, path: str, **callbacks) -> Job:
        def job(cancel, progress):
            self.library().remove_folder(path)
            return path

        return self.submit(job, name="remove-folder", **callbacks)

    def forget_missing(self, folders: list[str], **callbacks) -> Job:
        """Removes the entries of emptied folders whose files are gone, once the user has said so."""

        def job(token, report):
            from app.core.images.index import ImageIndex

            if self._index is None:
                self._index = ImageIndex()
            return sum(self._index.forget_missing(f) for f in folders)

        return self.worker.submit(job, name="forget-missing", **callbacks)

    def rebuild_index(self, **callbacks) -> Job:
        """Sets a damaged index aside (kept) and opens a new one with the folders it still names."""

        def job(token, report):
            from app.core.images.index import ImageIndex

            if self._index is not None:
                self._index.close()
            self._index = None
            self._index = ImageIndex.rebuild()
            return self._index.path

        return self.worker.submit(job, name="rebuild-index", **callbacks)

    def index(self, model_id: str, **callbacks) -> Job:
        def job(cancel, progress):
            from app.core.images.index import IndexSummary

            encoder, key = self.ensure(model_id)
            summary = None
            for item in self.library().index(encoder, key, cancel):
                if isinstance(item, IndexSummary):
                    summary = item
                else:
                    progress(item)
            cancel.raise_if_cancelled()
            return summary

        return self.submit(job, name="index", **callbacks)

    def search(self, model_id: str, text: str, images: list[str], pil_images: list, top: int,
               threshold: float | None, filters: tuple = (None, None, None), **callbacks) -> Job:
        """filters: (after, before, place) as the pane's fields give them (make_filters checks them)."""

        def job(cancel, progress):
            from app.core.images.filters import make_filters
            from app.core.images.query import search_photos

            wanted = make_filters(*filters)
            encoder, key = self.ensure(model_id)
            return search_photos(self.library(), encoder, key, text, images=images, pictures=pil_images, top=top,
                                 threshold=threshold, filters=wanted)

        return self.submit(job, name="search", **callbacks)

    def duplicates(self, model_id: str, **callbacks) -> Job:
        """Groups of duplicates among what model_id indexed (its vectors' key; the model is not loaded)."""

        def job(cancel, progress):
            from app.core.images.cleanup import find_duplicates
            from app.core.opening import encoder_key, resolve

            return find_duplicates(self.library(), encoder_key(resolve("images", model_id)))

        return self.submit(job, name="duplicates", **callbacks)

    def trash(self, paths: list[str], **callbacks) -> Job:
        """Moves the pictures the user confirmed to the system trash, and out of the index."""

        def job(cancel, progress):
            from app.core.images.cleanup import send_to_trash

            return send_to_trash(self.library(), paths)

        return self.submit(job, name="trash", **callbacks)

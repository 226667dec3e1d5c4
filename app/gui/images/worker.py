"""The images worker: one thread that owns the CLIP model and the index connection."""

from __future__ import annotations

from PySide6.QtCore import QObject

from app.gui.workers import Job, SerialWorker


class ImagesWorker(QObject):
    def __init__(self, parent=None):
        super().__init__(parent)
        self.worker = SerialWorker("images-worker", self)
        self._encoder = None
        self._key = None
        self._model = None
        self._index = None

    def _ensure(self, model_id: str):
        from app.cli.search import load_encoder
        from app.core.images.index import ImageIndex

        if self._encoder is None or self._model != model_id:
            self._encoder, self._key = load_encoder(model_id)
            self._model = model_id
        if self._index is None:
            self._index = ImageIndex()
        return self._encoder, self._key, self._index

    def folders(self, **callbacks) -> Job:
        def job(token, report):
            from app.core.images.index import ImageIndex

            if self._index is None:
                self._index = ImageIndex()
            return self._index.folders(), self._index.skipped()

        return self.worker.submit(job, name="folders", **callbacks)

    def add_folder(self, path: str, **callbacks) -> Job:
        def job(token, report):
            from app.core.images.index import ImageIndex

            if self._index is None:
                self._index = ImageIndex()
            self._index.add_folder(path)
            return path

        return self.worker.submit(job, name="add-folder", **callbacks)

    def remove_folder(self, path: str, **callbacks) -> Job:
        def job(token, report):
            self._index.remove_folder(path)
            return path

        return self.worker.submit(job, name="remove-folder", **callbacks)

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
        def job(token, report):
            from app.core.images.index import IndexSummary

            encoder, key, index = self._ensure(model_id)
            summary = None
            for item in index.index(encoder, key, token):
                if isinstance(item, IndexSummary):
                    summary = item
                else:
                    report(item)
            token.raise_if_cancelled()
            return summary

        return self.worker.submit(job, name="index", **callbacks)

    def search(self, model_id: str, text: str, images: list[str], pil_images: list, top: int,
               threshold: float | None, **callbacks) -> Job:
        def job(token, report):
            from pathlib import Path

            from app.core.images.query import parse, query_vector
            from app.core.images.scan import SkipImage, open_image
            from app.core.jobs import InputError

            encoder, key, index = self._ensure(model_id)
            vectors = []
            for p in images:
                stored = index.vector_of(str(Path(p).resolve()), key)
                if stored is None:
                    try:
                        stored = encoder.embed_pil([open_image(p, encoder.image_size)])[0]
                    except SkipImage as exc:
                        raise InputError(f"{Path(p).name}: {exc}") from exc
                vectors.append(stored)
            if pil_images:
                vectors.extend(encoder.embed_pil(pil_images))
            vec = query_vector(parse(text), encoder, vectors)
            return index.search(vec, key, top, threshold)

        return self.worker.submit(job, name="search", **callbacks)

    def stop(self) -> None:
        self.worker.stop(timeout_ms=5000)

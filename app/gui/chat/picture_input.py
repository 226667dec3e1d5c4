"""The Chat pane's pictures and documents: the attach control (documents for any model, pictures for
one that sees), and what comes in by the file dialog, a drop or a paste.

A mixin of ChatPane (it uses the pane's picker, notice, input, tray and attach button), kept apart so
the pane stays about conversations.
"""

from __future__ import annotations

import logging
from pathlib import Path

from PySide6.QtWidgets import QFileDialog

from app.core.jobs import HearthError
from app.gui.chat.attachments import png_bytes

log = logging.getLogger(__name__)


def pictures_in(mime) -> list:
    from app.core.images.scan import IMAGE_EXTS

    files = [u.toLocalFile() for u in mime.urls() if u.isLocalFile()] if mime.hasUrls() else []
    pictures = [f for f in files if Path(f).suffix.lower() in IMAGE_EXTS]
    if not pictures and mime.hasImage():
        image = mime.imageData()
        if image is not None and not image.isNull():
            pictures = [png_bytes(image)]
    return pictures


def documents_in(mime) -> list[str]:
    """The dropped or pasted files that are documents Hearth reads (their content decides later)."""
    from app.core.chatdocs.prepare import is_document

    files = [u.toLocalFile() for u in mime.urls() if u.isLocalFile()] if mime.hasUrls() else []
    return [f for f in files if is_document(f)]


def attachments_in(mime) -> list:
    return pictures_in(mime) + documents_in(mime)


DOCUMENT_PATTERNS = "*.txt *.md *.markdown *.html *.htm *.pdf *.docx *.odt *.epub *.rst *.csv *.log"
PICTURE_PATTERNS = "*.png *.jpg *.jpeg *.webp *.gif *.bmp *.tif *.tiff"


class PictureInput:
    def set_hardware(self, hardware) -> None:
        super().set_hardware(hardware)
        self.hardware = hardware
        self.update_vision()

    def update_vision(self) -> None:
        """The attach control follows the chosen model: enabled when it sees, else it says why not."""
        from app.core.models.store import ModelStore

        model_id = self.picker.current()
        entry = ModelStore().get(model_id) if model_id else None
        self.sees = bool(entry and entry.sees)
        # Documents go to any model; pictures only to one that sees, and the tip says why not.
        self.attach_button.setToolTip(
            "Attach pictures or documents: or drop them here, or paste one (Ctrl+V)" if self.sees
            else "Attach documents: or drop them here, or paste one (Ctrl+V). Pictures: " + self.vision_reason())
        if self.sees:
            from app.core.chat.pictures import side_for_projector

            try:
                self.tray.side = side_for_projector(ModelStore().projector_of(entry))
            except HearthError as exc:
                log.warning("projector of %s unreadable: %s", model_id, exc)

    def vision_reason(self) -> str:
        from app.core.models.projector import cannot_see_reason

        return cannot_see_reason(self.picker.current() or "No model", self.hardware)

    def attach_sources(self, sources: list) -> bool:
        """Files or pasted PNG bytes for the next message. Documents are taken for any model; pictures are
        refused, with the reason, when the model is blind."""
        from app.core.chatdocs.prepare import is_document

        documents = [s for s in sources if not isinstance(s, bytes) and is_document(s)]
        pictures = [s for s in sources if s not in documents]
        for source in documents:
            self.tray.add_document(Path(source), Path(source).name)
        if pictures and not self.sees:
            self.notice.setText(self.vision_reason())
            return bool(documents)
        for source in pictures:
            if isinstance(source, bytes):
                self.tray.add_source(source, "pasted picture")
            else:
                self.tray.add_source(Path(source), Path(source).name)
        return True

    def attach_files(self, paths) -> bool:
        """From the Images pane's "Ask in chat": the pictures wait in the input for a question."""
        ok = self.attach_sources([str(p) for p in paths])
        if ok:
            self.input.setFocus()
            self.notice.setText("Ask about the picture" + ("s" if len(paths) > 1 else "") + " and press Send.")
        return ok

    # A picture dropped anywhere on the pane (the conversation, not only the input) is taken as the
    # input takes it; with a model that does not see, the drop is taken to say why.
    def dragEnterEvent(self, event):  # noqa: N802 - Qt override
        if attachments_in(event.mimeData()):
            event.acceptProposedAction()

    def dropEvent(self, event):  # noqa: N802 - Qt override
        sources = attachments_in(event.mimeData())
        if sources:
            event.acceptProposedAction()
            if self.attach_sources(sources):
                self.input.setFocus()

    def _ask_pictures(self) -> None:
        filters = [f"Documents ({DOCUMENT_PATTERNS})"]
        if self.sees:
            filters = [f"Pictures and documents ({PICTURE_PATTERNS} {DOCUMENT_PATTERNS})",
                       f"Pictures ({PICTURE_PATTERNS})", *filters]
        files, _ = QFileDialog.getOpenFileNames(self, "Attach", "", ";;".join(filters))
        if files:
            self.attach_sources(files)

    def _forget_unsent_document(self, sha256: str) -> None:
        """A document taken out before sending: its file goes unless a message already uses it."""
        from app.core.chat.documents import DocumentStore

        if self.history.read_only or not self.history.documents:
            return
        used = self.history.db.execute("SELECT 1 FROM documents WHERE sha256 = ? LIMIT 1", (sha256,)).fetchone()
        DocumentStore().remove_unused({sha256}, {sha256} if used else set())

    def _forget_unsent(self, sha256: str) -> None:
        """A picture taken out before sending: its file goes unless a message already uses it."""
        from app.core.chat.pictures import PictureStore

        if self.history.read_only or not self.history.pictures:
            return
        used = self.history.db.execute("SELECT 1 FROM attachments WHERE sha256 = ? LIMIT 1", (sha256,)).fetchone()
        PictureStore().remove_unused({sha256}, {sha256} if used else set())

    def _picture_failed(self, message: str) -> None:
        self.notice.setText(message)

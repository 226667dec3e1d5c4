"""Documents for the chat: the file's own bytes, stored once by content, beside the pictures.

What a document says is read from these bytes each time a prompt is built (app.core.chatdocs, with the
Documents index's hostile-file extractors); this module only keeps the files. They live under the data
folder as ``chat-documents/<sha256[:2]>/<sha256>``: the name comes from the hash alone, and the kind
(from an allow-list) gives an exported copy its suffix.
"""

from __future__ import annotations

import hashlib
import logging
import re
from dataclasses import dataclass
from pathlib import Path

from app.core import paths
from app.core.fileio import atomic_write_bytes
from app.core.jobs import InputError

log = logging.getLogger(__name__)

SHA_RX = re.compile(r"^[0-9a-f]{64}$")
MAX_DOCUMENT_BYTES = 50 * 1024 * 1024  # a chat attachment; the Documents index takes bigger files
SUFFIXES = {"text": ".txt", "markdown": ".md", "html": ".html", "pdf": ".pdf", "docx": ".docx", "odt": ".odt",
            "epub": ".epub"}  # the kinds app.core.docs.extract tells apart


class DocumentError(InputError):
    """A document that cannot be used; the message says why, for the user."""


@dataclass(frozen=True)
class ChatDocument:
    """A document ready to be attached: its bytes and what extraction said of it."""

    sha256: str
    name: str  # the file name the user gave (display and export only; never a path)
    size: int
    kind: str  # a key of SUFFIXES
    data: bytes


def display_name(name: str) -> str:
    """A shown/exported name: the last component, printable, short; never used to build a path alone."""
    base = re.split(r"[\\/]", str(name))[-1]
    base = "".join(c for c in base if c.isprintable()).strip() or "document"
    return base[:120]


def human_size(size: int) -> str:
    if size < 1024:
        return f"{size} bytes"
    if size < 1024 * 1024:
        return f"{size / 1024:.0f} KB"
    return f"{size / (1024 * 1024):.1f} MB"


def file_name(sha256: str, kind: str) -> str:
    """An exported document's file name beside the .md/.json: from its hash and kind only."""
    return f"document-{sha256[:16]}{SUFFIXES.get(kind, '.bin')}"


class DocumentStore:
    """Content-addressed files: one per distinct document, whatever number of messages use it."""

    def __init__(self, root: Path | None = None):
        self.root = Path(root) if root else paths.chat_documents_dir()
        self.root.mkdir(parents=True, exist_ok=True)

    def path_of(self, sha256: str) -> Path:
        if not isinstance(sha256, str) or not SHA_RX.match(sha256):
            raise DocumentError(f"not a document id: {sha256!r}")
        path = self.root / sha256[:2] / sha256
        if not path.resolve().is_relative_to(self.root.resolve()):  # a linked sub-folder leads elsewhere
            raise DocumentError(f"document {sha256[:12]}… is not inside {self.root}")
        return path

    def put(self, document: ChatDocument) -> Path:
        if len(document.data) > MAX_DOCUMENT_BYTES:
            raise DocumentError(f"{document.name} is too large to attach ({human_size(len(document.data))}, "
                                f"limit {human_size(MAX_DOCUMENT_BYTES)})")
        if hashlib.sha256(document.data).hexdigest() != document.sha256:
            raise DocumentError(f"{document.name}: its bytes do not match its id")
        path = self.path_of(document.sha256)
        try:
            if not path.exists():
                path.parent.mkdir(parents=True, exist_ok=True)
                atomic_write_bytes(path, document.data)
        except OSError as exc:  # a full disk, a blocked folder: said in words, the path in the log
            log.warning("could not store chat document %s at %s: %s", document.name, path, exc)
            raise DocumentError(f"{document.name} could not be stored "
                                f"({exc.strerror or type(exc).__name__}); see the log") from None
        return path

    def read(self, sha256: str) -> bytes:
        """The stored bytes, checked against their name (a file changed on disk is not sent)."""
        path = self.path_of(sha256)
        try:
            if path.stat().st_size > MAX_DOCUMENT_BYTES:
                raise DocumentError(f"document {sha256[:12]}… was changed on disk; it is not sent")
            data = path.read_bytes()
        except OSError as exc:
            raise DocumentError(f"document {sha256[:12]}… is missing from {self.root}") from exc
        if hashlib.sha256(data).hexdigest() != sha256:
            raise DocumentError(f"document {sha256[:12]}… was changed on disk; it is not sent")
        return data

    def exists(self, sha256: str) -> bool:
        return self.path_of(sha256).is_file()

    def remove_unused(self, candidates: set[str], in_use: set[str]) -> list[str]:
        """Removes the candidates no message uses any more; returns the ids removed."""
        removed = []
        for sha in sorted(candidates - in_use):
            path = self.path_of(sha)
            try:
                path.unlink()
                removed.append(sha)
            except FileNotFoundError:
                pass
            except OSError as exc:
                log.warning("could not remove chat document %s: %s", path, exc)
        return removed

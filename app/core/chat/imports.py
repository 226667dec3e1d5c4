"""A JSON chat export read back: hostile input, checked in full before anything is stored.

The file may come from anyone. Its shape is checked (types, sizes, counts), the sampling settings and
reply statistics keep only the fields Hearth knows with the types it uses (the window shows them), and
a picture is read only from the export's own folder (a link out of it is refused), checked against its
hash, and decoded and stored as any picture is (pictures.prepare), so the model only ever gets a PNG
Hearth wrote.
"""

from __future__ import annotations

import hashlib
import json
import logging
import math
from dataclasses import dataclass, fields
from pathlib import Path
from typing import TypeGuard

from app.core.chat.documents import MAX_DOCUMENT_BYTES, SUFFIXES, ChatDocument, DocumentError, DocumentStore
from app.core.chat.documents import display_name as document_name
from app.core.chat.documents import file_name as document_file_name
from app.core.chat.engine import ChatStats, SamplingParams
from app.core.chat.history_base import EXPORT_FORMAT, HistoryError, picture_file_name
from app.core.chat.pictures import SHA_RX, Picture, PictureError, PictureStore, prepare
from app.core.chat.steps import MAX_RESULTS, MAX_STEPS, clean_result, clean_step
from app.core.fileio import sha256_file

log = logging.getLogger(__name__)

MAX_MESSAGES = 100_000
MAX_PICTURES_PER_MESSAGE = 64
MAX_PICTURES = 2_000  # distinct pictures in one export
MAX_PICTURE_BYTES = 64 * 1024 * 1024  # a stored picture is a PNG of at most 2048 px a side: far under this
MAX_DOCUMENTS_PER_MESSAGE = 64
MAX_DOCUMENTS = 2_000  # distinct documents in one export
MAX_TITLE = 500
ROLES = ("system", "user", "assistant")


@dataclass(frozen=True)
class PictureRef:
    sha256: str
    name: str
    width: int
    height: int


@dataclass(frozen=True)
class DocumentIn:
    sha256: str
    name: str
    size: int
    kind: str


@dataclass(frozen=True)
class ImportedMessage:
    role: str
    content: str
    incomplete: bool
    created: float | None
    stats: dict
    pictures: tuple[PictureRef, ...]
    documents: tuple[DocumentIn, ...] = ()
    steps: tuple[dict, ...] = ()  # an "Ask Hearth" reply's steps, each checked (a bad one kept, marked damaged)
    citations: tuple[dict, ...] = ()


@dataclass(frozen=True)
class ImportedChat:
    title: str
    system_prompt: str
    model: str
    params: dict
    messages: tuple[ImportedMessage, ...]

    @property
    def shas(self) -> set[str]:
        return {p.sha256 for m in self.messages for p in m.pictures}

    @property
    def document_shas(self) -> dict[str, str]:
        """Each document's sha256 → its kind (the kind names its file beside the export)."""
        return {d.sha256: d.kind for m in self.messages for d in m.documents}


def _bad(what: str) -> HistoryError:
    return HistoryError(f"not a valid Hearth chat export: {what}")


def _text(value, what: str, default: str = "", limit: int | None = None) -> str:
    if value is None:
        return default
    if not isinstance(value, str):
        raise _bad(f"{what} is not text")
    return value[:limit] if limit else value


def _number(value: object) -> TypeGuard[int | float]:
    """A finite number of a size JSON's readers agree on (math.isfinite raises on an int of 400 digits)."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return False
    return abs(value) < 2**63 if isinstance(value, int) else math.isfinite(value)


def _known(raw, cls, what: str) -> dict:
    """The fields of ``cls`` (a dataclass) that raw gives with the type its default has; others dropped."""
    if raw is None:
        return {}
    if not isinstance(raw, dict):
        raise _bad(f"{what} is not an object")
    out = {}
    for f in fields(cls):
        value = raw.get(f.name)
        if isinstance(f.default, str):
            ok = isinstance(value, str) and len(value) <= 500
        elif isinstance(f.default, float):
            ok = _number(value)
        else:  # int, or None (the seed): an integer; a float where an int belongs would break a spin box
            ok = _number(value) and float(value).is_integer() and abs(value) < 2**63
            if ok and _number(value):
                value = int(value)
        if ok:
            out[f.name] = value
    return out


def _pictures(raw, where: str) -> tuple[PictureRef, ...]:
    if raw is None:
        return ()
    if not isinstance(raw, list):
        raise _bad(f"{where}: its attachments are not a list")
    if len(raw) > MAX_PICTURES_PER_MESSAGE:
        raise _bad(f"{where} has more than {MAX_PICTURES_PER_MESSAGE} pictures")
    out = []
    for a in raw:
        sha = a.get("sha256") if isinstance(a, dict) else None
        if not isinstance(sha, str) or not SHA_RX.match(sha):
            raise _bad(f"{where}: a picture has no valid sha256")
        name = a.get("name") if isinstance(a.get("name"), str) else ""
        w, h = (a.get(k) if isinstance(a.get(k), int) and 0 <= a.get(k) <= 1 << 16 else 0 for k in ("width", "height"))
        out.append(PictureRef(sha, name[:120], w, h))
    return tuple(out)


def _documents(raw, where: str) -> tuple[DocumentIn, ...]:
    if raw is None:
        return ()
    if not isinstance(raw, list):
        raise _bad(f"{where}: its documents are not a list")
    if len(raw) > MAX_DOCUMENTS_PER_MESSAGE:
        raise _bad(f"{where} has more than {MAX_DOCUMENTS_PER_MESSAGE} documents")
    out = []
    for d in raw:
        sha = d.get("sha256") if isinstance(d, dict) else None
        if not isinstance(sha, str) or not SHA_RX.match(sha):
            raise _bad(f"{where}: a document has no valid sha256")
        kind = d.get("kind")
        if kind not in SUFFIXES:
            raise _bad(f"{where}: a document's kind is not one Hearth reads")
        name = d.get("name") if isinstance(d.get("name"), str) else ""
        size = d.get("size") if isinstance(d.get("size"), int) and 0 <= d.get("size") <= MAX_DOCUMENT_BYTES else 0
        out.append(DocumentIn(sha, document_name(name), size, kind))
    return tuple(out)


def _steps(m: dict, where: str) -> tuple[tuple[dict, ...], tuple[dict, ...]]:
    steps, cited = m.get("steps", []), m.get("citations", [])
    if not isinstance(steps, list) or not isinstance(cited, list):
        raise _bad(f"{where}: its steps or citations are not a list")
    if len(steps) > MAX_STEPS or len(cited) > MAX_RESULTS:
        raise _bad(f"{where} has more than {MAX_STEPS} steps or {MAX_RESULTS} citations")
    return (tuple(clean_step(s).to_json() for s in steps),
            tuple(r for r in (clean_result(c) for c in cited) if r is not None))


def parse_export(text: str) -> ImportedChat:
    """The export's content, every field checked; HistoryError says what is wrong, in words."""
    try:
        data = json.loads(text)
    except (ValueError, RecursionError) as exc:
        raise HistoryError("not a Hearth chat export: the file is not valid JSON") from exc
    if not isinstance(data, dict) or data.get("format") != EXPORT_FORMAT:
        raise HistoryError("not a Hearth chat export (unknown format)")
    raw = data.get("messages", [])
    if not isinstance(raw, list):
        raise _bad("its messages are not a list")
    if len(raw) > MAX_MESSAGES:
        raise _bad(f"more than {MAX_MESSAGES:,} messages")
    messages = []
    for i, m in enumerate(raw, 1):
        where = f"message {i}"
        if not isinstance(m, dict):
            raise _bad(f"{where} is not an object")
        if m.get("role") not in ROLES:
            raise _bad(f"{where} has no known role (system, user or assistant)")
        if not isinstance(m.get("content"), str):
            raise _bad(f"{where} has no text")
        created = m.get("created")
        messages.append(ImportedMessage(
            m["role"], m["content"], m.get("incomplete") is True, float(created) if _number(created) else None,
            _known(m.get("stats"), ChatStats, f"{where}'s statistics"), _pictures(m.get("attachments"), where),
            _documents(m.get("documents"), where), *_steps(m, where)))
    chat = ImportedChat(
        _text(data.get("title"), "the title", "Imported chat", MAX_TITLE).strip() or "Imported chat",
        _text(data.get("system_prompt"), "the system prompt"),
        _text(data.get("model"), "the model", limit=500),
        _known(data.get("params"), SamplingParams, "the settings"),
        tuple(messages),
    )
    if len(chat.shas) > MAX_PICTURES:
        raise _bad(f"more than {MAX_PICTURES:,} pictures")
    if len(chat.document_shas) > MAX_DOCUMENTS:
        raise _bad(f"more than {MAX_DOCUMENTS:,} documents")
    return chat


def store_pictures(chat: ImportedChat, folder: Path | None, added: set[str]) -> dict[str, str]:
    """Stores the pictures this Hearth lacks, adding each one stored to ``added`` (for the caller to
    forget if the import fails). Returns the export's sha → the stored sha: they match unless this
    Hearth's encoder writes the same picture's PNG with other bytes."""
    store, stored = PictureStore(), {}
    for sha in sorted(chat.shas):
        if store.exists(sha):
            stored[sha] = sha
            continue
        try:
            pic = _read_picture(sha, folder)
            if not store.exists(pic.sha256):
                store.put(pic)
                added.add(pic.sha256)
        except PictureError as exc:
            raise HistoryError(str(exc)) from exc
        except OSError as exc:
            raise HistoryError(f"could not store an imported picture: {exc.strerror or type(exc).__name__}") from exc
        stored[sha] = pic.sha256
    return stored


def _read_picture(sha: str, folder: Path | None) -> Picture:
    name = picture_file_name(sha)
    if folder is None:
        raise HistoryError(f"the picture {name} is not beside the export")
    root = Path(folder).resolve()
    source = (root / name).resolve()
    if not source.is_relative_to(root):
        log.warning("import: %s leads out of %s (%s); refused", name, root, source)
        raise HistoryError(f"the picture {name} is not inside the export's folder")
    try:
        if not source.is_file():
            raise HistoryError(f"the picture {name} is not beside the export")
        size = source.stat().st_size
        if size > MAX_PICTURE_BYTES:
            raise HistoryError(f"the picture {name} is too large ({size // (1024 * 1024)} MB)")
        if sha256_file(source) != sha:
            raise HistoryError(f"{name} is not the picture the export names (its hash differs)")
    except OSError as exc:
        raise HistoryError(f"cannot read the picture {name}: {exc.strerror or type(exc).__name__}") from exc
    return prepare(source, name, side=8192)  # hostile until decoded, like any picture


def store_documents(chat: ImportedChat, folder: Path | None, added: set[str]) -> None:
    """Stores the documents this Hearth lacks, each read from beside the export and checked against its
    hash; adds each one stored to ``added`` (for the caller to forget if the import fails). What a
    document says is read, with the hostile-file extractors, only when a prompt is built."""
    store = DocumentStore()
    for sha, kind in sorted(chat.document_shas.items()):
        if store.exists(sha):
            continue
        name = document_file_name(sha, kind)
        data = _read_beside(folder, name, MAX_DOCUMENT_BYTES, "document")
        if hashlib.sha256(data).hexdigest() != sha:
            raise HistoryError(f"{name} is not the document the export names (its hash differs)")
        try:
            store.put(ChatDocument(sha, name, len(data), kind, data))
        except DocumentError as exc:
            raise HistoryError(str(exc)) from exc
        except OSError as exc:
            raise HistoryError(f"could not store an imported document: {exc.strerror or type(exc).__name__}") \
                from exc
        added.add(sha)


def _read_beside(folder: Path | None, name: str, limit: int, what: str) -> bytes:
    """A file named in the export, read only from the export's own folder (a link out of it is refused)."""
    if folder is None:
        raise HistoryError(f"the {what} {name} is not beside the export")
    root = Path(folder).resolve()
    source = (root / name).resolve()
    if not source.is_relative_to(root):
        log.warning("import: %s leads out of %s (%s); refused", name, root, source)
        raise HistoryError(f"the {what} {name} is not inside the export's folder")
    try:
        if not source.is_file():
            raise HistoryError(f"the {what} {name} is not beside the export")
        size = source.stat().st_size
        if size > limit:
            raise HistoryError(f"the {what} {name} is too large ({size // (1024 * 1024)} MB)")
        with source.open("rb") as fh:
            data = fh.read(limit + 1)
    except OSError as exc:
        raise HistoryError(f"cannot read the {what} {name}: {exc.strerror or type(exc).__name__}") from exc
    if len(data) > limit:
        raise HistoryError(f"the {what} {name} is too large")
    return data

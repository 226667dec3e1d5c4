"""Conversations in SQLite: WAL mode, a schema version, never half-written.

Every user message is committed when sent. An assistant reply is created as
``incomplete`` when generation starts, updated as it streams (the caller
commits at least every second) and marked complete when it ends; a reply cut
short by a crash or a kill stays, marked incomplete.
"""

from __future__ import annotations

import json
import logging
import re
import sqlite3
import time
from dataclasses import dataclass, field
from pathlib import Path

from app.core import paths
from app.core.chat import search_index
from app.core.chat.documents import file_name as document_file_name
from app.core.chat.history_base import EXPORT_FORMAT, HistoryError, picture_file_name
from app.core.chat.steps import StoredStep, dump, read_citations, read_step
from app.core.chat.steps import markdown as steps_markdown
from app.core.db import DatabaseError, open_db
from app.core.fileio import loads_json

log = logging.getLogger(__name__)
SHA_RX = re.compile(r"^[0-9a-f]{64}$")  # a picture's id, as the picture store names its files
MAX_EXPORT_BYTES = 64 * 1024 * 1024  # a chat export read back: its text (pictures are files beside it)


@dataclass(frozen=True)
class Attachment:
    """A picture in a message: the stored file's sha256, and what the user called it."""

    sha256: str
    name: str
    width: int = 0
    height: int = 0


@dataclass(frozen=True)
class DocumentRef:
    """A document in a message: the stored file's sha256, what the user called it, its size and kind."""

    sha256: str
    name: str
    size: int = 0
    kind: str = "text"


@dataclass
class StoredMessage:
    id: int
    conversation_id: int
    role: str
    content: str
    created: float
    incomplete: bool = False
    stats: dict = field(default_factory=dict)
    attachments: list[Attachment] = field(default_factory=list)
    documents: list[DocumentRef] = field(default_factory=list)
    damaged: str = ""  # what was wrong with the stored row ("" when nothing): shown, never fatal
    steps: list[StoredStep] = field(default_factory=list)  # an "Ask Hearth" reply's tool steps, in order
    citations: list[dict] = field(default_factory=list)  # the results its [1] [2] … name, in order


@dataclass
class Conversation:
    id: int
    title: str
    system_prompt: str
    created: float
    updated: float
    model: str = ""
    params: dict = field(default_factory=dict)
    damaged: str = ""  # what was wrong with the stored row ("" when nothing)


@dataclass
class SearchResults:
    conversations: list[Conversation]
    total: int | None  # every match, or None: more than shown, not counted (a common term stops early)
    more: bool  # matches beyond those shown


LIST_PAGE = 300  # chats the list reads at a time (the next page as it scrolls near its end)
SEARCH_LIMIT = 200  # the sidebar's search shows this many newest matches, and says that there are more
_SELECT = "SELECT id, title, system_prompt, created, updated, model, params FROM conversations"


def _text(value) -> str:
    """A TEXT column as text: SQLite keeps whatever was written (a number, a blob)."""
    if isinstance(value, str):
        return value
    if isinstance(value, bytes):
        return value.decode("utf-8", errors="replace")
    return "" if value is None else str(value)


def _number(value) -> float:
    return float(value) if isinstance(value, (int, float)) and not isinstance(value, bool) else 0.0


def _object(value, what: str, damage: list[str]) -> dict:
    """A JSON object column; anything else (not JSON, a list, nested past the parser) is noted as damage."""
    if value in (None, "", b""):
        return {}
    try:
        data = loads_json(_text(value))
    except ValueError:
        data = None
    if isinstance(data, dict):
        return data
    damage.append(f"its {what} could not be read")
    return {}


def _conversation(row) -> Conversation:
    damage: list[str] = []
    params = _object(row[6], "settings", damage)
    return Conversation(row[0], _text(row[1]), _text(row[2]), _number(row[3]), _number(row[4]), _text(row[5]),
                        params=params, damaged="; ".join(damage))


def _message(row) -> StoredMessage:
    damage: list[str] = []
    stats = _object(row[6], "statistics", damage)
    return StoredMessage(row[0], row[1], _text(row[2]), _text(row[3]), _number(row[4]), incomplete=bool(row[5]),
                         stats=stats, damaged="; ".join(damage))


def _v0_to_v1(db: sqlite3.Connection) -> None:
    # One statement at a time: executescript() would commit the migration's transaction.
    schema = """
        CREATE TABLE conversations (
            id INTEGER PRIMARY KEY,
            title TEXT NOT NULL,
            system_prompt TEXT NOT NULL DEFAULT '',
            model TEXT NOT NULL DEFAULT '',
            params TEXT NOT NULL DEFAULT '{}',
            created REAL NOT NULL,
            updated REAL NOT NULL
        );
        CREATE TABLE messages (
            id INTEGER PRIMARY KEY,
            conversation_id INTEGER NOT NULL REFERENCES conversations(id) ON DELETE CASCADE,
            role TEXT NOT NULL CHECK (role IN ('system', 'user', 'assistant')),
            content TEXT NOT NULL,
            incomplete INTEGER NOT NULL DEFAULT 0,
            stats TEXT NOT NULL DEFAULT '{}',
            created REAL NOT NULL
        );
        CREATE INDEX messages_by_conversation ON messages(conversation_id, id)
    """
    for statement in schema.split(";"):
        db.execute(statement)


def _v2_to_v3(db: sqlite3.Connection) -> None:
    """Pictures in messages (#12): the files live in the pictures folder, named by sha256."""
    db.execute("""
        CREATE TABLE attachments (
            id INTEGER PRIMARY KEY,
            message_id INTEGER NOT NULL REFERENCES messages(id) ON DELETE CASCADE,
            position INTEGER NOT NULL,
            sha256 TEXT NOT NULL CHECK (length(sha256) = 64),
            name TEXT NOT NULL DEFAULT '',
            width INTEGER NOT NULL DEFAULT 0,
            height INTEGER NOT NULL DEFAULT 0
        )""")
    db.execute("CREATE INDEX attachments_by_message ON attachments(message_id, position)")
    db.execute("CREATE INDEX attachments_by_sha ON attachments(sha256)")


def _v4_to_v5(db: sqlite3.Connection) -> None:
    """Documents in messages (#25): the files live in the chat documents folder, named by sha256."""
    db.execute("""
        CREATE TABLE documents (
            id INTEGER PRIMARY KEY,
            message_id INTEGER NOT NULL REFERENCES messages(id) ON DELETE CASCADE,
            position INTEGER NOT NULL,
            sha256 TEXT NOT NULL CHECK (length(sha256) = 64),
            name TEXT NOT NULL DEFAULT '',
            size INTEGER NOT NULL DEFAULT 0,
            kind TEXT NOT NULL DEFAULT 'text'
        )""")
    db.execute("CREATE INDEX documents_by_message ON documents(message_id, position)")
    db.execute("CREATE INDEX documents_by_sha ON documents(sha256)")


def _v6_to_v7(db: sqlite3.Connection) -> None:
    """Steps in replies (#26): each tool step a row, written as it finishes; the citations on the message."""
    db.execute("""
        CREATE TABLE steps (
            id INTEGER PRIMARY KEY,
            message_id INTEGER NOT NULL REFERENCES messages(id) ON DELETE CASCADE,
            position INTEGER NOT NULL,
            data TEXT NOT NULL
        )""")
    db.execute("CREATE INDEX steps_by_message ON steps(message_id, position)")
    db.execute("ALTER TABLE messages ADD COLUMN citations TEXT NOT NULL DEFAULT ''")


MIGRATIONS = [_v0_to_v1, search_index.v1_to_v2, _v2_to_v3, search_index.v3_to_v4, _v4_to_v5,
              search_index.v5_to_v6, _v6_to_v7]
SEARCH_INDEX_VERSION = 2  # from this schema on, titles and messages have trigram indexes
ATTACHMENTS_VERSION = 3  # from this schema on, messages carry pictures
SEARCH_POSITIONS_VERSION = 4  # from this schema on, the message index holds trigram positions (phrases)
DOCUMENTS_VERSION = 5  # from this schema on, messages carry documents
WORD_INDEX_VERSION = 6  # from this schema on, messages are indexed by word, with positions (search_terms)
STEPS_VERSION = 7  # from this schema on, replies carry tool steps and citations


def default_path() -> Path:
    return paths.db_dir() / "chat.sqlite3"


class ChatHistory:
    """One connection per instance; use one instance per thread."""

    def __init__(self, path: Path | None = None):
        self.path = Path(path) if path else default_path()
        try:
            migrations = MIGRATIONS if search_index.trigram_fts5() else MIGRATIONS[:1]
            self.store = open_db(self.path, migrations, "the chat history", newer="read-only")
        except DatabaseError as exc:
            raise HistoryError(str(exc)) from exc
        self.db = self.store.conn
        self.read_only = self.store.read_only
        self.notice = self.store.notice
        # A newer schema's tables are not ours to trust, and a v1 file that could not be migrated has none.
        self._index_ready = False
        self.backfill = None
        known = self.store.version <= len(MIGRATIONS)  # a newer schema's tables are not ours to trust
        ours = self.store.version >= SEARCH_INDEX_VERSION and known and not self.read_only
        # Without FTS5 trigram the schema stays at 1 (search_index): then there is no attachments table.
        self.pictures = self.store.version >= ATTACHMENTS_VERSION and known
        self.documents = self.store.version >= DOCUMENTS_VERSION and known
        self.steps = self.store.version >= STEPS_VERSION and known
        if ours and (search_index.backfill_pending(self.db) or search_index.retire_pending(self.db)):
            self.backfill = search_index.Backfill(self.path)

    @property
    def indexed_search(self) -> bool:
        """Whether searches use the index (schema 6 on: by word; every message indexed, every word in the
        vocabulary). A read-only file of an older schema scans: its trigram index is not the one queried."""
        if not self._index_ready and WORD_INDEX_VERSION <= self.store.version <= len(MIGRATIONS):
            self._index_ready = not search_index.backfill_pending(self.db)
        return self._index_ready

    def _write(self, sql: str, args: tuple = ()) -> sqlite3.Cursor:
        with self._tx_checked():
            return self.db.execute(sql, args)

    def close(self) -> None:
        if self.backfill is not None:
            self.backfill.stop()
        self.db.close()

    # --- conversations ---------------------------------------------------------------
    def create(self, title: str = "New chat", system_prompt: str = "", model: str = "", params=None) -> Conversation:
        now = time.time()
        cur = self._write(
            "INSERT INTO conversations (title, system_prompt, model, params, created, updated) VALUES (?,?,?,?,?,?)",
            (title, system_prompt, model, json.dumps(params or {}), now, now),
        )
        assert cur.lastrowid is not None  # an INSERT's row
        return self.conversation(cur.lastrowid)

    def conversation(self, conversation_id: int) -> Conversation:
        row = self.db.execute(
            "SELECT id, title, system_prompt, created, updated, model, params FROM conversations WHERE id = ?",
            (conversation_id,),
        ).fetchone()
        if row is None:
            raise HistoryError(f"no conversation {conversation_id}")
        conv = _conversation(row)
        if conv.damaged:
            log.warning("chat %s is damaged: %s; its settings are the defaults", conversation_id, conv.damaged)
        return conv

    def conversations(self, search: str = "") -> list[Conversation]:
        """All conversations, newest first; with search, those whose title or messages contain it
        (case-insensitive for ASCII, as SQL LIKE; % and _ are dropped, as they always were)."""
        if search:
            return self.search(search, limit=None).conversations
        rows = self.db.execute(_SELECT + search_index.ORDER).fetchall()
        return [_conversation(r) for r in rows]

    def conversations_page(self, limit: int, after: Conversation | None = None) -> list[Conversation]:
        """The next ``limit`` conversations, newest first, after ``after`` (the last of the page before):
        a keyset read on the (updated, id) index, as fast at 50,000 chats as at 50."""
        if after is None:
            rows = self.db.execute(_SELECT + search_index.ORDER + " LIMIT ?", (limit,))
        else:
            rows = self.db.execute(_SELECT + " WHERE updated < ? OR (updated = ? AND id < ?)" + search_index.ORDER
                                   + " LIMIT ?", (after.updated, after.updated, after.id, limit))
        return [_conversation(r) for r in rows]

    def search(self, text: str, limit: int | None = SEARCH_LIMIT) -> SearchResults:
        """The limit newest conversations that contain text (as conversations(text) finds them), and how
        many match in all where that is known without a scan (see search_index.matching_ids)."""
        text = text.replace("%", "").replace("_", "")
        ids, total = search_index.matching_ids(self.db, text, limit, self.indexed_search)
        if not ids:
            return SearchResults([], total, more=False)
        found: dict[int, Conversation] = {}
        for start in range(0, len(ids), 500):  # under SQLite's host-parameter limit
            part = ids[start : start + 500]
            sql = _SELECT + f" WHERE id IN ({','.join('?' * len(part))})"
            found.update((r[0], _conversation(r)) for r in self.db.execute(sql, part))
        shown = [found[i] for i in ids if i in found]
        return SearchResults(shown, total, more=total is None or total > len(shown))

    def update(self, conversation_id: int, **changes) -> None:
        allowed = {"title", "system_prompt", "model", "params"}
        sets, args = [], []
        for key, value in changes.items():
            if key not in allowed:
                raise ValueError(key)
            sets.append(f"{key} = ?")
            args.append(json.dumps(value) if key == "params" else value)
        sets.append("updated = ?")
        args.append(time.time())
        self._write(f"UPDATE conversations SET {', '.join(sets)} WHERE id = ?", (*args, conversation_id))

    def delete(self, conversation_id: int) -> None:
        shas = self._shas("m.conversation_id = ?", (conversation_id,))
        docs = self._document_shas("m.conversation_id = ?", (conversation_id,))
        self._write("DELETE FROM conversations WHERE id = ?", (conversation_id,))
        self.forget_pictures(shas)
        self.forget_documents(docs)

    def _shas(self, where: str, args: tuple) -> set[str]:
        if not self.pictures:
            return set()
        rows = self.db.execute(
            f"SELECT a.sha256 FROM attachments a JOIN messages m ON m.id = a.message_id WHERE {where}", args)
        return {r[0] for r in rows}

    def _document_shas(self, where: str, args: tuple) -> set[str]:
        if not self.documents:
            return set()
        rows = self.db.execute(
            f"SELECT d.sha256 FROM documents d JOIN messages m ON m.id = d.message_id WHERE {where}", args)
        return {r[0] for r in rows if isinstance(r[0], str) and SHA_RX.match(r[0])}

    def forget_documents(self, shas: set[str]) -> None:
        """Removes the document files no message uses any more (another chat may share one)."""
        if not shas:
            return
        from app.core.chat.documents import DocumentStore

        marks = ",".join("?" * len(shas))
        in_use = {r[0] for r in self.db.execute(f"SELECT sha256 FROM documents WHERE sha256 IN ({marks})",
                                                tuple(shas))}
        DocumentStore().remove_unused(shas, in_use)

    def forget_pictures(self, shas: set[str]) -> None:
        """Removes the picture files no message uses any more (another chat may share one)."""
        if not shas:
            return
        from app.core.chat.pictures import PictureStore

        marks = ",".join("?" * len(shas))
        in_use = {r[0] for r in self.db.execute(f"SELECT sha256 FROM attachments WHERE sha256 IN ({marks})",
                                                tuple(shas))}
        PictureStore().remove_unused(shas, in_use)

    # --- messages ----------------------------------------------------------------------
    def messages(self, conversation_id: int) -> list[StoredMessage]:
        rows = self.db.execute(
            "SELECT id, conversation_id, role, content, created, incomplete, stats FROM messages "
            "WHERE conversation_id = ? ORDER BY id",
            (conversation_id,),
        ).fetchall()
        messages = [_message(r) for r in rows]
        by_id = {m.id: m for m in messages}
        for message_id, sha, name, width, height in () if not self.pictures else self.db.execute(
            "SELECT a.message_id, a.sha256, a.name, a.width, a.height FROM attachments a "
            "JOIN messages m ON m.id = a.message_id WHERE m.conversation_id = ? ORDER BY a.message_id, a.position",
            (conversation_id,),
        ):
            message = by_id[message_id]
            if not isinstance(sha, str) or not SHA_RX.match(sha):  # the path would be built from it
                message.damaged = "; ".join(filter(None, [message.damaged, "a picture's id is not valid"]))
                continue
            message.attachments.append(Attachment(sha, _text(name), int(_number(width)), int(_number(height))))
        self._read_documents(conversation_id, by_id)
        self._read_steps(conversation_id, by_id)
        for m in messages:
            if m.damaged:
                log.warning("chat %s, message %s is damaged: %s", conversation_id, m.id, m.damaged)
        return messages

    def _read_documents(self, conversation_id: int, by_id: dict[int, StoredMessage]) -> None:
        from app.core.chat.documents import SUFFIXES

        for message_id, sha, name, size, kind in () if not self.documents else self.db.execute(
            "SELECT d.message_id, d.sha256, d.name, d.size, d.kind FROM documents d "
            "JOIN messages m ON m.id = d.message_id WHERE m.conversation_id = ? ORDER BY d.message_id, d.position",
            (conversation_id,),
        ):
            message = by_id[message_id]
            if not isinstance(sha, str) or not SHA_RX.match(sha) or kind not in SUFFIXES:
                message.damaged = "; ".join(filter(None, [message.damaged, "a document's id or kind is not valid"]))
                continue
            message.documents.append(DocumentRef(sha, _text(name), int(_number(size)), kind))

    def _read_steps(self, conversation_id: int, by_id: dict[int, StoredMessage]) -> None:
        if not self.steps:
            return
        for message_id, data in self.db.execute(
            "SELECT s.message_id, s.data FROM steps s JOIN messages m ON m.id = s.message_id "
            "WHERE m.conversation_id = ? ORDER BY s.message_id, s.position, s.id", (conversation_id,),
        ):
            message = by_id[message_id]
            step = read_step(data)
            if step.damaged:
                message.damaged = "; ".join(filter(None, [message.damaged, f"step {len(message.steps) + 1}: "
                                                          + step.damaged]))
            message.steps.append(step)
        for message_id, data in self.db.execute(
            "SELECT id, citations FROM messages WHERE conversation_id = ? AND citations != ''", (conversation_id,),
        ):
            message = by_id[message_id]
            message.citations, damage = read_citations(data)
            if damage:
                message.damaged = "; ".join(filter(None, [message.damaged, damage]))

    def add_step(self, message_id: int, step: dict) -> None:
        """One finished step of a reply (the ask loop's ``Step.to_json()``), committed now: a kill after
        this keeps it."""
        if not self.steps:
            raise HistoryError("tool steps cannot be saved in this chat history: its schema is "
                               f"{self.store.version}, older than steps")
        with self._tx_checked():
            self.db.execute(
                "INSERT INTO steps (message_id, position, data) VALUES "
                "(?, (SELECT COALESCE(MAX(position), -1) + 1 FROM steps WHERE message_id = ?), ?)",
                (message_id, message_id, dump(step)))

    def set_citations(self, message_id: int, citations: list[dict]) -> None:
        """The results the reply's [1], [2] … name, in order."""
        if not self.steps:
            raise HistoryError("citations cannot be saved in this chat history: its schema is "
                               f"{self.store.version}, older than steps")
        self._write("UPDATE messages SET citations = ? WHERE id = ?", (dump(list(citations)), message_id))

    def message_counts(self) -> dict[int, int]:
        """How many messages each conversation has (conversations with none are absent)."""
        return dict(self.db.execute("SELECT conversation_id, COUNT(*) FROM messages GROUP BY conversation_id"))

    def add_message(
        self, conversation_id: int, role: str, content: str, incomplete: bool = False, created: float | None = None,
        attachments: tuple[Attachment, ...] | list[Attachment] = (),
        documents: tuple[DocumentRef, ...] | list[DocumentRef] = (),
    ) -> StoredMessage:
        """``attachments``: pictures already in the picture store, ``documents`` documents already in the
        chat document store (stored first, so a row never names a file that is not there)."""
        now = created if created is not None else time.time()
        if attachments and not self.pictures:
            raise HistoryError("pictures cannot be saved in this chat history: its schema stays at "
                               f"{self.store.version} (this Python's SQLite has no FTS5 trigram tokenizer)")
        if documents and not self.documents:
            raise HistoryError("documents cannot be saved in this chat history: its schema is "
                               f"{self.store.version}, older than documents")
        with self._tx_checked():
            cur = self.db.execute(
                "INSERT INTO messages (conversation_id, role, content, incomplete, created) VALUES (?,?,?,?,?)",
                (conversation_id, role, content, int(incomplete), now),
            )
            for position, a in enumerate(attachments):
                self.db.execute(
                    "INSERT INTO attachments (message_id, position, sha256, name, width, height) VALUES (?,?,?,?,?,?)",
                    (cur.lastrowid, position, a.sha256, a.name, a.width, a.height),
                )
            for position, d in enumerate(documents):
                self.db.execute(
                    "INSERT INTO documents (message_id, position, sha256, name, size, kind) VALUES (?,?,?,?,?,?)",
                    (cur.lastrowid, position, d.sha256, d.name, d.size, d.kind),
                )
            self.db.execute("UPDATE conversations SET updated = ? WHERE id = ?", (now, conversation_id))
        assert cur.lastrowid is not None  # an INSERT's row
        return StoredMessage(cur.lastrowid, conversation_id, role, content, now, incomplete, {}, list(attachments),
                             list(documents))

    def start_reply(self, conversation_id: int) -> StoredMessage:
        return self.add_message(conversation_id, "assistant", "", incomplete=True)

    def update_reply(self, message_id: int, content: str) -> None:
        self._write("UPDATE messages SET content = ? WHERE id = ?", (content, message_id))

    def finish_reply(self, message_id: int, content: str, stats: dict | None = None, incomplete=False) -> None:
        self._write(
            "UPDATE messages SET content = ?, incomplete = ?, stats = ? WHERE id = ?",
            (content, int(incomplete), json.dumps(stats or {}), message_id),
        )

    def edit_message(self, message_id: int, content: str) -> None:
        self._write("UPDATE messages SET content = ? WHERE id = ?", (content, message_id))

    def truncate_after(self, conversation_id: int, message_id: int, inclusive: bool = False) -> None:
        """Removes the messages after one (for regenerate and edit-and-resend)."""
        op = ">=" if inclusive else ">"
        shas = self._shas(f"m.conversation_id = ? AND m.id {op} ?", (conversation_id, message_id))
        docs = self._document_shas(f"m.conversation_id = ? AND m.id {op} ?", (conversation_id, message_id))
        self._write(f"DELETE FROM messages WHERE conversation_id = ? AND id {op} ?", (conversation_id, message_id))
        self.forget_pictures(shas)
        self.forget_documents(docs)

    def _tx_checked(self):
        if self.read_only:
            raise HistoryError(self.notice)
        return self.store.transaction()

    # --- export / import ----------------------------------------------------------------
    def export_json(self, conversation_id: int) -> str:
        c = self.conversation(conversation_id)
        data = {
            "format": EXPORT_FORMAT,
            "title": c.title,
            "system_prompt": c.system_prompt,
            "model": c.model,
            "params": c.params,
            "created": c.created,
            "messages": [
                {"role": m.role, "content": m.content, "incomplete": m.incomplete, "stats": m.stats,
                 "created": m.created,
                 **({"attachments": [{"sha256": a.sha256, "name": a.name, "file": picture_file_name(a.sha256),
                                      "width": a.width, "height": a.height} for a in m.attachments]}
                    if m.attachments else {}),
                 **({"documents": [{"sha256": d.sha256, "name": d.name, "size": d.size, "kind": d.kind,
                                    "file": document_file_name(d.sha256, d.kind)} for d in m.documents]}
                    if m.documents else {}),
                 **({"steps": [s.to_json() for s in m.steps]} if m.steps else {}),
                 **({"citations": m.citations} if m.citations else {})}
                for m in self.messages(conversation_id)
            ],
        }
        return json.dumps(data, indent=2, ensure_ascii=False)

    def import_json(self, text: str, folder: Path | None = None) -> Conversation:
        """A new conversation from a JSON export (hostile: imports.parse_export checks it in full first).
        ``folder``: where the export's picture files are (beside the JSON); each is checked against its
        sha256 before it is stored. A picture already in this Hearth's store needs no file. All or
        nothing: a failure leaves no conversation and none of the pictures it stored."""
        from app.core.chat import imports

        if len(text) > MAX_EXPORT_BYTES:
            raise HistoryError("the file is too large for a chat export")
        chat = imports.parse_export(text)
        if self.read_only:
            raise HistoryError(self.notice)
        if chat.document_shas and not self.documents:
            raise HistoryError("documents cannot be saved in this chat history: its schema is "
                               f"{self.store.version}, older than documents")
        if chat.shas and not self.pictures:
            raise HistoryError("pictures cannot be saved in this chat history: its schema stays at "
                               f"{self.store.version} (this Python's SQLite has no FTS5 trigram tokenizer)")
        added: set[str] = set()
        added_documents: set[str] = set()
        try:
            stored = imports.store_pictures(chat, folder, added)
            imports.store_documents(chat, folder, added_documents)
            with self._tx_checked():
                c = self.create(chat.title, chat.system_prompt, chat.model, chat.params)
                for m in chat.messages:
                    pictures = [Attachment(stored[p.sha256], p.name, p.width, p.height) for p in m.pictures]
                    documents = [DocumentRef(d.sha256, d.name, d.size, d.kind) for d in m.documents]
                    msg = self.add_message(c.id, m.role, m.content, m.incomplete, m.created, pictures, documents)
                    if m.stats:
                        self.finish_reply(msg.id, m.content, m.stats, m.incomplete)
                    for step in m.steps if self.steps else ():
                        self.add_step(msg.id, step)
                    if m.citations and self.steps:
                        self.set_citations(msg.id, list(m.citations))
        except BaseException:
            self.forget_pictures(added)
            self.forget_documents(added_documents)
            raise
        log.info("imported a chat export as conversation %s (%d messages, %d pictures)",
                 c.id, len(chat.messages), len(chat.shas))
        return self.conversation(c.id)

    def export_markdown(self, conversation_id: int) -> str:
        c = self.conversation(conversation_id)
        lines = [f"# {c.title}", ""]
        if c.system_prompt:
            lines += ["> **System:** " + c.system_prompt.replace("\n", "\n> "), ""]
        names = {"user": "You", "assistant": "Assistant", "system": "System"}
        for m in self.messages(conversation_id):
            suffix = " *(incomplete)*" if m.incomplete else ""
            lines += [f"## {names.get(m.role, m.role)}{suffix}", ""]
            lines += [f"![{_md_alt(a.name)}]({picture_file_name(a.sha256)})" for a in m.attachments]
            lines += [f"[Document: {_md_alt(d.name)}]({document_file_name(d.sha256, d.kind)})" for d in m.documents]
            if m.steps:  # what the reply did on its way, before what it said
                lines += [*steps_markdown(m.steps, []), ""]
            lines += ["", m.content, ""] if m.attachments or m.documents else [m.content, ""]
            if m.citations:
                lines += [*steps_markdown([], m.citations)[1:], ""]
        return "\n".join(lines)

    def picture_shas(self, conversation_id: int) -> set[str]:
        return self._shas("m.conversation_id = ?", (conversation_id,))

    def document_files(self, conversation_id: int) -> dict[str, str]:
        """Each document's sha256 → its kind, for the export to write beside the file."""
        return {d.sha256: d.kind for m in self.messages(conversation_id) for d in m.documents}


def _md_alt(name: str) -> str:
    return "".join(c for c in name if c not in "[]()\n\r") or "picture"

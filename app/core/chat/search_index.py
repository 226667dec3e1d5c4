"""Chat search that stays flat: trigram FTS5 indexes over titles and messages.

A trigram index answers ``LIKE '%text%'`` for text of three characters or more
without reading every message, and SQLite still checks the LIKE on each row it
returns, so results are exactly the old scan's. Schema 2 creates the indexes
and the triggers that keep them in step; existing messages are indexed by a
backfill, newest first, a chunk per short transaction on a thread of its own,
so opening a big history never waits for it. Until the backfill is done, and
for a history that cannot be migrated, search scans as before.
"""

from __future__ import annotations

import functools
import logging
import sqlite3
import threading
from pathlib import Path

log = logging.getLogger(__name__)
BACKFILL_CHUNK = 5000  # message ids per transaction: a writer waits at most one chunk
COMMON_TRIGRAM = 0.2  # above this share of messages, a term may be in most chats: walk the newest first
MATCH_TRIGRAMS = 6  # candidates hold this many of the text's rarest trigrams (more narrow little further)
PROBE = 64  # newest chats looked at to tell a common word (most match: walk on) from a rare phrase of common words

_PENDING = "(SELECT messages_below FROM search_backfill)"


def v1_to_v2(db: sqlite3.Connection) -> None:
    for sql in (
        # Rows with an id below messages_below are not indexed yet; the backfill lowers it to 1.
        "CREATE TABLE search_backfill (messages_below INTEGER NOT NULL)",
        "INSERT INTO search_backfill SELECT COALESCE(MAX(id), 0) + 1 FROM messages",
        # detail=none: SQLite re-checks each LIKE against the text, so positions are not needed (half the size).
        "CREATE VIRTUAL TABLE message_search USING fts5(content, content='messages', content_rowid='id',"
        " tokenize='trigram case_sensitive 0', detail=none)",
        "CREATE VIRTUAL TABLE message_terms USING fts5vocab(message_search, row)",
        "CREATE VIRTUAL TABLE title_search USING fts5(title, content='conversations', content_rowid='id',"
        " tokenize='trigram case_sensitive 0', detail=none)",
        f"CREATE TRIGGER message_search_insert AFTER INSERT ON messages WHEN new.id >= {_PENDING} BEGIN"
        " INSERT INTO message_search(rowid, content) VALUES (new.id, new.content); END",
        f"CREATE TRIGGER message_search_delete AFTER DELETE ON messages WHEN old.id >= {_PENDING} BEGIN"
        " INSERT INTO message_search(message_search, rowid, content) VALUES ('delete', old.id, old.content); END",
        f"CREATE TRIGGER message_search_update AFTER UPDATE OF content ON messages WHEN old.id >= {_PENDING} BEGIN"
        " INSERT INTO message_search(message_search, rowid, content) VALUES ('delete', old.id, old.content);"
        " INSERT INTO message_search(rowid, content) VALUES (new.id, new.content); END",
        "CREATE TRIGGER title_search_insert AFTER INSERT ON conversations BEGIN"
        " INSERT INTO title_search(rowid, title) VALUES (new.id, new.title); END",
        "CREATE TRIGGER title_search_delete AFTER DELETE ON conversations BEGIN"
        " INSERT INTO title_search(title_search, rowid, title) VALUES ('delete', old.id, old.title); END",
        "CREATE TRIGGER title_search_update AFTER UPDATE OF title ON conversations BEGIN"
        " INSERT INTO title_search(title_search, rowid, title) VALUES ('delete', old.id, old.title);"
        " INSERT INTO title_search(rowid, title) VALUES (new.id, new.title); END",
        "INSERT INTO title_search(title_search) VALUES ('rebuild')",  # titles are short: at once
        "CREATE INDEX conversations_by_updated ON conversations(updated DESC, id DESC)",
    ):
        db.execute(sql)


@functools.cache
def trigram_fts5() -> bool:
    """Whether this SQLite has FTS5 with the trigram tokenizer (3.34+); without it search scans, as before."""
    try:
        sqlite3.connect(":memory:").execute("CREATE VIRTUAL TABLE t USING fts5(x, tokenize='trigram')")
        return True
    except sqlite3.OperationalError:
        log.warning("SQLite %s has no FTS5 trigram tokenizer: chat search scans every message",
                    sqlite3.sqlite_version)
        return False


def backfill_pending(db: sqlite3.Connection) -> bool:
    return db.execute(f"SELECT {_PENDING}").fetchone()[0] > 1


def backfill_step(db: sqlite3.Connection, chunk: int = BACKFILL_CHUNK) -> bool:
    """Indexes the next chunk of older messages in one transaction; False when none are left."""
    db.execute("BEGIN IMMEDIATE")
    try:
        below = db.execute(f"SELECT {_PENDING}").fetchone()[0]
        if below <= 1:
            db.execute("COMMIT")
            return False
        low = max(1, below - chunk)
        db.execute("INSERT INTO message_search(rowid, content) SELECT id, content FROM messages"
                   " WHERE id >= ? AND id < ?", (low, below))
        db.execute("UPDATE search_backfill SET messages_below = ?", (low,))
        db.execute("COMMIT")
        return low > 1
    except BaseException:
        db.execute("ROLLBACK")
        raise


class Backfill:
    """Indexes the messages a migration found, on a thread with its own connection."""

    def __init__(self, path: Path):
        self.path = path
        self.done = threading.Event()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="chat-search-backfill", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        try:
            db = sqlite3.connect(self.path, timeout=10, isolation_level=None)
            try:
                while not self._stop.is_set() and backfill_step(db):
                    pass
            finally:
                db.close()
            if not self._stop.is_set():
                log.info("chat search index built for %s", self.path)
        except sqlite3.Error as exc:  # the scan still answers searches
            log.warning("chat search index backfill stopped: %s", exc)
        finally:
            self.done.set()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=5)


def _trigrams(text: str) -> set[str]:
    low = text.lower()
    return {low[i : i + 3] for i in range(len(low) - 2)}


def use_index(db: sqlite3.Connection, text: str) -> bool:
    """Whether the trigram index is the faster way to find text (see where_clause)."""
    return where_clause(db, text)[0] is not SCAN_WHERE


def where_clause(db: sqlite3.Connection, text: str, common: bool = False) -> tuple[str, tuple]:
    """The WHERE clause (and its arguments) that finds chats whose title or messages contain text.

    Text under three characters is scanned, and so is text whose rarest trigram is in a large share of
    messages (a common word) unless common is set (the caller knows the text is rare in chats anyway).
    Otherwise the index finds the messages that hold all of its rarest ASCII trigrams (whose case folding
    is Python's too), and LIKE checks each: FTS5 steps its AND through the rarest list, seeking in the
    others, so a phrase of common words costs its candidates, not its words' whole lists."""
    like = f"%{text}%"
    grams = _trigrams(text)
    if not grams:
        return SCAN_WHERE, (like, like)
    marks = ",".join("?" * len(grams))
    counts = dict(db.execute(f"SELECT term, doc FROM message_terms WHERE term IN ({marks})", tuple(grams)))
    if len(counts) < len(grams):
        return INDEXED_WHERE, (like, like)  # some trigram is in no message (or folds otherwise): exact and quick
    total = db.execute("SELECT MAX(id) FROM messages").fetchone()[0] or 1
    if min(counts.values()) >= COMMON_TRIGRAM * total and not common:
        return SCAN_WHERE, (like, like)
    rarest = sorted((n, t) for t, n in counts.items() if t.isascii())[:MATCH_TRIGRAMS]
    if not rarest:
        return INDEXED_WHERE, (like, like)
    match = " AND ".join('"' + t.replace('"', '""') + '"' for _, t in rarest)
    return NARROWED_WHERE, (like, match, like)


INDEXED_WHERE = (" WHERE id IN (SELECT rowid FROM title_search WHERE title LIKE ?"
                 " UNION SELECT m.conversation_id FROM message_search s JOIN messages m ON m.id = s.rowid"
                 " WHERE s.content LIKE ?)")
NARROWED_WHERE = (" WHERE id IN (SELECT rowid FROM title_search WHERE title LIKE ?"
                  " UNION SELECT m.conversation_id FROM message_search s JOIN messages m ON m.id = s.rowid"
                  " WHERE message_search MATCH ? AND m.content LIKE ?)")
SCAN_WHERE = (" WHERE (title LIKE ? OR EXISTS (SELECT 1 FROM messages m"
              " WHERE m.conversation_id = conversations.id AND m.content LIKE ?))")
ORDER = " ORDER BY updated DESC, id DESC"
# Newest first down the recency index, so LIMIT stops the walk at the limit-th hit instead of sorting every hit.
WALK = " INDEXED BY conversations_by_updated" + SCAN_WHERE


def matching_ids(db: sqlite3.Connection, text: str, limit: int | None, indexed: bool) -> tuple[list[int], int | None]:
    """Ids of the chats whose title or messages contain text, newest first, at most limit of them, and
    the number of all matches: None when there are more than limit and counting them would cost a scan.

    A term whose trigrams are all common is looked for in the newest PROBE chats first: where half of
    them or more match (a common word), the walk goes on newest first and stops at the limit. Where
    fewer do (a phrase of common words, rare as a whole), and for a rarer term, the index gives the
    candidates: every match is found and counted. Text under three characters walks newest first."""
    like = f"%{text}%"
    if not indexed:
        return _walk(db, SCAN_WHERE, like, limit)
    where, args = where_clause(db, text)
    if where is SCAN_WHERE:
        if limit is None:
            return _walk(db, SCAN_WHERE, like, None)
        if not _trigrams(text):
            return _walk(db, WALK, like, limit)
        probe, total = _walk(db, WALK, like, PROBE, budget=PROBE)
        if total != -1:  # there are no older chats: that was every match
            return probe[:limit], total
        if 2 * len(probe) >= PROBE:  # half or more match: the walk reaches the limit within 2 x limit chats
            return _walk(db, WALK, like, limit)
        where, args = where_clause(db, text, common=True)
    ids = [r[0] for r in db.execute("SELECT id FROM conversations" + where + ORDER, args)]
    return (ids if limit is None else ids[:limit]), len(ids)


def _walk(db, where: str, like: str, limit: int | None, budget: int | None = None) -> tuple[list[int], int | None]:
    """Matches newest first up to limit (total None: more); with a budget, only among that many newest
    chats, and total -1 when they held no more than limit matches but older chats are left."""
    sql, args = "SELECT id FROM conversations" + where, (like, like)
    bounded = False
    if budget is not None:
        edge = db.execute("SELECT updated, id FROM conversations INDEXED BY conversations_by_updated"
                          + ORDER + " LIMIT 1 OFFSET ?", (budget - 1,)).fetchone()
        if edge is not None:  # an index range (updated >= edge), so the walk stops there
            sql += " AND updated >= ? AND (updated > ? OR id >= ?)"
            args, bounded = (*args, edge[0], edge[0], edge[1]), True
    sql += ORDER
    if limit is not None:
        sql, args = sql + " LIMIT ?", (*args, limit + 1)
    ids = [r[0] for r in db.execute(sql, args)]
    if limit is not None and len(ids) > limit:
        return ids[:limit], None
    return ids, -1 if bounded else len(ids)

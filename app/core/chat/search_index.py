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
MATCH_TRIGRAMS = 4  # candidates hold this many of the text's trigrams
CANDIDATES = 3000  # fewer candidate messages than this: the index answers (and counts) at once
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


def where_clause(text: str) -> tuple[str, tuple]:
    """The WHERE clause (and its arguments) that finds, through the index, every chat whose title or
    messages contain text: candidates are the messages that hold all of its ASCII trigrams (whose case
    folding is Python's too; FTS5 steps the AND through the rarest list, seeking in the others), and
    LIKE checks each, so results are the scan's. Text under three characters has no index route."""
    like = f"%{text}%"
    grams = _match_trigrams(text)
    if not _trigrams(text):
        return SCAN_WHERE, (like, like)
    if not grams:
        return INDEXED_WHERE, (like, like)
    return NARROWED_WHERE, (like, _match(grams), like)


def _match_trigrams(text: str) -> list[str]:
    """Up to MATCH_TRIGRAMS ASCII trigrams of text, spread along it, letters and digits first: a trigram
    with a space (" in", "e t") is in most messages, and ANDing its list costs more than it narrows."""
    low = text.lower()
    seen, order = set(), []
    for i in range(len(low) - 2):
        t = low[i : i + 3]
        if t.isascii() and t not in seen:
            seen.add(t)
            order.append(t)
    words = [t for t in order if t.isalnum()] or order
    if len(words) > MATCH_TRIGRAMS:
        step = (len(words) - 1) / (MATCH_TRIGRAMS - 1)
        words = [words[round(k * step)] for k in range(MATCH_TRIGRAMS)]
    return words


def _match(grams: list[str]) -> str:
    return " AND ".join('"' + t.replace('"', '""') + '"' for t in grams)


def plan(db: sqlite3.Connection, text: str, limit: int | None) -> str:
    """How to find text: "walk" the chats newest first checking LIKE, stopping at the limit; walk them
    checking only the index's "candidates"; or ask the "index" for every match (and count them).

    Few candidate messages (under CANDIDATES: counted by FTS5 up to that many, which is quick whatever
    the term) go to the index: each is mapped to its chat and checked. Many candidates may mean a common
    word (most chats match: the plain walk reaches the limit within a few hundred chats) or a word in a
    few percent of chats (the plain walk would read thousands of messages; the candidate walk reads only
    the candidates among them): the newest PROBE chats tell which."""
    grams = _match_trigrams(text)
    if limit is None and grams:
        return "index"
    if not grams:
        return "walk" if not _trigrams(text) or limit is not None else "index"
    many = db.execute("SELECT count(*) FROM (SELECT rowid FROM message_search WHERE message_search MATCH ?"
                      " LIMIT ?)", (_match(grams), CANDIDATES)).fetchone()[0] >= CANDIDATES
    if not many:
        return "index"
    probe, total = _walk(db, "SELECT id FROM conversations" + WALK, (f"%{text}%",) * 2, PROBE, budget=PROBE)
    return "walk" if total != -1 or 2 * len(probe) >= PROBE else "candidates"


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
# The walk again, reading only the messages the index names (materialized once: a subquery inside the
# correlated one would be run again for every chat). "m.id + 0" keeps SQLite stepping through the chat's
# few messages and probing the candidates, instead of seeking every candidate in every chat.
CANDIDATE_WALK = ("WITH candidates(id) AS MATERIALIZED (SELECT rowid FROM message_search WHERE message_search MATCH ?)"
                  " SELECT id FROM conversations INDEXED BY conversations_by_updated WHERE (title LIKE ? OR EXISTS"
                  " (SELECT 1 FROM messages m WHERE m.conversation_id = conversations.id AND m.id + 0 IN candidates"
                  " AND m.content LIKE ?))")
CANDIDATE_BUDGET = 3000  # newest chats a candidate walk reads before it asks the index (matches were too rare)
MATERIALIZED_CTE = sqlite3.sqlite_version_info >= (3, 35)  # older: no candidate walk, the index answers


def matching_ids(db: sqlite3.Connection, text: str, limit: int | None, indexed: bool) -> tuple[list[int], int | None]:
    """Ids of the chats whose title or messages contain text, newest first, at most limit of them, and
    the number of all matches: None when there are more than limit and counting them would cost a scan
    (see plan: the index finds and counts every match; a walk stops at the limit)."""
    like = f"%{text}%"
    if not indexed:
        return _walk(db, "SELECT id FROM conversations" + SCAN_WHERE, (like, like), limit)
    route = plan(db, text, limit)
    if route == "walk":
        return _walk(db, "SELECT id FROM conversations" + WALK, (like, like), limit)
    if route == "candidates" and MATERIALIZED_CTE:
        ids, total = _walk(db, CANDIDATE_WALK, (_match(_match_trigrams(text)), like, like), limit,
                           budget=CANDIDATE_BUDGET)
        if total != -1:
            return ids, total
    where, args = where_clause(text)
    ids = [r[0] for r in db.execute("SELECT id FROM conversations" + where + ORDER, args)]
    return (ids if limit is None else ids[:limit]), len(ids)


def _walk(db, sql: str, args: tuple, limit: int | None, budget: int | None = None) -> tuple[list[int], int | None]:
    """Matches of sql (a SELECT of conversations whose WHERE is open for more terms) newest first up to
    limit (total None: more); with a budget, only among that many newest chats, and total -1 when they
    held no more than limit matches but older chats are left."""
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

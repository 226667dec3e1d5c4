"""Chat search that stays flat: trigram FTS5 indexes over titles and messages.

A trigram index answers ``LIKE '%text%'`` for text of three characters or more
without reading every message, and SQLite still checks the LIKE on each row it
returns, so results are exactly the old scan's. Schema 2 creates the indexes
and the triggers that keep them in step; existing messages are indexed by a
backfill, newest first, a chunk per short transaction on a thread of its own,
so opening a big history never waits for it. Until the backfill is done, and
for a history that cannot be migrated, search scans as before. Schema 4 builds
the message index again with trigram positions, so the index can tell a phrase
from two words anywhere in a message.
"""

from __future__ import annotations

import functools
import json
import logging
import sqlite3
import threading
from pathlib import Path

from app.core.chat import search_terms

log = logging.getLogger(__name__)
BACKFILL_CHUNK = 5000  # message ids per transaction: a writer waits at most one chunk
CANDIDATES = 3000  # fewer candidate messages than this: the index answers (and counts) at once
PROBE = 64  # newest chats looked at to tell a common word (most match: walk on) from a rare phrase of common words

_PENDING = "(SELECT messages_below FROM search_backfill)"
# Old message indexes (schema 2's, schema 4's trigrams), removed by the backfill thread.
_RETIRED = ("message_search_v2", "message_search_v4")
RETIRE_CHUNK = 500  # their leaf pages (about 4 kB each) freed per transaction
TERMS_CHUNK = 20_000  # words copied into the vocabulary per transaction


def _message_index(db: sqlite3.Connection, detail: str, tokenize: str = "trigram case_sensitive 0") -> None:
    for sql in (
        f"CREATE VIRTUAL TABLE message_search USING fts5(content, content='messages', content_rowid='id',"
        f" tokenize='{tokenize}', detail={detail})",
        f"CREATE TRIGGER message_search_insert AFTER INSERT ON messages WHEN new.id >= {_PENDING} BEGIN"
        " INSERT INTO message_search(rowid, content) VALUES (new.id, new.content); END",
        f"CREATE TRIGGER message_search_delete AFTER DELETE ON messages WHEN old.id >= {_PENDING} BEGIN"
        " INSERT INTO message_search(message_search, rowid, content) VALUES ('delete', old.id, old.content); END",
        f"CREATE TRIGGER message_search_update AFTER UPDATE OF content ON messages WHEN old.id >= {_PENDING} BEGIN"
        " INSERT INTO message_search(message_search, rowid, content) VALUES ('delete', old.id, old.content);"
        " INSERT INTO message_search(rowid, content) VALUES (new.id, new.content); END",
    ):
        db.execute(sql)


def v1_to_v2(db: sqlite3.Connection) -> None:
    # Rows with an id below messages_below are not indexed yet; the backfill lowers it to 1.
    db.execute("CREATE TABLE search_backfill (messages_below INTEGER NOT NULL)")
    db.execute("INSERT INTO search_backfill SELECT COALESCE(MAX(id), 0) + 1 FROM messages")
    # detail=none: SQLite re-checks each LIKE against the text, so positions are not needed (v3_to_v4 adds them).
    _message_index(db, "none")
    for sql in (
        "CREATE VIRTUAL TABLE title_search USING fts5(title, content='conversations', content_rowid='id',"
        " tokenize='trigram case_sensitive 0', detail=none)",
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


def v3_to_v4(db: sqlite3.Connection) -> None:
    """Trigram positions (detail=full), so a phrase of common words ("some into") is matched by the index
    instead of LIKE-checking every message that holds both words. A new index is built by the backfill,
    newest first, in the background (searches scan until it is done); the old one is set aside, as
    dropping it here would keep the history from opening for seconds, and removed a chunk at a time."""
    for name in ("message_search_insert", "message_search_delete", "message_search_update"):
        db.execute(f"DROP TRIGGER IF EXISTS {name}")
    db.execute(f"ALTER TABLE message_search RENAME TO {_RETIRED[0]}")
    db.execute("UPDATE search_backfill SET messages_below = (SELECT COALESCE(MAX(id), 0) + 1 FROM messages)")
    _message_index(db, "full")


def v5_to_v6(db: sqlite3.Connection) -> None:
    """A word index with positions (search_terms) instead of trigrams with positions: 0.5 times the text
    instead of 3.9, and built several times faster. Built by the backfill as v3_to_v4's was, then the
    vocabulary is filled from it (terms_from: the last word copied, NULL when done)."""
    for name in ("message_search_insert", "message_search_delete", "message_search_update"):
        db.execute(f"DROP TRIGGER IF EXISTS {name}")
    db.execute(f"ALTER TABLE message_search RENAME TO {_RETIRED[1]}")
    db.execute("ALTER TABLE search_backfill ADD COLUMN terms_from TEXT")
    db.execute("UPDATE search_backfill SET messages_below = (SELECT COALESCE(MAX(id), 0) + 1 FROM messages),"
               " terms_from = ''")
    _message_index(db, "full", search_terms.TOKENIZER)
    search_terms.create_vocabulary(db)


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
    """Whether messages are left to index, or (schema 6) words to copy into the vocabulary."""
    if db.execute(f"SELECT {_PENDING}").fetchone()[0] > 1:
        return True
    columns = {r[1] for r in db.execute("PRAGMA table_info(search_backfill)")}
    return "terms_from" in columns and db.execute("SELECT terms_from FROM search_backfill").fetchone()[0] is not None


def _retired(db: sqlite3.Connection) -> str | None:
    marks = ",".join("?" * len(_RETIRED))
    row = db.execute(f"SELECT name FROM sqlite_master WHERE name IN ({marks}) ORDER BY name LIMIT 1",
                     _RETIRED).fetchone()
    return row and row[0]


def retire_pending(db: sqlite3.Connection) -> bool:
    return _retired(db) is not None


def retire_step(db: sqlite3.Connection, chunk: int = RETIRE_CHUNK) -> bool:
    """Frees the next chunk of the old index in one short transaction (its rows go from the shadow table
    that holds nearly all its pages; the rest is dropped at once); False when it is gone."""
    db.execute("BEGIN IMMEDIATE")
    try:
        retired = _retired(db)
        if retired is None:
            db.execute("COMMIT")
            return False
        data = f"{retired}_data"  # rows 1 and 10 (averages, structure) stay: DROP TABLE opens the table first
        freed = db.execute(f"DELETE FROM {data} WHERE rowid IN (SELECT rowid FROM {data} WHERE rowid > 10 LIMIT ?)",
                           (chunk,)).rowcount
        if not freed:
            db.execute(f"DROP TABLE {retired}")
        db.execute("COMMIT")
        return True
    except BaseException:
        db.execute("ROLLBACK")
        raise


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


def terms_step(db: sqlite3.Connection, chunk: int = TERMS_CHUNK) -> bool:
    """Copies the next chunk of the index's words (in order) into the vocabulary; False when all are in."""
    db.execute("CREATE VIRTUAL TABLE IF NOT EXISTS temp.message_words USING fts5vocab(main, message_search, row)")
    db.execute("BEGIN IMMEDIATE")
    try:
        after = db.execute("SELECT terms_from FROM search_backfill").fetchone()[0]
        if after is None:
            db.execute("COMMIT")
            return False
        words = [r[0] for r in db.execute("SELECT term FROM temp.message_words WHERE term > ? ORDER BY term LIMIT ?",
                                          (after, chunk))]
        db.executemany("INSERT OR IGNORE INTO search_terms(term) VALUES (?)", ((w,) for w in words))
        db.execute("UPDATE search_backfill SET terms_from = ?", (words[-1] if len(words) == chunk else None,))
        db.execute("COMMIT")
        return len(words) == chunk
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
                try:
                    while not self._stop.is_set() and retire_step(db):
                        pass
                except sqlite3.OperationalError as exc:  # e.g. defensive mode locks shadow tables: it only wastes room
                    log.warning("the old chat search index stays in %s: %s", self.path, exc)
                while not self._stop.is_set() and backfill_step(db):
                    pass
                while not self._stop.is_set() and _has_terms(db) and terms_step(db):
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


def _has_terms(db: sqlite3.Connection) -> bool:
    return db.execute("SELECT 1 FROM sqlite_master WHERE name = 'search_terms'").fetchone() is not None


def where_clause(db: sqlite3.Connection, text: str) -> tuple[str, tuple]:
    """The WHERE clause (and its arguments) that finds every chat whose title or messages contain text:
    through the index, candidates are the messages its query matches (see search_terms.match_query) and
    LIKE checks each, so results are the scan's; text whose words cannot narrow it scans."""
    like = f"%{text}%"
    query = search_terms.match_query(db, text)
    if query is None:
        return SCAN_WHERE, (like, like)
    if query == "":
        return TITLE_WHERE, (like,)
    return NARROWED_WHERE, (like, query, like)


def plan(db: sqlite3.Connection, text: str, limit: int | None) -> str:
    """How to find text: "walk" the chats newest first checking LIKE, stopping at the limit; walk them
    checking only the index's "candidates"; or ask the "index" for every match (and count them)."""
    return _plan(db, text, limit)[0]


def _plan(db: sqlite3.Connection, text: str, limit: int | None) -> tuple[str, list[int] | None, str | None]:
    """The route, for the index route the candidate message ids where they are already read, and the query.

    Few candidate messages (under CANDIDATES: read from FTS5 up to that many, quick whatever the term)
    go to the index: each is mapped to its chat and checked. Many candidates may mean a common word (most
    chats match: the plain walk reaches the limit within a few hundred chats) or a word in a few percent
    of chats (the plain walk would read thousands of messages; the candidate walk reads only the
    candidates among them): the newest PROBE chats tell which."""
    query = search_terms.match_query(db, text)
    if query is None:
        return "walk", None, None
    if query == "":
        return "index", [], query
    if limit is None:
        return "index", None, query
    rows = [r[0] for r in db.execute("SELECT rowid FROM message_search WHERE message_search MATCH ? LIMIT ?",
                                     (query, CANDIDATES))]
    if len(rows) < CANDIDATES:
        return "index", rows, query
    probe, total = _walk(db, "SELECT id FROM conversations" + WALK, (f"%{text}%",) * 2, PROBE, budget=PROBE)
    return ("walk" if total != -1 or 2 * len(probe) >= PROBE else "candidates"), None, query


@functools.cache
def _json_each() -> bool:
    try:
        sqlite3.connect(":memory:").execute("SELECT value FROM json_each('[1]')")
        return True
    except sqlite3.OperationalError:
        return False


NARROWED_WHERE = (" WHERE id IN (SELECT rowid FROM title_search WHERE title LIKE ?"
                  " UNION SELECT m.conversation_id FROM message_search s JOIN messages m ON m.id = s.rowid"
                  " WHERE message_search MATCH ? AND m.content LIKE ?)")
TITLE_WHERE = " WHERE id IN (SELECT rowid FROM title_search WHERE title LIKE ?)"  # no message can hold it
# The index route when its candidate messages are already read (the FTS5 query is not run twice).
KNOWN_WHERE = (" WHERE id IN (SELECT rowid FROM title_search WHERE title LIKE ?"
               " UNION SELECT m.conversation_id FROM messages m"
               " WHERE m.id IN (SELECT value FROM json_each(?)) AND m.content LIKE ?)")
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
    search_terms.sync_terms(db)
    route, rows, query = _plan(db, text, limit)
    if route == "walk" and limit is None:
        return _walk(db, "SELECT id FROM conversations" + SCAN_WHERE, (like, like), limit)
    if route == "walk":
        return _walk(db, "SELECT id FROM conversations" + WALK, (like, like), limit)
    if route == "candidates" and MATERIALIZED_CTE:
        ids, total = _walk(db, CANDIDATE_WALK, (query, like, like), limit, budget=CANDIDATE_BUDGET)
        if total != -1:
            return ids, total
    if rows is not None and _json_each():
        where, args = KNOWN_WHERE, (like, json.dumps(rows), like)
    else:
        where, args = where_clause(db, text)
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

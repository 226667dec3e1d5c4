"""`bench.py chat-search` (and the search figure of `bench.py chat`): history search at 5,000 and 50,000 chats.

Each size is a generated history of 20-message chats (about 700 bytes a message, as a real one measured),
written as schema 1 (no search index), then opened by ChatHistory, which migrates it (reported) and indexes
the existing messages in the background (the backfill, reported; searches scan until it is done). Queries
are timed through ChatHistory.search, the call the sidebar makes on each keystroke (the 200 newest
matches and a count or "more"), against the old LIKE scan on the same file; each answer is checked to be the
old scan's first 200. Since schema 6 the message index is by word (FTS5 unicode61, with positions) and a
vocabulary of those words answers text that begins or ends inside a word: index_to_text is every search
table's pages (SQLite's dbstat) over the messages' text bytes (goal <= 1.5). No model is loaded.
"""

from __future__ import annotations

import random
import sqlite3
import statistics
import tempfile
import time
from pathlib import Path

SIZES = (5_000, 50_000)
MESSAGES = 20
COMMON = str.split("the and to of a in is it you that for on was with as have be at this not but are or your can what "
          "like about would there their will when how which make just time could more some into them then than "
          "other these its also after first well way even because good any most day new know work take people")
OLD_SEARCH = ("SELECT id FROM conversations WHERE title LIKE ? OR id IN"
              " (SELECT conversation_id FROM messages WHERE content LIKE ?) ORDER BY updated DESC, id DESC")


def _vocabulary() -> list[str]:
    rng = random.Random(11)
    letters = "abcdefghijklmnopqrstuvwxyz"
    rare = {"".join(rng.choice(letters) for _ in range(rng.randint(4, 10))) for _ in range(40_000)}
    return COMMON + sorted(rare)


def _corpus(rng: random.Random, vocab: list[str], words: int) -> list[str]:
    """A Zipf-like stream of words: a few very common, a long tail of rare ones (names, places, jargon)."""
    weights = [1.0 / (rank + 1) for rank in range(len(vocab))]
    return rng.choices(vocab, weights, k=words)


def generate_v1_history(path: Path, chats: int, seed: int = 7) -> None:
    """Writes a schema-1 history (no search index) of chats x 20 messages."""
    from app.core.chat.history import MIGRATIONS

    rng = random.Random(seed)
    vocab = _vocabulary()
    corpus = _corpus(rng, vocab, 2_000_000)
    conn = sqlite3.connect(path, isolation_level=None)
    conn.execute("PRAGMA journal_mode = WAL")
    MIGRATIONS[0](conn)
    conn.execute("PRAGMA user_version = 1")
    conn.execute("BEGIN")
    span = len(corpus) - 200
    for c in range(chats):
        start = rng.randrange(span)
        title = " ".join(corpus[start : start + 4]).capitalize()
        cid = conn.execute("INSERT INTO conversations (title, created, updated) VALUES (?,?,?)",
                           (title, c, c)).lastrowid
        rows = []
        for m in range(MESSAGES):
            start = rng.randrange(span)
            rows.append((cid, "user" if m % 2 == 0 else "assistant",
                         " ".join(corpus[start : start + rng.randint(90, 140)]), c))
        conn.executemany("INSERT INTO messages (conversation_id, role, content, created) VALUES (?,?,?,?)", rows)
    conn.execute("COMMIT")
    conn.close()


def _index_sizes(db: sqlite3.Connection) -> dict:
    """The messages' text and the search tables' pages (FTS5 shadow tables, the vocabulary), in MB."""
    text = db.execute("SELECT SUM(LENGTH(CAST(content AS BLOB))) FROM messages").fetchone()[0] or 0
    try:
        index = db.execute("SELECT SUM(pgsize) FROM dbstat WHERE name LIKE 'message_search%'"
                           " OR name LIKE 'title_search%' OR name LIKE 'search_terms%'"
                           " OR name LIKE 'term_search%'").fetchone()[0] or 0
    except sqlite3.OperationalError:  # an SQLite without dbstat
        return {"text_mb": round(text / 1e6, 1)}
    return {"text_mb": round(text / 1e6, 1), "index_mb": round(index / 1e6, 1),
            "index_to_text": round(index / text, 3) if text else None}


def _median_ms(fn, repeats: int = 5) -> float:
    fn()  # warm the page cache
    times = []
    for _ in range(repeats):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return round(statistics.median(times) * 1000, 2)


def _queries() -> dict[str, str]:
    """Query words picked by frequency rank, so each figure means the same at every size."""
    tail = _vocabulary()[len(COMMON):]
    return {
        "rare word": tail[-1],  # the long tail: a name, a place (~0.5% of chats)
        "uncommon word": tail[len(tail) // 4],  # ~2% of chats
        "two words": f"{COMMON[5]} {tail[len(tail) // 4]}",  # "in lisbon"
        "common phrase": f"{COMMON[40]} {COMMON[41]}",  # every trigram is common: the slowest kind
        "common word": COMMON[30],
        "common word prefix": COMMON[30][:3],
        "rare word prefix": tail[-1][:3],
        "punctuation and quotes": '"it\'s" (NEAR) -x*',
    }


def _one_size(tmp: Path, chats: int) -> dict:
    from app.core.chat.history import LIST_PAGE, ChatHistory

    path = tmp / f"chat-{chats}.sqlite3"
    t = time.perf_counter()
    generate_v1_history(path, chats)
    generated_s = time.perf_counter() - t
    size_v1 = path.stat().st_size
    t = time.perf_counter()
    history = ChatHistory(path)  # migrates: the indexes and triggers; existing messages are backfilled
    migrate_s = time.perf_counter() - t
    if history.backfill is not None:
        history.backfill.done.wait()
    backfill_s = time.perf_counter() - t
    assert history.indexed_search
    history.db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    out = {
        "chats": chats,
        "messages": chats * MESSAGES,
        "generate_s": round(generated_s, 1),
        "migrate_s": round(migrate_s, 2),
        "backfill_s (background)": round(backfill_s, 1),
        "file_mb_before": round(size_v1 / 1e6, 1),
        "file_mb_after": round(path.stat().st_size / 1e6, 1),
        **_index_sizes(history.db),
        "list_all_ms": _median_ms(history.conversations, 3),
        # what the chat list reads now: a page at a time (goal <= 30 ms at 50,000 chats)
        "list_first_page_ms": _median_ms(lambda: history.conversations_page(LIST_PAGE + 1), 5),
    }
    for name, q in _queries().items():
        found = history.search(q)
        ours = _median_ms(lambda q=q: history.search(q))
        like = f"%{q.replace('%', '').replace('_', '')}%"
        old_ids = [r[0] for r in history.db.execute(OLD_SEARCH, (like, like))]
        assert [c.id for c in found.conversations] == old_ids[: len(found.conversations)], name
        assert found.total in (None, len(old_ids)) and found.more == (len(old_ids) > len(found.conversations)), name
        old = _median_ms(lambda like=like: history.db.execute(OLD_SEARCH, (like, like)).fetchall(), 1)
        out[name] = {"query": q, "chats_matching": len(old_ids), "shown": len(found.conversations),
                     "counted": found.total is not None, "ms": ours, "old_like_scan_ms": old,
                     "ratio_vs_old": round(ours / old, 3) if old else None}
    for key in ("uncommon word", "common word"):
        word = _queries()[key]
        typing = [_median_ms(lambda p=word[:n]: history.search(p), 3) for n in range(1, len(word) + 1)]
        out[f"typing_ms_per_keystroke ({key})"] = {"word": word, "ms": typing}
    history.close()
    return out


def search_figures(sizes=SIZES) -> dict:
    with tempfile.TemporaryDirectory() as tmp:
        figures = {f"chats_{n}": _one_size(Path(tmp), n) for n in sizes}
    big = figures[f"chats_{max(sizes)}"]
    figures["search_goal"] = "<= 20 ms at 50,000 chats for every query class, never slower than the old scan"
    names = [k for k, v in big.items() if isinstance(v, dict) and "ratio_vs_old" in v]
    figures["met"] = all(big[k]["ms"] <= 20 for k in names)
    figures["index_goal"] = "index <= 1.5 x the text, backfill <= 120 s at 50,000 chats"
    figures["index_met"] = big.get("index_to_text", 99) <= 1.5 and big["backfill_s (background)"] <= 120
    figures["never_slower"] = all(big[k]["ratio_vs_old"] is None or big[k]["ratio_vs_old"] <= 1 for k in names)
    return figures


def bench_chat_search(args) -> dict:
    import os

    with tempfile.TemporaryDirectory() as home:
        os.environ["HEARTH_HOME"] = home
        return {"suite": "chat-search", **search_figures()}

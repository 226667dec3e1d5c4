import json
import os
import signal
import sqlite3
import subprocess
import sys

import pytest

from app.core.chat.history import MIGRATIONS, ChatHistory, HistoryError
from tests.conftest import ROOT
from tests.helpers import wait_until

STREAMER = """
import sys
from app.core.chat.engine import LoadOptions, SamplingParams
from app.core.chat.loading import load_chat_model
from app.core.chat.history import ChatHistory
from app.core.chat.session import run_turn
from app.core.jobs import CancelToken

engine = load_chat_model(sys.argv[1], LoadOptions(n_ctx=2048), "gemma")
history = ChatHistory()
conv = history.create("killed chat")
history.add_message(conv.id, "user", "Write a very long story about a lighthouse keeper.")
print("READY", conv.id, flush=True)
params = SamplingParams(temperature=1.0, max_tokens=1800, seed=11, repeat_penalty=1.0)
while True:  # keep streaming until killed
    run_turn(engine, history, conv.id, params, CancelToken())
"""


@pytest.mark.slow
def test_a_reply_killed_mid_stream_is_kept_and_marked_incomplete(gemma_path, hearth_home):
    proc = subprocess.Popen([sys.executable, "-c", STREAMER, str(gemma_path)], cwd=ROOT,
                            stdout=subprocess.PIPE, text=True, env=dict(os.environ))
    try:
        line = proc.stdout.readline()
        assert line.startswith("READY"), line
        conv_id = int(line.split()[1])
        history = ChatHistory()
        wait_until(lambda: any(m.role == "assistant" and m.incomplete and len(m.content) > 20
                               for m in history.messages(conv_id)),
                   timeout=60, what="a reply committed part-way while streaming")
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(10)
        history.close()
    finally:
        if proc.poll() is None:
            proc.kill()

    db = sqlite3.connect(ChatHistory().path)
    assert db.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    history = ChatHistory()
    msgs = history.messages(conv_id)
    assert msgs[0].role == "user" and "lighthouse" in msgs[0].content
    last = msgs[-1]
    assert last.role == "assistant" and last.incomplete and last.content


def test_schema_version_and_wal(hearth_home):
    h = ChatHistory()
    assert h.db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert h.db.execute("PRAGMA user_version").fetchone()[0] == len(MIGRATIONS)


def test_a_newer_database_opens_read_only_with_a_message(hearth_home):
    h = ChatHistory()
    c = h.create("precious")
    h.add_message(c.id, "user", "keep me")
    h.db.execute("PRAGMA user_version = 99")
    h.close()
    newer = ChatHistory()
    assert newer.read_only and "newer Hearth" in newer.notice
    assert newer.messages(c.id)[0].content == "keep me"
    with pytest.raises(HistoryError, match="newer Hearth"):
        newer.add_message(c.id, "user", "x")


def test_search_rename_delete(hearth_home):
    h = ChatHistory()
    a = h.create("Trip to Lisbon")
    b = h.create("Recipes")
    h.add_message(b.id, "user", "How do I make pastel de nata?")
    assert [c.id for c in h.conversations("lisbon")] == [a.id]
    assert [c.id for c in h.conversations("nata")] == [b.id]
    h.update(a.id, title="Porto")
    assert h.conversation(a.id).title == "Porto"
    h.delete(b.id)
    assert [c.id for c in h.conversations()] == [a.id]
    assert h.messages(b.id) == []


def test_export_round_trips(hearth_home):
    h = ChatHistory()
    c = h.create("Export me", system_prompt="Be kind.", params={"temperature": 0.3})
    h.add_message(c.id, "user", "Hello *there*")
    r = h.start_reply(c.id)
    h.finish_reply(r.id, "General Kenobi.\n\n```python\nprint(1)\n```", {"completion_tokens": 9})
    exported = h.export_json(c.id)
    again = h.import_json(exported)
    strip = lambda ms: [(m.role, m.content, m.incomplete, m.stats) for m in ms]  # noqa: E731
    assert strip(h.messages(again.id)) == strip(h.messages(c.id))
    assert again.system_prompt == "Be kind." and again.params == {"temperature": 0.3}
    assert json.loads(h.export_json(again.id))["messages"] == json.loads(exported)["messages"]
    md = h.export_markdown(c.id)
    assert md.startswith("# Export me") and "## You" in md and "```python" in md


OLD_SEARCH = ("SELECT id FROM conversations WHERE title LIKE ? OR id IN"
              " (SELECT conversation_id FROM messages WHERE content LIKE ?) ORDER BY updated DESC, id DESC")
TRICKY = [
    ("İstanbul KELVIN", ["İstanbul in spring", "20 \u212a is cold", "some into the night, some\ninto the day"]),
    ("Trip to Lisbon", ["Where should I eat in Lisbon?", "Try pastéis de nata at Belém."]),
    ('He said "NEAR(a b)" AND -x', ["col:value ^start * OR NOT", "it's 100% done_ok (really)"]),
    ("Ünïcödé straße", ["ÉCOLE école", "emoji 🎉 party", "tabs\tand\nnewlines"]),
    ("Recipes", ["How do I make pastel de nata?", "Lisbon-style custard"]),
    ("empty", []),
]
QUERIES = [
    "l", "li", "lis", "lisb", "lisbo", "lisbon", "LISBON", "isbo", "nata", "pastel de", "de nata?",
    '"', '"near', 'NEAR(a b)', "AND -x", "-x", "col:value", "^start", "*", "OR NOT", "it's", "100%", "%",
    "done_ok", "_", "(really)", "école", "ÉCOLE", "straße", "🎉", "🎉 p", "\t", "and\nnew", "'", "''", "a*", "xyz-none",
    "some into", "some\ninto", "into the", "some into the day", "İstanbul in", "stanbul in s", "20 k is", "20 \u212a",
    "kelvin", "in spring", "eat in lisbon", "de nata at", "nata at bel", "100% done", "a b)", "(a b", "ing",
]


def _v1_history(path):
    """A history as schema 1 wrote it: no search index."""
    from app.core.chat.history import MIGRATIONS

    conn = sqlite3.connect(path, isolation_level=None)
    MIGRATIONS[0](conn)
    conn.execute("PRAGMA user_version = 1")
    for n, (title, messages) in enumerate(TRICKY):
        cid = conn.execute("INSERT INTO conversations (title, created, updated) VALUES (?, ?, ?)",
                           (title, n, n)).lastrowid
        for i, text in enumerate(messages):
            conn.execute("INSERT INTO messages (conversation_id, role, content, created) VALUES (?,?,?,?)",
                         (cid, "user" if i % 2 == 0 else "assistant", text, n))
    conn.close()


def _old_results(h, query):
    like = f"%{query.replace('%', '').replace('_', '')}%"
    return [r[0] for r in h.db.execute(OLD_SEARCH, (like, like))]


def test_an_old_history_migrates_to_indexed_search_with_the_same_results(tmp_path, monkeypatch):
    from app.core.chat import search_index

    path = tmp_path / "chat.sqlite3"
    _v1_history(path)
    h = ChatHistory(path)
    assert h.store.version == len(MIGRATIONS) and not h.read_only
    assert h.backfill is not None and h.backfill.done.wait(60), "existing messages are indexed in the background"
    assert h.indexed_search
    plan = " ".join(r[3] for r in h.db.execute(
        "EXPLAIN QUERY PLAN SELECT rowid FROM message_search WHERE message_search MATCH 'lisbon'"))
    assert "VIRTUAL TABLE INDEX" in plan, plan  # answered by the index, not a scan
    assert search_index.plan(h.db, "Custard", 200) == "index" and search_index.plan(h.db, "li", 200) == "walk"
    assert search_index.plan(h.db, "nowhere", 200) == "index", "a word in no message"
    monkeypatch.setattr(search_index, "CANDIDATES", 1)  # every term has "many" candidates: the probe decides
    monkeypatch.setattr(search_index, "PROBE", 2)
    assert search_index.plan(h.db, "Belém", 200) == "candidates", "in none of the 2 newest chats: walk the candidates"
    assert search_index.plan(h.db, "Custard", 200) == "walk", "in 1 of the 2 newest chats: common"
    assert search_index.plan(h.db, "empty", 200) == "index", "no candidates at all"
    assert search_index.plan(h.db, "a", 200) == "walk", "a word under 3 characters that may be inside a word"
    monkeypatch.setattr(search_index, "CANDIDATES", 10**9)  # below: every query of 3+ characters uses the index
    for q in QUERIES:  # including what FTS5 query syntax would choke on, and a word being typed
        assert [c.id for c in h.conversations(q)] == _old_results(h, q), q
    assert [c.title for c in h.conversations("lisb")] == ["Recipes", "Trip to Lisbon"]
    plans = {search_index.where_clause(h.db, q.replace("%", "").replace("_", ""))[0] for q in QUERIES}
    assert plans == {search_index.SCAN_WHERE, search_index.TITLE_WHERE, search_index.NARROWED_WHERE}

    # Kept in sync: new, streamed, edited, truncated and deleted messages, renamed and deleted chats.
    c = h.create("Weekend")
    reply = h.start_reply(c.id)
    h.update_reply(reply.id, "Porto has a bridge")
    h.finish_reply(reply.id, "Porto has a famous bridge by Eiffel's studio")
    first = h.add_message(c.id, "user", "and the wine cellars?")
    lisbon = h.conversations("trip to")[0].id
    h.update(lisbon, title="Holiday")
    h.edit_message(h.messages(lisbon)[0].id, "Where should I eat in Madrid?")
    h.truncate_after(c.id, first.id, inclusive=True)
    h.delete(h.conversations("recipes")[0].id)
    for q in QUERIES + ["porto", "eiffel", "bridge by", "cellars", "madrid", "holiday", "trip", "famous"]:
        assert [x.id for x in h.conversations(q)] == _old_results(h, q), q
    assert [x.title for x in h.conversations("eiffel")] == ["Weekend"]
    assert h.conversations("cellars") == [] and h.conversations("recipes") == []
    h.close()
    again = ChatHistory(path)
    assert again.store.version == len(MIGRATIONS) and again.backfill is None and again.indexed_search


def test_writes_during_the_backfill_keep_the_index_exact(tmp_path, monkeypatch):
    """Edits to messages the backfill has not reached yet, and new ones, end up indexed as they are."""
    from app.core.chat import search_index

    path = tmp_path / "chat.sqlite3"
    _v1_history(path)
    monkeypatch.setattr(search_index.Backfill, "__init__", lambda self, p: setattr(self, "path", p))
    monkeypatch.setattr(search_index, "CANDIDATES", 10**9)
    h = ChatHistory(path)  # migrated; no backfill thread: it is stepped by hand below
    assert not h.indexed_search and search_index.backfill_pending(h.db)
    for q in QUERIES:  # meanwhile search scans
        assert [c.id for c in h.conversations(q)] == _old_results(h, q), q
    old = h.messages(h.conversations("trip to")[0].id)
    h.edit_message(old[0].id, "Where should I eat in Oslo?")  # not indexed yet: no trigger runs
    added = h.add_message(old[0].conversation_id, "user", "Bergen by train?")  # indexed by its trigger
    h.add_message(old[0].conversation_id, "user", "Hardangerfjord")  # its words reach the vocabulary at a search
    conn = sqlite3.connect(path, isolation_level=None)
    while search_index.backfill_step(conn, chunk=3):
        pass
    assert not h.indexed_search, "the vocabulary is filled next"
    while search_index.terms_step(conn, chunk=2):
        pass
    conn.close()
    assert h.indexed_search
    h.delete(h.conversations("recipes")[0].id)
    for q in QUERIES + ["oslo", "bergen", "lisbon", "train", "belém", "angerfj", "slo?", "fjord"]:
        assert [c.id for c in h.conversations(q)] == _old_results(h, q), q
    assert [c.id for c in h.conversations("bergen")] == [added.conversation_id]
    h.db.execute("INSERT INTO message_search(message_search) VALUES ('integrity-check')")


def test_a_history_that_cannot_be_migrated_keeps_the_old_search(tmp_path):
    path = tmp_path / "chat.sqlite3"
    _v1_history(path)
    conn = sqlite3.connect(path)
    conn.execute("PRAGMA user_version = 9")  # a newer Hearth's history: opened read-only
    conn.commit()
    conn.close()
    h = ChatHistory(path)
    assert h.read_only and not h.indexed_search
    for q in QUERIES:
        assert [c.id for c in h.conversations(q)] == _old_results(h, q), q
        found = h.search(q, limit=1)  # the scan stops at the newest match, as the walk does
        assert [c.id for c in found.conversations] == _old_results(h, q)[:1], q
        assert found.more == (len(_old_results(h, q)) > 1), q
    assert [c.title for c in h.conversations("NEAR(a b)")] == ['He said "NEAR(a b)" AND -x']


@pytest.mark.parametrize(("candidates", "probe", "budget"), [
    (0, 64, 3000),  # every query of 3+ characters probes, and the probe looks at every chat
    (0, 4, 3000),  # every query probes the 4 newest chats, then walks on or walks the index's candidates
    (0, 4, 5),  # the candidate walk reads the 5 newest chats, then the index answers where they held too few
    (0, 4, 1),
    (3000, 64, 3000),  # the shipped choice
    (10**9, 64, 3000),  # every query of 3+ characters is answered by the index
])
def test_search_gives_the_newest_matches_first_and_counts_the_rest(tmp_path, monkeypatch, candidates, probe, budget):
    from app.core.chat import search_index

    path = tmp_path / "chat.sqlite3"
    _v1_history(path)
    h = ChatHistory(path)
    assert h.backfill.done.wait(60) and h.indexed_search
    for n in range(12):  # more chats than the limit for many queries; one older chat made newest by a new message
        c = h.create(f"Lisbon notes {n}" if n % 3 == 0 else f"Day {n}")
        h.add_message(c.id, "user", "pastel de nata" if n % 2 else "it's 100% done_ok")
    h.add_message(h.conversations("trip to")[0].id, "user", "back again")
    monkeypatch.setattr(search_index, "CANDIDATES", candidates)
    monkeypatch.setattr(search_index, "PROBE", probe)
    monkeypatch.setattr(search_index, "CANDIDATE_BUDGET", budget)
    for q in QUERIES + ["notes", "day", "again", "lisbon notes 1", "pastel", "it's 1"]:
        old = _old_results(h, q)
        assert [c.id for c in h.conversations(q)] == old, q
        for limit in (1, 3, 100):
            found = h.search(q, limit=limit)
            assert [c.id for c in found.conversations] == old[:limit], (q, limit)
            assert found.more == (len(old) > limit), (q, limit)
            assert found.total in (None, len(old)) and (found.total is not None or found.more), (q, limit)
            if not found.more:
                assert found.total == len(old), (q, limit)
    if probe == 4:  # "pastel": in 2 of the 4 newest chats, walked on, uncounted; "it's 1": in 1, candidates walked
        assert h.search("pastel", limit=3).total is None and h.search("pastel", limit=100).total == 7
        assert search_index.plan(h.db, "it's 1", 1) == "candidates"
        # Found within the budget: uncounted; beyond it, the index answers and counts.
        assert len(_old_results(h, "it's 1")) == 7
        assert h.search("it's 1", limit=1).total == (None if budget >= 5 else 7)
    h.close()


def _schema3_history(path, monkeypatch):
    """A history as schema 3 left it: messages indexed without positions (detail=none), backfill done."""
    from app.core.chat import history

    _v1_history(path)
    every = history.MIGRATIONS
    monkeypatch.setattr(history, "MIGRATIONS", every[:3])
    h = ChatHistory(path)
    from app.core.chat import search_index

    assert h.backfill.done.wait(60) and not search_index.backfill_pending(h.db) and h.store.version == 3
    assert "detail=none" in h.db.execute("SELECT sql FROM sqlite_master WHERE name = 'message_search'").fetchone()[0]
    h.close()
    monkeypatch.setattr(history, "MIGRATIONS", every)


def test_schema_3_moves_to_an_index_with_positions_rebuilt_in_the_background(tmp_path, monkeypatch):
    from app.core.chat import search_index
    from app.core.chat.history import WORD_INDEX_VERSION

    path = tmp_path / "chat.sqlite3"
    _schema3_history(path, monkeypatch)
    monkeypatch.setattr(search_index.Backfill, "__init__", lambda self, p: setattr(self, "path", p))
    h = ChatHistory(path)  # migrated; the rebuild is stepped by hand below
    assert h.store.version == len(MIGRATIONS) == WORD_INDEX_VERSION + 1  # 7: steps (#26)
    sql = h.db.execute("SELECT sql FROM sqlite_master WHERE name = 'message_search'").fetchone()[0]
    assert "detail=full" in sql and "unicode61" in sql
    assert not h.indexed_search and search_index.backfill_pending(h.db), "every message is indexed again"
    for q in QUERIES:  # meanwhile search scans
        assert [c.id for c in h.conversations(q)] == _old_results(h, q), q
    added = h.add_message(h.conversations("kelvin")[0].id, "user", "some into it")  # indexed by its trigger
    apart = h.add_message(added.conversation_id, "user", "some words, then into")
    tables = "SELECT name FROM sqlite_master WHERE name LIKE 'message_search%' AND type = 'table'"
    old = {"message_search", "message_search_v2", "message_search_v4"}
    assert {r[0] for r in h.db.execute(tables)} > old, "the old ones are set aside"
    conn = sqlite3.connect(path, isolation_level=None)
    steps = 0
    while search_index.retire_step(conn, chunk=1):  # a row of its pages at a time, then dropped
        steps += 1
    assert steps >= 2 and not search_index.retire_pending(conn)
    assert not any(r[0].startswith(("message_search_v2", "message_search_v4")) for r in conn.execute(tables))
    while search_index.backfill_step(conn, chunk=2):
        pass
    while search_index.terms_step(conn, chunk=5):
        pass
    conn.close()
    assert h.indexed_search
    h.db.execute("INSERT INTO message_search(message_search) VALUES ('integrity-check')")
    near = "SELECT rowid FROM message_search WHERE message_search MATCH ?"
    indexed = {r[0] for r in h.db.execute(near, (search_index.search_terms.match_query(h.db, "some into"),))}
    assert added.id in indexed and apart.id not in indexed and len(indexed) == 2, "the phrase's, by positions"
    monkeypatch.setattr(search_index, "CANDIDATES", 10**9)  # every query of 3+ characters asks the index
    for q in QUERIES:
        assert [c.id for c in h.conversations(q)] == _old_results(h, q), q
        found = h.search(q, limit=1)
        assert [c.id for c in found.conversations] == _old_results(h, q)[:1], q
    h.backfill = None  # stepped by hand: no thread to stop
    h.close()


@pytest.mark.parametrize("text", ["some into", "some\ninto", "stanbul in s", "20 \u212a is", "İstanbul", "de nata at",
                                  "ok (really", "it's 1", "the night, some", "into the day", "ome int", "sbo",
                                  "ight, some\ninto the da", "tyle cust", "ÉCOLE éc", "ld I eat in Lis", "\u212a is",
                                  "cole"])
def test_the_index_query_matches_every_message_the_scan_finds(tmp_path, text):
    """match_query narrows by the words of text, its edges looked up in the vocabulary: a superset of
    LIKE's matches (LIKE checks)."""
    from app.core.chat import search_terms

    path = tmp_path / "chat.sqlite3"
    _v1_history(path)
    h = ChatHistory(path)
    assert h.backfill.done.wait(60) and h.indexed_search
    query = search_terms.match_query(h.db, text)
    like = {r[0] for r in h.db.execute("SELECT id FROM messages WHERE content LIKE ?", (f"%{text}%",))}
    assert like, "each text is in some message"
    assert query != "", "the index says no message holds it"
    if query is not None:
        near = {r[0] for r in h.db.execute("SELECT rowid FROM message_search WHERE message_search MATCH ?", (query,))}
        assert like <= near, query
    h.close()


def _index_to_text(db) -> float:
    """The search tables' pages over the messages' text bytes."""
    text = db.execute("SELECT SUM(LENGTH(CAST(content AS BLOB))) FROM messages").fetchone()[0]
    try:
        index = db.execute("SELECT SUM(pgsize) FROM dbstat WHERE name LIKE 'message_search%'"
                           " OR name LIKE 'search_terms%' OR name LIKE 'term_search%'").fetchone()[0]
    except sqlite3.OperationalError:
        pytest.skip("this SQLite has no dbstat")
    return index / text


def test_a_schema_4_history_moves_to_a_word_index_under_one_and_a_half_times_its_text(tmp_path, monkeypatch):
    """Schema 4's trigram index with positions is about four times the text; the word index that replaces it
    (built in the background, the old one freed) is under 1.5 times, and finds the same chats."""
    import random

    from app.core.chat import history, search_index

    path = tmp_path / "chat.sqlite3"
    _v1_history(path)
    rng = random.Random(5)
    words = ["".join(rng.choice("abcdefghijklmnopqrstuvwxyz") for _ in range(rng.randint(2, 9))) for _ in range(3000)]
    conn = sqlite3.connect(path, isolation_level=None)
    conn.execute("BEGIN")
    for n in range(300):
        cid = conn.execute("INSERT INTO conversations (title, created, updated) VALUES (?, ?, ?)",
                           (" ".join(rng.choices(words, k=4)), 10 + n, 10 + n)).lastrowid
        conn.executemany("INSERT INTO messages (conversation_id, role, content, created) VALUES (?,?,?,?)",
                         [(cid, "user", " ".join(rng.choices(words, k=120)), 10 + n) for _ in range(10)])
    conn.execute("COMMIT")
    conn.close()
    every = history.MIGRATIONS
    monkeypatch.setattr(history, "MIGRATIONS", every[:4])
    h = ChatHistory(path)
    assert h.backfill.done.wait(120) and h.store.version == 4
    assert _index_to_text(h.db) > 2, "the trigram index with positions"
    h.close()
    monkeypatch.setattr(history, "MIGRATIONS", every)
    h = ChatHistory(path)
    assert h.backfill is not None and h.backfill.done.wait(120) and h.indexed_search
    assert not search_index.retire_pending(h.db), "the trigram index is freed"
    assert _index_to_text(h.db) <= 1.5
    samples = [words[0], words[1][1:], f"{words[2]} {words[3][:2]}", words[4][1:-1], "zzqq"]
    for q in QUERIES + samples:
        old = _old_results(h, q)
        assert [c.id for c in h.conversations(q)] == old, q
        assert [c.id for c in h.search(q, limit=5).conversations] == old[:5], q
    h.close()


def test_a_read_only_schema_3_history_scans_as_before(tmp_path, monkeypatch):
    """A file that cannot be written stays at schema 3: its index has no positions, so search scans."""
    from app.core import db
    from app.core.chat import history

    path = tmp_path / "chat.sqlite3"
    _schema3_history(path, monkeypatch)
    # Root may write any file here, so the read-only open (what open_db does for such a file) is made directly.
    monkeypatch.setattr(history, "open_db", lambda p, migrations, what, newer: db.Database(
        db._open_read_only(p), p, 3, read_only=True, notice="cannot be written"))
    h = ChatHistory(path)
    assert h.read_only and h.store.version == 3 and h.backfill is None and not h.indexed_search
    for q in QUERIES:
        assert [c.id for c in h.conversations(q)] == _old_results(h, q), q
        assert [c.id for c in h.search(q, limit=2).conversations] == _old_results(h, q)[:2], q
    h.close()


def test_a_chat_deleted_while_the_search_backfill_drops_the_old_index_is_deleted(tmp_path):
    """The backfill thread drops the retired FTS5 tables; a statement prepared meanwhile on the history's
    connection failed with SQLITE_SCHEMA, worded "no such table: conversations" (about 1 open in 3)."""
    for n in range(20):
        path = tmp_path / f"chat{n}.sqlite3"
        h = ChatHistory(path)
        c = h.create("x")
        h.add_message(c.id, "user", "hello there")
        h.close()
        h = ChatHistory(path)  # its backfill retires the old indexes the migrations set aside
        try:
            h.delete(c.id)
            assert h.conversations() == []
        finally:
            h.close()

"""The word index's query: every message that contains a text, found through whole words.

Schema 6 indexes messages by word (FTS5 unicode61 tokens, with positions), about a tenth of the
trigram index it replaced. Search still means "contains the text anywhere" (SQL LIKE checks every
candidate), so the FTS5 query must match a superset of those messages. Tokenizing is local (a
character is a separator or not on its own, and folding is per character), so a text that contains
separators pins down its words: each word between two separators is a whole word of the message, the
first may end a longer word and the last may begin one. Those edges are looked up in the vocabulary
(``search_terms``: every word the index holds, with a trigram index of its own) and become a few
exact words each; a phrase of them, word after word, is the query.
"""

from __future__ import annotations

import sqlite3

TOKENIZER = "unicode61"
EXPAND_MAX = 32  # words one open word may stand for: more, and the index cannot narrow it (the walk answers)
PHRASES_MAX = 16  # phrases a query of several words may hold: a wider edge is left out (LIKE still checks)
SHORT = 3  # an edge this short that may end a word is left out: the vocabulary's trigrams cannot find it
_TOP = "\U0010ffff"  # above every character: "word" <= term < "word" + _TOP is every term starting "word"


def create_vocabulary(db: sqlite3.Connection) -> None:
    """search_terms (every word of message_search, filled by the backfill and then by sync_terms) and
    search_terms_pending (the messages written since, whose words sync_terms adds before a search)."""
    for sql in (
        "CREATE TABLE search_terms (id INTEGER PRIMARY KEY, term TEXT NOT NULL UNIQUE)",
        "CREATE VIRTUAL TABLE term_search USING fts5(term, content='search_terms', content_rowid='id',"
        " tokenize='trigram case_sensitive 1', detail=none)",
        "CREATE TRIGGER term_search_insert AFTER INSERT ON search_terms BEGIN"
        " INSERT INTO term_search(rowid, term) VALUES (new.id, new.term); END",
        "CREATE TABLE search_terms_pending (message_id INTEGER PRIMARY KEY)",
        "CREATE TRIGGER search_terms_insert AFTER INSERT ON messages BEGIN"
        " INSERT OR IGNORE INTO search_terms_pending VALUES (new.id); END",
        "CREATE TRIGGER search_terms_update AFTER UPDATE OF content ON messages BEGIN"
        " INSERT OR IGNORE INTO search_terms_pending VALUES (new.id); END",
    ):
        db.execute(sql)


def _scratch(db: sqlite3.Connection) -> None:
    """A temporary FTS5 table with the index's tokenizer: SQLite tokenizes, so words are exactly the index's."""
    db.execute(f"CREATE VIRTUAL TABLE IF NOT EXISTS temp.search_scratch USING fts5(x, tokenize='{TOKENIZER}')")
    db.execute("CREATE VIRTUAL TABLE IF NOT EXISTS temp.search_scratch_words"
               " USING fts5vocab(temp, search_scratch, instance)")


def sync_terms(db: sqlite3.Connection) -> None:
    """Adds the words of messages written since the vocabulary was filled (a few: the ones typed since)."""
    if db.execute("SELECT 1 FROM search_terms_pending LIMIT 1").fetchone() is None:
        return
    _scratch(db)
    db.execute("BEGIN IMMEDIATE")
    try:
        db.execute("DELETE FROM temp.search_scratch")
        db.execute("INSERT INTO temp.search_scratch(x) SELECT content FROM messages"
                   " WHERE id IN (SELECT message_id FROM search_terms_pending)")
        db.execute("INSERT OR IGNORE INTO search_terms(term) SELECT DISTINCT term FROM temp.search_scratch_words")
        db.execute("DELETE FROM search_terms_pending")
        db.execute("COMMIT")
    except BaseException:
        db.execute("ROLLBACK")
        raise


def _tokens(db: sqlite3.Connection, *texts: str) -> list[list[str]]:
    _scratch(db)
    db.execute("DELETE FROM temp.search_scratch")
    db.executemany("INSERT INTO temp.search_scratch(rowid, x) VALUES (?, ?)", enumerate(texts, 1))
    words: list[list[str]] = [[] for _ in texts]
    for doc, term in db.execute("SELECT doc, term FROM temp.search_scratch_words ORDER BY doc, offset"):
        words[doc - 1].append(term)
    return words


def words(db: sqlite3.Connection, text: str) -> tuple[list[str], bool, bool]:
    """text's words as the index folds them, and whether its first and last word are open (a letter at
    that end of text, so the message's word may go on past it)."""
    plain, before, after = _tokens(db, text, "q" + text, text + "q")
    if not plain:
        return [], False, False
    return plain, before[0] != "q", after[-1] != "q"


def _expand(db: sqlite3.Connection, word: str, open_start: bool, open_end: bool) -> list[str]:
    """The vocabulary's words that may stand where word stands (at most EXPAND_MAX + 1 of them)."""
    if not open_start and not open_end:
        return [word]
    args: tuple[str, ...]
    if not open_start:  # a word that starts with it: a range of the vocabulary's own index
        sql, args = "SELECT term FROM search_terms WHERE term >= ? AND term < ?", (word, word + _TOP)
    else:  # ends with it, or holds it: the vocabulary's trigrams (GLOB is exact; tokens hold no * ? [)
        pattern = "*" + word + ("*" if open_end else "")
        sql, args = "SELECT term FROM term_search WHERE term GLOB ?", (pattern,)
    return [r[0] for r in db.execute(sql + " LIMIT ?", (*args, EXPAND_MAX + 1))]


def _quote(term: str) -> str:
    return '"' + term.replace('"', '""') + '"'


def match_query(db: sqlite3.Connection, text: str) -> str | None:
    """An FTS5 query that every message containing text matches; "" when no message can (an edge word
    that is in no message), None when the words cannot narrow it (no word, or one short open word)."""
    found, open_start, open_end = words(db, text)
    if not found:
        return None
    if len(found) == 1:
        if open_start and len(found[0]) < SHORT:
            return None
        only = _expand(db, found[0], open_start, open_end)
        return None if len(only) > EXPAND_MAX else " OR ".join(map(_quote, only))
    short = open_start and len(found[0]) < SHORT
    first = [] if short else _expand(db, found[0], open_start, False)
    last = _expand(db, found[-1], False, open_end)
    if (not first and not short) or not last:
        return ""
    middle = found[1:-1]
    if len(first) * len(last) > PHRASES_MAX:  # the wider edge is left out: the rest still narrows
        if len(first) >= len(last):
            first = []
        else:
            last = []
        if len(first) > PHRASES_MAX or len(last) > PHRASES_MAX:
            first = last = []
    if not (first or middle or last):
        return None
    phrases = [[*a, *middle, *b] for a in [[w] for w in first] or [[]] for b in [[w] for w in last] or [[]]]
    return " OR ".join(" + ".join(map(_quote, p)) for p in phrases)

"""The document index with the starter all-MiniLM-L6-v2 and real files: questions in other words,
keyword-only queries through FTS5, edits/renames/deletions, a SIGKILL mid-run, a model change,
skipped files with their reasons, damage, and the `docs` CLI contracts."""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import ROOT, run_app
from tests.core.docs_files import docx, pdf_bytes
from tests.helpers import wait_until

MINILM = "all-minilm-l6-v2"

TOPICS = {
    "cats.txt": "Adult cats should be fed twice a day, once in the morning and once in the evening. "
                "Young kittens need three or four small meals spread through the day.",
    "bikes.md": "# Bicycle care\n\nOil the chain every month and check the tyre pressure before each ride. "
                "Replace worn brake pads early.",
    "taxes.txt": "Submit the annual income tax return before the end of April. Keep receipts for deductions "
                 "for at least six years.",
    "bread.html": "<html><body><h1>Sourdough</h1><p>Mix flour, water and starter, let the dough rise overnight, "
                  "then bake it in a hot oven for forty minutes.</p></body></html>",
    "garden.txt": "Tomato plants want full sun and deep watering twice a week; tie them to stakes as they grow.",
}
QUESTIONS = {
    "how often should I give my kitten food": "cats.txt",
    "maintaining my bike so it rides well": "bikes.md",
    "when is the deadline for paying what I owe the government": "taxes.txt",
    "how do I make a loaf at home": "bread.html",
}


@pytest.fixture(scope="module")
def embedder(starter_home):
    from app.core.embeddings.engine import Embedder
    from app.core.models.store import ModelStore
    from app.core.settings import Settings

    store = ModelStore(starter_home / "data" / "models", Settings())
    path = store.path_of(store.get(MINILM))
    engine = Embedder(path if path.is_file() else next(path.glob("*.gguf")), MINILM, device="cpu")
    yield engine
    engine.close()


def _write(folder: Path, files: dict[str, str]) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    for name, text in files.items():
        (folder / name).write_text(text, encoding="utf-8")


def _run(index, embedder):
    from app.core.docs.index import DocSummary

    return [x for x in index.index(embedder) if isinstance(x, DocSummary)][0]


@pytest.fixture
def index(tmp_path):
    from app.core.docs.index import DocsIndex

    ix = DocsIndex(tmp_path / "docs.sqlite3")
    yield ix
    ix.close()


def test_a_question_in_other_words_finds_its_document_first(index, embedder, tmp_path):
    _write(tmp_path / "d", TOPICS)
    index.add_folder(tmp_path / "d")
    summary = _run(index, embedder)
    assert summary.indexed == len(TOPICS) and summary.chunks >= len(TOPICS)
    for question, want in QUESTIONS.items():
        assert index.keyword_ids(question) == []  # no word in common: the vectors alone answer
        hits = index.search(question, embedder, 3)
        assert Path(hits[0].path).name == want, (question, [h.path for h in hits])
    heading = index.search("sourdough starter overnight", embedder, 1)[0]
    assert heading.heading == "Sourdough" and "dough rise" in heading.text


def test_a_keyword_only_query_is_found_through_fts5(index, embedder, tmp_path):
    filler = {f"note{i}.txt": f"Meeting note {i}: the valve order for the supplier was discussed, part numbers "
                              f"to follow in the catalogue." for i in range(60)}
    filler["note33.txt"] = "Meeting note 33: the valve order for the supplier is part XK-4471, see the catalogue."
    filler["people.txt"] = "The caretaker, Quentin Zabriskie, keeps the keys to the boiler room."
    _write(tmp_path / "d", filler)
    index.add_folder(tmp_path / "d")
    _run(index, embedder)
    for query, want in (("XK-4471", "note33.txt"), ("zabriskie", "people.txt")):
        ids = index.keyword_ids(query)
        assert len(ids) == 1
        hits = index.search(query, embedder, 5)
        assert Path(hits[0].path).name == want, (query, [h.path for h in hits])
    # FTS5's own syntax in a query is only text, never an error
    assert index.search('"XK" OR NEAR( -4471 *', embedder, 3)[0].path.endswith("note33.txt")


def test_a_word_in_most_chunks_is_left_out_of_the_keyword_query(index, embedder, tmp_path, monkeypatch):
    """At 100,000 chunks FTS5 took 100-250 ms to score every chunk holding "the"; such a word ranks nothing."""
    from app.core.docs import index as docs_index

    notes = {f"note{i}.txt": f"The note {i} of the day: the valve order for the supplier." for i in range(12)}
    notes["note7.txt"] = "The note 7 of the day: the supplier ships part XK-4471."
    _write(tmp_path / "d", notes)
    index.add_folder(tmp_path / "d")
    _run(index, embedder)
    assert len(index.keyword_ids("the")) == 12  # a small index keeps every word: scoring them all is cheap
    # as if this were a large index: "the" is in 12 of 12 chunks
    monkeypatch.setattr(docs_index, "COMMON_FLOOR", 4, raising=False)
    assert index.keyword_ids("the") == []
    assert len(index.keyword_ids("the supplier ships")) == 1  # "ships" is rare: it still narrows
    hits = index.search("the part XK-4471", embedder, 3)
    assert Path(hits[0].path).name == "note7.txt"


def test_a_search_sees_what_another_connection_indexed(index, embedder, tmp_path):
    """The vectors search keeps in memory are read again once another connection (a watcher, the CLI) changed
    the index; before, a second DocsIndex's new chunks stayed out of the vector ranking."""
    from app.core.docs.index import DocsIndex

    folder = tmp_path / "d"
    _write(folder, {k: TOPICS[k] for k in ("cats.txt", "taxes.txt")})
    index.add_folder(folder)
    _run(index, embedder)
    question = "how do I make a loaf at home"
    assert Path(index.search(question, embedder, 1)[0].path).name != "bread.html"  # loads the vectors
    _write(folder, {"bread.html": TOPICS["bread.html"]})
    other = DocsIndex(index.path)
    try:
        assert _run(other, embedder).indexed == 1
    finally:
        other.close()
    assert index.keyword_ids(question) == []  # found by meaning alone
    assert Path(index.search(question, embedder, 1)[0].path).name == "bread.html"


def test_vectors_are_stored_as_float16_and_older_float32_ones_still_search(index, embedder, tmp_path):
    import numpy as np

    _write(tmp_path / "d", TOPICS)
    index.add_folder(tmp_path / "d")
    _run(index, embedder)
    widths = {n for (n,) in index.db.execute("SELECT DISTINCT length(vec) FROM chunks")}
    assert widths == {embedder.dimensions * 2}  # half of float32's bytes
    for question, want in QUESTIONS.items():  # float16 keeps each question's top hit
        assert Path(index.search(question, embedder, 1)[0].path).name == want
    # an index written before float16: some chunks' vectors still float32, read alongside the new ones
    rows = index.db.execute("SELECT c.id, c.vec FROM chunks c JOIN files f ON f.id = c.file_id"
                            " WHERE f.path LIKE '%cats.txt' OR f.path LIKE '%bread.html'").fetchall()
    with index.store.transaction():
        for i, vec in rows:
            index.db.execute("UPDATE chunks SET vec = ? WHERE id = ?",
                             (np.frombuffer(vec, np.float16).astype(np.float32).tobytes(), i))
    assert {n for (n,) in index.db.execute("SELECT DISTINCT length(vec) FROM chunks")} == {
        embedder.dimensions * 2, embedder.dimensions * 4}
    for question, want in QUESTIONS.items():
        assert Path(index.search(question, embedder, 1)[0].path).name == want


def _rows(index, name: str) -> tuple:
    """A file's row id, its chunk ids and its vector bytes: what embedding it again would change."""
    file_id = index.db.execute("SELECT id FROM files WHERE path LIKE ?", (f"%/{name}",)).fetchone()[0]
    rows = index.db.execute("SELECT id, vec FROM chunks WHERE file_id = ? ORDER BY id", (file_id,)).fetchall()
    return file_id, [r[0] for r in rows], b"".join(r[1] for r in rows)


def test_edits_renames_and_deletions_update_the_index(index, embedder, tmp_path):
    folder, other = tmp_path / "d", tmp_path / "e"
    _write(folder, TOPICS)
    other.mkdir()
    index.add_folder(folder)
    index.add_folder(other)
    _run(index, embedder)
    again = _run(index, embedder)
    assert (again.indexed, again.unchanged, again.removed) == (0, len(TOPICS), 0)
    taxes, bread, cats = _rows(index, "taxes.txt"), _rows(index, "bread.html"), _rows(index, "cats.txt")

    (folder / "garden.txt").write_text("Prune the apple trees in late winter, before the buds open.")
    os.utime(folder / "garden.txt", (1, 1))  # a new mtime even on a coarse clock
    (folder / "taxes.txt").rename(folder / "tax-return.txt")  # renamed: the same content
    (folder / "bread.html").rename(other / "sourdough.html")  # moved to another folder
    os.utime(folder / "cats.txt", (2, 2))  # touched, not changed
    (folder / "bikes.md").unlink()
    summary = _run(index, embedder)
    assert (summary.indexed, summary.removed, summary.moved, summary.unchanged) == (1, 1, 2, 3)
    assert _rows(index, "tax-return.txt") == taxes and _rows(index, "sourdough.html") == bread
    assert _rows(index, "cats.txt") == cats
    paths = {Path(h.path).name for h in index.search("bicycle chain tyre", embedder, 10)}
    assert paths.isdisjoint({"bikes.md", "taxes.txt", "bread.html"})
    assert Path(index.search("pruning fruit trees", embedder, 1)[0].path).name == "garden.txt"
    assert Path(index.search("income tax return", embedder, 1)[0].path).name == "tax-return.txt"
    assert index.search("sourdough starter overnight", embedder, 1)[0].path == str(other / "sourdough.html")
    assert index.keyword_ids("tomato") == []  # the old text left the keyword index too
    assert [f["files"] for f in index.folders()] == [3, 1]
    assert _run(index, embedder).unchanged == 4  # and the next run has nothing to do

    # renamed and changed: read again
    (folder / "tax-return.txt").write_text("Submit the annual income tax return before the end of May.")
    (folder / "tax-return.txt").rename(folder / "taxes-2.txt")
    summary = _run(index, embedder)
    assert (summary.indexed, summary.moved, summary.removed) == (1, 0, 1)
    assert "May" in index.search("income tax return", embedder, 1)[0].text


def _other_model(src: Path, out: Path) -> Path:
    """Another model in a file of the same name: src with its last layer's FFN output negated."""
    import gguf
    import numpy as np

    out.parent.mkdir(parents=True, exist_ok=True)
    data = bytearray(src.read_bytes())
    tensor = next(t for t in gguf.GGUFReader(src).tensors if t.name == "blk.5.ffn_down.weight")
    at = int(tensor.data_offset)
    weights = np.frombuffer(bytes(data[at : at + int(tensor.n_bytes)]), np.float16)
    data[at : at + int(tensor.n_bytes)] = (-weights).tobytes()
    out.write_bytes(bytes(data))
    return out


def test_a_model_change_re_embeds_everything(index, embedder, tmp_path):
    """Another model, even in a file of the same name: every vector is redone with it, and search reads
    only its vectors, never the old model's."""
    import numpy as np

    from app.core.docs.index import model_key
    from app.core.embeddings.engine import Embedder

    _write(tmp_path / "d", TOPICS)
    index.add_folder(tmp_path / "d")
    first_path = tmp_path / "a" / "model.gguf"
    first_path.parent.mkdir()
    first_path.symlink_to(embedder.path)
    second_path = _other_model(embedder.path, tmp_path / "b" / "model.gguf")
    first = Embedder(first_path, device="cpu")
    second = Embedder(second_path, device="cpu")
    try:
        assert first.model_id == second.model_id == "model"  # the same name: only the file differs
        _run(index, first)
        summary = _run(index, second)
        assert summary.indexed == len(TOPICS) and summary.unchanged == 0
        rows = index.db.execute("SELECT text, model, vec FROM chunks ORDER BY id").fetchall()
        assert {r[1] for r in rows} == {model_key(second)} != {model_key(first)}
        stored = np.stack([np.frombuffer(r[2], np.float16).astype(np.float32) for r in rows])
        texts = [r[0] for r in rows]
        fresh, stale = second.embed_documents(texts), first.embed_documents(texts)
        assert np.sum(stored * fresh, axis=1).min() > 0.999  # each vector is the new model's
        assert np.sum(stored * stale, axis=1).min() < 0.99  # and the models really differ
        assert Path(index.search("how often should I give my kitten food", second, 1)[0].path).name == "cats.txt"
        assert index.vector_ids("kitten food", first) == []  # no vectors of the old model are left to mix in
        assert _run(index, second).unchanged == len(TOPICS)
    finally:
        first.close()
        second.close()


def test_skipped_files_are_kept_with_their_reasons_while_the_rest_index(index, embedder, tmp_path):
    folder = tmp_path / "d"
    _write(folder, {"cats.txt": TOPICS["cats.txt"], "empty.txt": ""})
    (folder / "locked.pdf").write_bytes(pdf_bytes([["secret plans"]], encrypt="pw"))
    (folder / "manual.pdf").write_bytes(pdf_bytes([["Introduction"], ["The pump primes in ninety seconds."]]))
    docx(folder / "report.docx")
    index.add_folder(folder)
    summary = _run(index, embedder)
    assert summary.indexed == 3 and len(summary.skipped) == 2
    reasons = dict((Path(p).name, r) for p, r in index.skipped())
    assert set(reasons) == {"empty.txt", "locked.pdf"}
    assert "encrypted" in reasons["locked.pdf"] and reasons["empty.txt"]
    page = index.search("pump priming time", embedder, 1)[0]
    assert Path(page.path).name == "manual.pdf" and page.page == 2
    assert _run(index, embedder).unchanged == 5  # a skipped file is not read again until it changes


def test_a_damaged_index_is_set_aside_and_rebuilt_with_its_folders(tmp_path):
    from app.core.docs.index import DocsIndex, DocsIndexDamagedError

    ix = DocsIndex(tmp_path / "docs.sqlite3")
    ix.add_folder(tmp_path)
    ix.close()
    with open(tmp_path / "docs.sqlite3", "r+b") as f:
        f.seek(100)
        f.write(b"\xff" * 4000)
    with pytest.raises(DocsIndexDamagedError):
        DocsIndex(tmp_path / "docs.sqlite3").folders()
    rebuilt = DocsIndex.open_or_rebuild(tmp_path / "docs.sqlite3")
    try:
        assert rebuilt.folders() == [] or rebuilt.folders()[0]["path"] == str(tmp_path.resolve())
    finally:
        rebuilt.close()
    assert list(tmp_path.glob("docs.sqlite3.damaged-*"))


def test_an_index_of_the_first_schema_is_brought_up_to_date(tmp_path):
    from app.core.docs.index import MIGRATIONS, DocsIndex

    db = sqlite3.connect(tmp_path / "docs.sqlite3")
    MIGRATIONS[0](db)
    db.execute("INSERT INTO folders (path) VALUES ('/somewhere')")
    db.execute("PRAGMA user_version = 1")
    db.commit()
    db.close()
    ix = DocsIndex(tmp_path / "docs.sqlite3")
    try:
        assert [f["path"] for f in ix.folders()] == ["/somewhere"]
        assert "hash" in [r[1] for r in ix.db.execute("PRAGMA table_info(files)")]
    finally:
        ix.close()


@pytest.mark.slow
def test_the_cli_sets_a_damaged_index_aside_and_builds_it_again(starter_store, tmp_path):
    from app.core import paths

    folder = tmp_path / "d"
    _write(folder, TOPICS)
    assert _docs("add", str(folder)).returncode == 0
    assert _docs("index").returncode == 0
    db = paths.db_dir() / "docs.sqlite3"
    with open(db, "r+b") as f:  # the folders' page survives; the files' and chunks' do not
        f.seek(4096 * 2)
        f.write(b"\xff" * 4096 * 6)
    out = _docs("index")
    assert out.returncode == 0, out.stderr
    assert "damaged" in out.stderr and "set aside" in out.stderr and "Traceback" not in out.stderr
    assert list(db.parent.glob("docs.sqlite3.damaged-*"))  # kept, never deleted
    assert f"indexed {len(TOPICS)} (" in out.stdout, out.stdout
    hits = json.loads(_docs("search", "how often should I give my kitten food", "--json").stdout)
    assert Path(hits[0]["path"]).name == "cats.txt"


def _docs(*args: str):
    return run_app("docs", *args, timeout=300)


def test_the_cli_contracts(starter_store, tmp_path):
    folder = tmp_path / "d"
    _write(folder, {**TOPICS, "empty.txt": ""})
    (folder / "manual.pdf").write_bytes(pdf_bytes([["Contents"], ["The pump primes in ninety seconds."]]))
    assert _docs("add", str(folder)).returncode == 0
    done = _docs("index")
    assert done.returncode == 0, done.stderr
    listed = json.loads(_docs("list", "--json").stdout)
    assert listed["folders"] == [{"path": str(folder.resolve()), "files": 6, "chunks": listed["folders"][0]["chunks"],
                                  "skipped": 1}]
    assert [(Path(s["path"]).name, bool(s["reason"])) for s in listed["skipped"]] == [("empty.txt", True)]

    out = _docs("search", "how often should I give my kitten food", "--limit", "2", "--json")
    hits = json.loads(out.stdout)
    assert len(hits) == 2 and Path(hits[0]["path"]).name == "cats.txt"
    assert all({"path", "score", "text"} <= set(h) for h in hits) and hits[0]["score"] >= hits[1]["score"]
    page = json.loads(_docs("search", "ninety seconds pump", "--limit", "1", "--json").stdout)[0]
    assert page["page"] == 2 and "ninety" in page["text"]
    heading = json.loads(_docs("search", "sourdough oven", "--limit", "1", "--json").stdout)[0]
    assert heading["heading"] == "Sourdough"
    plain = _docs("search", "sourdough oven")
    assert plain.returncode == 0 and "bread.html" in plain.stdout

    bad = _docs("add", str(tmp_path / "nowhere"))
    assert bad.returncode == 1 and "not a folder" in bad.stderr and "Traceback" not in bad.stderr
    assert _docs("remove", str(folder)).returncode == 0
    assert json.loads(_docs("list", "--json").stdout) == {"folders": [], "skipped": []}
    assert json.loads(_docs("search", "kitten", "--json").stdout) == []
    gone = _docs("remove", str(folder))
    assert gone.returncode == 1 and "not one of the document folders" in gone.stderr


def _committed(db: Path) -> int:
    if not db.exists():
        return 0
    try:
        conn = sqlite3.connect(f"{db.as_uri()}?mode=ro", uri=True, timeout=5)
        try:
            return conn.execute("SELECT COUNT(*) FROM files WHERE status = 'ok'").fetchone()[0]
        finally:
            conn.close()
    except sqlite3.Error:
        return 0


def _children(pid: int) -> list[int]:
    """The processes whose parent is pid (its embedding model's, here)."""
    found = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[1]) == pid:
            found.append(int(stat.parent.name))
    return found


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


def _snapshot(db: Path) -> dict[str, tuple]:
    """path -> (file id, mtime, its chunk ids, its vectors): what a re-embedding would change."""
    conn = sqlite3.connect(f"{db.as_uri()}?mode=ro", uri=True, timeout=5)
    try:
        out = {}
        for file_id, path, mtime in conn.execute("SELECT id, path, mtime FROM files WHERE status = 'ok'"):
            rows = conn.execute("SELECT id, vec FROM chunks WHERE file_id = ? ORDER BY id", (file_id,)).fetchall()
            out[path] = (file_id, mtime, [r[0] for r in rows], b"".join(r[1] for r in rows))
        return out
    finally:
        conn.close()


@pytest.mark.slow
def test_sigkill_mid_index_loses_nothing_and_the_next_run_does_only_the_rest(starter_store, tmp_path):
    from app.core import paths

    folder = tmp_path / "many"
    total = 300
    _write(folder, {f"n{i:03}.txt": f"Note {i}. {TOPICS['garden.txt']} Entry {i} of the log." for i in range(total)})
    assert _docs("add", str(folder)).returncode == 0
    db = paths.db_dir() / "docs.sqlite3"
    proc = subprocess.Popen([sys.executable, "-m", "app", "docs", "index"], cwd=ROOT, env=dict(os.environ),
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        wait_until(lambda: _committed(db) >= 5 or proc.poll() is not None, 240, "some files committed")
        model_processes = _children(proc.pid)
        os.kill(proc.pid, signal.SIGKILL)
    finally:
        proc.wait(30)
    assert proc.returncode == -signal.SIGKILL, "the run ended before it could be killed"
    # the model's process notices its app is gone and leaves, rather than lingering with the model loaded
    assert model_processes
    wait_until(lambda: not any(_alive(p) for p in model_processes), 60, "the model's process to leave")
    before = _snapshot(db)
    seen = len(before)
    assert 5 <= seen < total
    assert all(chunks for _id, _m, chunks, _v in before.values())  # each committed file whole, with its chunks

    again = _docs("index")  # the next run, as the user would start it
    assert again.returncode == 0, again.stderr
    assert f"indexed {total - seen} (" in again.stdout and f"unchanged {seen}," in again.stdout, again.stdout
    after = _snapshot(db)
    assert len(after) == total
    assert {p: after[p] for p in before} == before  # the same rows and vectors: nothing was embedded again
    conn = sqlite3.connect(db)
    try:
        conn.execute("INSERT INTO chunks_fts(chunks_fts) VALUES ('integrity-check')")
        assert conn.execute("SELECT COUNT(DISTINCT c.file_id) FROM chunks_fts JOIN chunks c ON c.id = chunks_fts.rowid"
                            " WHERE chunks_fts MATCH 'tomato'").fetchone()[0] == total
    finally:
        conn.close()


class _SavedDuringIndexing:
    """The real embedder; while the first file's passages are embedded, the user saves an edit to it of
    the same size (a typo fixed), as a watched folder's file may be saved while it is indexed."""

    def __init__(self, engine, path: Path, text: str):
        self.engine, self.path, self.text = engine, path, text
        self.model_id, self.dimensions, self.n_ctx = engine.model_id, engine.dimensions, engine.n_ctx
        self.fingerprint = engine.fingerprint

    def tokens(self, text):
        return self.engine.tokens(text)

    def embed(self, texts, cancel=None):
        if self.path.read_text(encoding="utf-8") != self.text:
            self.path.write_text(self.text, encoding="utf-8")
            os.utime(self.path, (5_000_000, 5_000_000))
        return self.engine.embed(texts, cancel)


@pytest.mark.slow
def test_a_file_saved_while_it_is_indexed_is_read_again_next_time(embedder, index, tmp_path):
    """Its content hash is the one of the bytes that were read: the next run sees the edit as a change
    (not a touch of the same content) and indexes the new words."""
    folder = tmp_path / "docs"
    _write(folder, {"cats.txt": "Kittens need three or four small meals a day, said Dr Smith."})
    edited = "Kittens need three or four small meals a day, said Dr Jones."
    index.add_folder(folder)
    _run(index, _SavedDuringIndexing(embedder, folder / "cats.txt", edited))
    assert (folder / "cats.txt").read_text(encoding="utf-8") == edited
    again = _run(index, embedder)
    assert again.indexed == 1
    assert "Jones" in index.db.execute("SELECT group_concat(text) FROM chunks").fetchone()[0]

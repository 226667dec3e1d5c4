"""`bench.py docs`: documents, with the starter all-MiniLM-L6-v2.

- Embedding: chunks per second through DocsIndex.index (extract, chunk, embed, write) against a bare
  llama-cpp-python loop (Llama(embedding=True).embed in batches of Embedder.batch_texts, same threads, context
  and batch) over the same chunk texts. The two alternate (A B, B A, ...) on the same thread (llama.cpp's
  OpenMP team spins on the thread that decoded); the ratio is the median of each round's pair, since the
  machine is shared.
- Query: DocsIndex.search (FTS5 + vectors + fusion, the query embedded by the model) at 100,000 chunks. The
  index is written straight through its tables (text of a Zipf word stream, random unit vectors of the model's
  size) so that building it takes a minute, not an hour of embedding; the query path is the real one.
- Size: the index file's bytes per MB of extracted text, for the embedded corpus and the 100,000 chunks.
"""

from __future__ import annotations

import random
import statistics
import tempfile
import time
from pathlib import Path

import numpy as np

FILES = 3  # the embedded corpus: about 17 chunks a file; small, so that rounds are many and short
PARAGRAPHS = 10
BIG = 100_000
CHUNKS_PER_FILE = 100


def _starter_gguf() -> Path:
    """The starter embedding model: HEARTH_STARTER_HOME's (as the tests use), else provisioned here."""
    import os

    from app.core.models.starter import provision
    from app.core.models.store import ModelStore

    if os.environ.get("HEARTH_STARTER_HOME"):
        store = ModelStore(Path(os.environ["HEARTH_STARTER_HOME"]) / "data" / "models")
    else:
        store = ModelStore()
        provision(store)
    path = store.path_of(store.get("all-minilm-l6-v2"))
    return path if path.is_file() else next(path.glob("*.gguf"))


def _words(rng: random.Random, vocab: list[str], weights: list[float], n: int) -> str:
    return " ".join(rng.choices(vocab, weights, k=n))


def write_corpus(folder: Path, files: int = FILES, seed: int = 3) -> None:
    """Plain-text and Markdown files of sentences (a Zipf word stream, as bench_chat_search's) in paragraphs."""
    from bench_chat_search import _vocabulary

    rng = random.Random(seed)
    vocab = _vocabulary()
    weights = [1.0 / (rank + 1) for rank in range(len(vocab))]
    folder.mkdir(parents=True, exist_ok=True)
    for f in range(files):
        paragraphs = []
        for _ in range(PARAGRAPHS):
            sentences = [_words(rng, vocab, weights, rng.randint(8, 20)).capitalize() + "."
                         for _ in range(rng.randint(3, 7))]
            paragraphs.append(" ".join(sentences))
        suffix = ".md" if f % 2 else ".txt"
        head = f"# Part {f}\n\n" if suffix == ".md" else ""
        (folder / f"doc{f:03}{suffix}").write_text(head + "\n\n".join(paragraphs), encoding="utf-8")


def _text_mb(folder: Path) -> float:
    from app.core.docs.extract import extract

    return sum(len(extract(p).text.encode("utf-8")) for p in sorted(folder.iterdir())) / 1e6


def _db_bytes(path: Path) -> int:
    return sum(p.stat().st_size for p in path.parent.glob(path.name + "*"))  # the file, its -wal and -shm


def _hearth_run(folder: Path, db: Path, embedder) -> tuple[float, int, float, list[str]]:
    from app.core.docs.index import DocsIndex, DocSummary

    index = DocsIndex(db)
    index.add_folder(folder)
    t = time.perf_counter()
    summary = [x for x in index.index(embedder) if isinstance(x, DocSummary)][0]
    seconds = time.perf_counter() - t
    texts = [r[0] for r in index.db.execute("SELECT text FROM chunks ORDER BY id")]
    index.db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    index.close()
    return seconds, summary.chunks, summary.embed_seconds, texts


def _bare_run(llm, texts: list[str], batch: int) -> float:
    t = time.perf_counter()
    for first in range(0, len(texts), batch):
        llm.embed(texts[first : first + batch], normalize=True, truncate=True)
    return time.perf_counter() - t


def embedding_figures(tmp: Path, embedder, rounds: int) -> dict:
    import llama_cpp

    folder = tmp / "corpus"
    write_corpus(folder)
    llm = llama_cpp.Llama(str(embedder.path), embedding=True, n_ctx=embedder.n_ctx, n_batch=embedder.n_ctx,
                          n_ubatch=embedder.n_ctx, n_threads=embedder.n_threads,
                          n_threads_batch=embedder.n_threads, n_gpu_layers=0, verbose=False)
    _, chunks, _, texts = _hearth_run(folder, tmp / "warm.sqlite3", embedder)  # warms both, and gives the chunks
    _bare_run(llm, texts[:8], embedder.batch_texts)
    ours, bare, embed_only, ratios = [], [], [], []
    for r in range(rounds):  # A B, B A, ...: drift on a shared machine and the order hit both alike
        runs = ["ours", "bare"] if r % 2 == 0 else ["bare", "ours"]
        for which in runs:
            if which == "ours":
                seconds, n, embed_s, _ = _hearth_run(folder, tmp / f"run{r}.sqlite3", embedder)
                ours.append(n / seconds)
                embed_only.append(n / embed_s)
            else:
                bare.append(len(texts) / _bare_run(llm, texts, embedder.batch_texts))
        ratios.append(ours[-1] / bare[-1])
    llm.close()
    text_mb = _text_mb(folder)
    size = _db_bytes(tmp / "run0.sqlite3")
    return {
        "files": FILES, "chunks": chunks, "threads": embedder.n_threads, "batch_texts": embedder.batch_texts,
        "rounds": rounds,
        "hearth_index_chunks_per_s": round(statistics.median(ours), 2),
        "hearth_embed_call_chunks_per_s": round(statistics.median(embed_only), 2),
        "bare_llama_cpp_chunks_per_s": round(statistics.median(bare), 2),
        "ratio": round(statistics.median(ratios), 3),  # the median of each round's pair, side by side in time
        "ratio_per_round": [round(x, 3) for x in ratios],
        "ratio_of_medians": round(statistics.median(ours) / statistics.median(bare), 3),
        "goal": "ratio >= 0.9",
        "text_mb": round(text_mb, 3),
        "index_mb_per_mb_text (SQLite's fixed pages weigh at this size)": round(size / 1e6 / text_mb, 2),
    }


def build_big(path: Path, key: str, dims: int, chunks: int = BIG, seed: int = 5) -> tuple[float, np.ndarray]:
    """An index of ``chunks`` chunks written through its own tables: a Zipf word stream for text, random
    unit vectors (as the index stores them) under the model's key. Returns the MB of text and the vectors
    as float32, before the index stored them."""
    from bench_chat_search import _corpus, _vocabulary

    from app.core.docs.chunks import Chunk
    from app.core.docs.index import DocsIndex

    rng = random.Random(seed)
    vectors = np.random.default_rng(seed)
    corpus = _corpus(rng, _vocabulary(), 3_000_000)
    index = DocsIndex(path)
    folder_id = index.db.execute("INSERT INTO folders (path) VALUES ('/bench')").lastrowid
    text_bytes = 0
    every = []
    with index.store.transaction():
        for f in range(chunks // CHUNKS_PER_FILE):
            pieces, at = [], 0
            for c in range(CHUNKS_PER_FILE):
                start = rng.randrange(len(corpus) - 200)
                text = " ".join(corpus[start : start + rng.randint(110, 160)])
                pieces.append(Chunk(text, None, (), at, at + len(text), c))
                at += len(text) + 2
                text_bytes += len(text.encode("utf-8"))
            vecs = vectors.standard_normal((CHUNKS_PER_FILE, dims)).astype(np.float32)
            vecs /= np.linalg.norm(vecs, axis=1, keepdims=True)
            every.append(vecs)
            index._store(f"/bench/{f:05}.txt", folder_id, at, 1.0, key, pieces, vecs)
    index.db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    index.close()
    return text_bytes / 1e6, np.concatenate(every)


def _top10(scores: np.ndarray) -> np.ndarray:
    best = np.argpartition(-scores, 9)[:10]
    return best[np.argsort(-scores[best])]


def stored_recall(index, key: str, exact: np.ndarray, queries: int = 100, seed: int = 9) -> dict:
    """The stored vectors (float16) against the float32 originals: recall of the top 10 and of the top hit,
    for queries near a stored chunk (as a question near its passage) and for random ones (near-ties)."""
    rng = np.random.default_rng(seed)
    stored, _ = index._vectors(key, exact.shape[1])
    near = exact[rng.integers(0, len(exact), queries)] + 0.1 * rng.standard_normal((queries, exact.shape[1]))
    out = {}
    for name, qs in (("near a chunk", near), ("random", rng.standard_normal((queries, exact.shape[1])))):
        qs = (qs / np.linalg.norm(qs, axis=1, keepdims=True)).astype(np.float32)
        top10 = top1 = 0
        for q in qs:
            want, got = _top10(exact @ q), _top10(stored @ q)
            top10 += len(set(want) & set(got))
            top1 += want[0] == got[0]
        out[name] = {"recall_at_10": round(top10 / (10 * queries), 4), "top_hit_kept": round(top1 / queries, 4)}
    return out


def _queries() -> dict[str, str]:
    from bench_chat_search import COMMON, _vocabulary

    tail = _vocabulary()[len(COMMON):]
    return {
        "question": "how often should I give my kitten food",
        "common words": "what is the time",
        "part number": "QX-4471 manual",
        "rare word": tail[-1],
        "common and rare": f"{COMMON[5]} {tail[len(tail) // 4]}",
        "long question": "would there be more people at work if the new station opened after the first day",
    }


class _TimedEmbedder:
    """The real embedder, its embed calls timed: a search's time splits into the model's and the index's."""

    def __init__(self, embedder):
        self.embedder = embedder
        self.seconds = 0.0

    def __getattr__(self, name):
        value = getattr(self.embedder, name)
        return self._timed(value) if name.startswith("embed") and callable(value) else value

    def _timed(self, method):
        def call(*args, **kwargs):
            t = time.perf_counter()
            try:
                return method(*args, **kwargs)
            finally:
                self.seconds += time.perf_counter() - t

        return call


def query_figures(tmp: Path, embedder, repeats: int = 9) -> dict:
    from app.core.docs.index import DocsIndex, model_key

    path = tmp / "big.sqlite3"
    t = time.perf_counter()
    key = model_key(embedder)
    text_mb, exact = build_big(path, key, embedder.dimensions)
    out: dict = {"chunks": BIG, "build_s": round(time.perf_counter() - t, 1),
                 "index_mb_per_mb_text": round(_db_bytes(path) / 1e6 / text_mb, 2), "text_mb": round(text_mb, 1)}
    index = DocsIndex(path)
    timed = _TimedEmbedder(embedder)
    t = time.perf_counter()
    index.search("first search loads the vectors", timed)
    out["first_search_ms"] = round((time.perf_counter() - t) * 1000, 1)
    every, rest = [], []
    for name, q in _queries().items():
        times, embeds = [], []
        for _ in range(repeats):
            timed.seconds = 0.0
            t = time.perf_counter()
            index.search(q, timed)
            times.append(time.perf_counter() - t)
            embeds.append(timed.seconds)
        every += times
        rest += [a - b for a, b in zip(times, embeds, strict=True)]
        out[name] = {"query": q, "p50_ms": round(statistics.median(times) * 1000, 1),
                     "embedding_the_query_p50_ms": round(statistics.median(embeds) * 1000, 1)}
    out["stored_vectors_vs_float32"] = stored_recall(index, key, exact)
    index.close()
    out["p50_ms"] = round(statistics.median(every) * 1000, 1)
    out["p50_ms_without_embedding_the_query"] = round(statistics.median(rest) * 1000, 1)
    out["goal"] = "p50 <= 30 ms at 100,000 chunks"
    out["met"] = out["p50_ms"] <= 30
    return out


def _loadavg() -> str:
    try:
        return " ".join(Path("/proc/loadavg").read_text().split()[:3])
    except OSError:
        return "unknown"


def bench_docs(args) -> dict:
    import os

    from app.core.embeddings.engine import Embedder

    with tempfile.TemporaryDirectory() as home:
        os.environ["HEARTH_HOME"] = home
        embedder = Embedder(_starter_gguf(), "all-minilm-l6-v2", device="cpu")
        try:
            result = {"suite": "docs", "load_average_before": _loadavg()}
            result["embedding"] = embedding_figures(Path(home), embedder, max(4, args.runs))
            result["query"] = query_figures(Path(home), embedder)
            result["load_average_after"] = _loadavg()
        finally:
            embedder.close()
    return result

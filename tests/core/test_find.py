"""The one search (app.core.find) over a real library: documents by meaning, a transcript by what was said
(with its times, kept current as transcripts come and go), photos by CLIP text, chats; kinds that cannot
be searched are said, not raised; and the `find` CLI's contract."""

from __future__ import annotations

import json

import pytest

from app.core.find import KINDS, Engines, find
from app.core.jobs import InputError
from tests import find_library
from tests.conftest import run_app


@pytest.fixture
def library(starter_store, clip_store, tmp_path):
    return find_library.build(tmp_path)


@pytest.mark.slow
def test_every_kind_is_found_with_its_place(library):
    engines = Engines()  # one embedder and one CLIP for all the searches below, as the GUI's worker keeps
    try:
        question, name = find_library.PARAPHRASE
        docs = find(question, kinds={"document"}, limit=3, engines=engines)
        assert not docs.skipped and docs.hits[0].path.endswith(name) and docs.hits[0].location.heading

        said = find("who is renting a boat for the lake", kinds={"transcript"}, engines=engines)
        top = said.hits[0]  # the passage found by meaning; the click goes to its line that shares most words
        assert top.location.transcript_id == library.meeting_id and top.title == "meeting.wav"
        assert (top.location.start, top.location.end) == (24.5, 31.0) and "kayak" in top.snippet
        exact = find(find_library.SPOKEN, kinds={"transcript"}, engines=engines).hits[0]
        assert (exact.location.transcript_id, exact.location.start) == (library.meeting_id, 24.5)

        photos = find("a red circle", kinds={"photo"}, limit=3, engines=engines)
        wanted = {str(p) for p in library.photos["red circle"]}
        assert sum(h.path in wanted for h in photos.hits) >= 2, photos.hits

        chats = find("shady allotment", kinds={"chat"}, engines=engines)
        assert chats.hits[0].location.conversation_id == library.chats["garden"]
        assert chats.hits[0].location.message_id and "shady allotment" in chats.hits[0].snippet
        # Words not side by side in the chat still find it.
        assert find("allotment vegetables", kinds={"chat"}, engines=engines).hits[0].title == "Garden plans"

        everything = find("kayak", engines=engines)
        assert set(everything.by_kind()) >= {"transcript"} and not everything.skipped
    finally:
        engines.close()


@pytest.mark.slow
def test_transcripts_are_kept_current_as_they_come_and_go(library):
    from app.core import paths
    from app.core.speech.transcripts import TranscriptStore

    damaged = paths.db_dir() / "recordings.sqlite3"  # the transcripts are the source: a damaged index is rebuilt
    damaged.write_bytes(b"not a database" * 100)
    engines = Engines()
    try:
        assert find("frying onions in butter", kinds={"transcript"}, engines=engines).hits[0].title == "Dictation"
        assert list(paths.db_dir().glob("recordings.sqlite3.damaged-*"))
        TranscriptStore().delete(library.cooking_id)
        left = find("frying onions in butter", kinds={"transcript"}, engines=engines).hits
        assert library.cooking_id not in {h.location.transcript_id for h in left}
        new = find_library.save_transcript("choir.wav", [(3.0, 9.0, "The choir rehearses the anthem on Wednesday.")])
        hit = find("singing practice midweek", kinds={"transcript"}, engines=engines).hits[0]
        assert (hit.location.transcript_id, hit.location.start) == (new, 3.0)
    finally:
        engines.close()


def test_a_kind_without_an_index_is_skipped_with_its_reason(hearth_home):
    result = find("anything at all")
    assert result.hits == [] and set(result.skipped) == set(KINDS)
    assert "Documents" in result.skipped["document"] and "Images" in result.skipped["photo"]
    assert "no chats" in result.skipped["chat"] and "no transcripts" in result.skipped["transcript"]
    with pytest.raises(InputError):
        find("x", kinds={"songs"})


def test_a_damaged_index_is_skipped_with_its_reason_and_the_rest_searched(hearth_home):
    from app.core import paths
    from app.core.chat.history import ChatHistory

    paths.db_dir().mkdir(parents=True, exist_ok=True)
    for name in ("docs.sqlite3", "images.sqlite3"):
        (paths.db_dir() / name).write_bytes(b"SQLite format 3\x00" + b"\xff" * 4000)
    history = ChatHistory()
    history.add_message(history.create("Bees").id, "user", "When do the bees swarm?")
    history.close()
    result = find("bees swarm")
    assert "damaged" in result.skipped["document"] and "damaged" in result.skipped["photo"]
    assert [h.title for h in result.hits] == ["Bees"]


@pytest.mark.slow
def test_a_kind_whose_model_is_missing_is_skipped_and_the_rest_searched(library, clip_store):
    clip_store.remove("tiny-clip")
    result = find("shady allotment")
    assert "photo" in result.skipped and "tiny-clip" not in result.skipped["photo"].split(": ")[0]
    assert "images model" in result.skipped["photo"]
    assert [h.kind for h in result.hits if h.kind == "chat"] and "chat" not in result.skipped


@pytest.mark.slow
def test_the_find_cli_prints_json_hits_of_every_kind(library):
    run = run_app("find", "kayak red circle allotment bike chain", "--json", "--limit", "3")
    assert run.returncode == 0, run.stderr
    hits = json.loads(run.stdout)
    assert {h["kind"] for h in hits} <= set(KINDS) and all({"kind", "path", "score", "text"} <= set(h) for h in hits)
    run = run_app("find", find_library.SPOKEN, "--json", "--kind", "transcript")
    hit = json.loads(run.stdout)[0]
    assert (hit["kind"], hit["start"], hit["transcript_id"]) == ("transcript", 24.5, library.meeting_id)
    assert hit["end"] > hit["start"] and hit["path"] is None
    run = run_app("find", find_library.PARAPHRASE[0], "--json", "--kind", "document", "--limit", "1")
    (doc,) = json.loads(run.stdout)
    assert doc["path"].endswith(find_library.PARAPHRASE[1]) and doc["heading"] == "Bicycle care"
    run = run_app("find", "shady allotment", "--kind", "chat")
    assert run.returncode == 0 and "Chats" in run.stdout and "Garden plans" in run.stdout


def test_the_find_cli_says_what_it_could_not_search(hearth_home):
    run = run_app("find", "anything", "--json")
    assert run.returncode == 0 and json.loads(run.stdout) == []
    assert "documents: not searched" in run.stderr
    run = run_app("find", "anything", "--kind", "songs")
    assert run.returncode != 0 and "Traceback" not in run.stderr


def test_transcript_lines_become_passages_with_their_times():
    from app.core.docs.recordings import Line, best_line, passages

    lines = [Line(a, b, text) for a, b, text in find_library.MEETING]
    got = passages(lines, words=60)
    assert [p.start for p in got] == [0.0, 18.0, 37.5] and got[-1].end == 55.0  # never a line split
    assert all(len(p.text.split()) <= 60 for p in got) and " ".join(p.text for p in got).count("kayak") == 2
    kayak = got[1]
    assert best_line(kayak.lines, kayak.text, "who rents the red kayak?")[:2] == (24.5, 31.0)
    assert best_line(kayak.lines, kayak.text, "nothing in common")[:2] == (18.0, 24.5)  # the first on a tie
    assert passages([Line(0, 1, "  ")]) == []


@pytest.mark.slow
def test_documents_are_searched_with_the_model_they_were_embedded_with(starter_store, tmp_path):
    from app.core.docs.index import DocsIndex, DocSummary
    from app.core.opening import open_embedder, resolve
    from app.core.settings import load_settings, save_settings

    starter = resolve("embedding", "all-minilm-l6-v2", starter_store).path
    gguf = starter if starter.is_file() else next(starter.glob("*.gguf"))
    starter_store.import_path(gguf, "embedding", "minilm-copy", mode="link")
    settings = load_settings()
    settings.default_models["embedding"] = "all-minilm-l6-v2"  # the default is not the documents' model
    save_settings(settings)
    (tmp_path / "docs").mkdir()
    for name, text in find_library.DOCS.items():
        (tmp_path / "docs" / name).write_text(text, encoding="utf-8")
    embedder, index = open_embedder("minilm-copy", device="cpu"), DocsIndex()
    try:
        index.add_folder(tmp_path / "docs")
        assert [x for x in index.index(embedder) if isinstance(x, DocSummary)][0].indexed == len(find_library.DOCS)
    finally:
        index.close()
        embedder.close()
    question, name = find_library.PARAPHRASE  # no word in common: only the vectors find it
    hits = find(question, kinds={"document"}, limit=1).hits
    assert hits and hits[0].path.endswith(name)


@pytest.mark.slow
def test_a_kept_engine_follows_the_documents_to_the_model_they_are_indexed_with_now(starter_store, tmp_path):
    """The search box keeps its Engines between searches: documents indexed again with another model are
    searched with that one, not the model the first search opened (whose vectors are gone: keywords only)."""
    from app.core.docs.index import DocsIndex, DocSummary
    from app.core.opening import open_embedder, resolve

    starter = resolve("embedding", "all-minilm-l6-v2", starter_store).path
    gguf = starter if starter.is_file() else next(starter.glob("*.gguf"))
    starter_store.import_path(gguf, "embedding", "minilm-copy", mode="link")
    (tmp_path / "docs").mkdir()
    for name, text in find_library.DOCS.items():
        (tmp_path / "docs" / name).write_text(text, encoding="utf-8")

    def index_with(model_id: str) -> None:
        embedder, index = open_embedder(model_id, device="cpu"), DocsIndex()
        try:
            index.add_folder(tmp_path / "docs")
            assert [x for x in index.index(embedder) if isinstance(x, DocSummary)][0].indexed == len(find_library.DOCS)
        finally:
            index.close()
            embedder.close()

    question, name = find_library.PARAPHRASE  # no word in common: only the vectors find it
    engines = Engines()
    try:
        index_with("minilm-copy")
        hits = find(question, kinds={"document"}, limit=1, engines=engines).hits
        assert hits and hits[0].path.endswith(name)
        index_with("all-minilm-l6-v2")
        hits = find(question, kinds={"document"}, limit=1, engines=engines).hits
        assert hits and hits[0].path.endswith(name)
        assert engines.embedder.model_id == "all-minilm-l6-v2"
    finally:
        engines.close()


def test_a_pasted_paragraph_searches_chats_in_a_few_steps_not_one_per_word(hearth_home):
    """Text found in no chat as typed is searched word by word; a paragraph pasted into the box was one
    chat search per word (on a serial worker, not cancelled meanwhile): now a few of its longest words.
    Timed against eight one-word searches, so a loaded machine slows both alike."""
    import random
    import time

    from app.core.chat.history import ChatHistory

    rng = random.Random(3)
    vocab = ["".join(rng.choice("abcdefghijklmnopqrstuvwxyz") for _ in range(rng.randint(4, 9))) for _ in range(2000)]
    history = ChatHistory()
    try:
        for i in range(300):
            c = history.create(f"chat {i}")
            history.add_message(c.id, "user", " ".join(rng.choice(vocab) for _ in range(40)))
    finally:
        history.close()
    find(vocab[0], kinds={"chat"})  # warm
    began = time.perf_counter()
    for word in vocab[1:9]:
        find(word, kinds={"chat"})
    eight = time.perf_counter() - began
    paragraph = " ".join(rng.choice(vocab) for _ in range(2000)) + " qqqzzz"
    began = time.perf_counter()
    result = find(paragraph, kinds={"chat"})
    many = time.perf_counter() - began
    assert result.hits and "chat" not in result.skipped
    assert many < 20 * eight, f"{many:.2f} s for the paragraph, {eight:.3f} s for eight words"

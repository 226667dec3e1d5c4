"""Documents attached to chat messages (#25): read and refused in words, stored once, put in the prompt
whole or as cited passages, exported and imported with the chat, migrated from an older history."""

from __future__ import annotations

import json
import random
import sqlite3

import pytest

from app.core.chat.documents import DocumentError, DocumentStore, file_name
from app.core.chat.engine import SamplingParams
from app.core.chat.export import export_conversation, export_file, import_conversation
from app.core.chat.history import ChatHistory, DocumentRef, HistoryError, default_path
from app.core.chat.session import add_user_message, conversation_messages, run_turn
from app.core.chatdocs import context
from app.core.chatdocs.prepare import prepare, read_document
from app.core.jobs import CancelToken
from tests.core.docs_files import pdf_bytes
from tests.helpers import HostileServer

ANSWER = "The spare key for the boathouse is kept under the blue flowerpot by the north door."
WORDS = ["river", "meadow", "lantern", "harvest", "copper", "engine", "orchard", "winter", "ledger", "falcon",
         "quarry", "harbour", "timber", "signal", "mirror", "canvas", "thunder", "garden", "pepper", "marble",
         "cotton", "saddle", "violin", "glacier", "compass"]


def long_markdown(sections: int = 60, seed: int = 5) -> str:
    """A long handbook whose one section holds the answer; another speaks of a different key."""
    rng = random.Random(seed)
    parts = ["# Handbook"]
    for i in range(sections):
        parts.append(f"## Chapter {i}")
        for _ in range(3):
            parts.append(" ".join(rng.choice(WORDS) for _ in range(60)) + ".")
        if i == 17:
            parts.append("The key signature of the harbour song is D major, played slowly at dusk.")
        if i == 29:
            parts.append("The fishermen's ballad is sung in D minor, slowly at dusk.")
        if i == 41:
            parts.append(ANSWER)
    return "\n\n".join(parts)


@pytest.fixture
def history():
    h = ChatHistory()
    yield h
    h.close()


def _write(path, data):
    path.write_bytes(data if isinstance(data, bytes) else data.encode())
    return path


def test_documents_of_each_kind_attach_and_bad_ones_say_why(tmp_path):
    txt = prepare(_write(tmp_path / "notes.txt", "Plain words about lanterns."))
    md = prepare(_write(tmp_path / "guide.md", "# Guide\n\nSome *Markdown* text."))
    pdf = prepare(_write(tmp_path / "report.pdf", pdf_bytes([["Page one words."], ["Page two words."]])))
    assert [(d.name, d.kind) for d in (txt, md, pdf)] == [("notes.txt", "text"), ("guide.md", "markdown"),
                                                          ("report.pdf", "pdf")]
    assert txt.size == len("Plain words about lanterns.")
    big = tmp_path / "big.txt"
    with big.open("wb") as fh:
        fh.truncate(51 * 1024 * 1024)  # sparse: past the 50 MB a chat document may be
    bad = {
        "empty.txt": (_write(tmp_path / "empty.txt", b""), "empty file"),
        "locked.pdf": (_write(tmp_path / "locked.pdf", pdf_bytes([["secret"]], encrypt="pw")), "encrypted"),
        "cut.pdf": (_write(tmp_path / "cut.pdf", pdf_bytes([["cut short"]])[:300]), "truncated or damaged"),
        "tool.exe": (_write(tmp_path / "tool.exe", b"MZ\x90\x00" * 100), "not a document Hearth reads"),
        "big.txt": (big, "too large"),
    }
    for name, (path, reason) in bad.items():
        with pytest.raises(DocumentError, match=rf"^{name} cannot be attached: .*{reason}"):
            prepare(path)
    assert not [p for p in DocumentStore().root.rglob("*") if p.is_file()], "nothing stored for a refused one"


def test_a_short_document_goes_in_whole_and_a_long_one_as_cited_passages_that_hold_the_answer():
    short = read_document(b"# Recipe\n\nTwo eggs, one cup of flour.", "recipe.md")
    whole = context.build([("recipe.md", short)], "How many eggs?", budget=500)
    assert whole.whole and "Attached document: recipe.md" in whole.text and "Two eggs, one cup of flour." in whole.text
    handbook = read_document(long_markdown().encode(), "handbook.md")
    assert context.estimate_tokens(handbook.text) > 4 * 500
    question = "Where is the spare key for the boathouse kept?"
    cited = context.build([("handbook.md", handbook)], question, budget=500)
    assert not cited.whole and cited.tokens <= 500
    assert cited.passages[0].number == 1 and ANSWER in cited.passages[0].text, "the best match comes first"
    assert cited.passages[0].label() == "[1] handbook.md, Handbook > Chapter 41"
    assert "cite the ones you use by their number, like [1]" in cited.text
    assert "[1] handbook.md, Handbook > Chapter 41\n" in cited.text
    # The same document with room for it all goes in whole.
    assert context.build([("handbook.md", handbook)], question, budget=100_000).whole


def test_a_pdf_passage_names_its_page():
    pages = [[" ".join(random.Random(p).choice(WORDS) for _ in range(12)) for _ in range(40)] for p in range(5)]
    pages[3].append("Invoice 7731 was paid in full on the ninth of March.")
    doc = read_document(pdf_bytes(pages), "ledger.pdf")
    cited = context.build([("ledger.pdf", doc)], "When was invoice 7731 paid?", budget=300)
    first = cited.passages[0]
    assert not cited.whole and "Invoice 7731" in first.text and first.label() == "[1] ledger.pdf, page 4"


@pytest.mark.slow
def test_the_starter_models_context_decides_whole_or_passages_and_the_prompt_fits(gemma, history):
    """The room is gemma's own context (2048 here) less the reply's share: the handbook does not fit, a
    note does; the prompt built either way fits the engine's real tokenizer without dropping turns."""
    params = SamplingParams(max_tokens=256)
    for name, text, whole in (("note.txt", "The meeting moved to Thursday at ten.", True),
                              ("handbook.md", long_markdown(), False)):
        c = history.create(name)
        add_user_message(history, c.id, "Where is the spare key for the boathouse kept?", (),
                         [prepare(text.encode(), name)])
        [sent] = context.compose(history, c.id, gemma, params)
        assert (f"Attached document: {name}" in sent.content) is whole
        if not whole:
            assert ANSWER in sent.content and "[1] handbook.md" in sent.content
        plan = gemma.plan([sent], params.max_tokens)
        assert plan.dropped == 0 and len(plan.tokens) <= gemma.n_ctx - params.max_tokens


def test_the_prompt_sent_to_the_engine_holds_the_document(history):
    """The real turn (run_turn with compose) through the OpenAI-compatible engine to a server on loopback:
    what reaches the server is the document's text, or its cited passages, before the question."""
    from app.core.chat.openai_remote import OpenAIChatEngine
    from app.core.chat.servers import ServerList

    def answer(srv, conn, path):
        srv.send(conn, b"HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nConnection: close\r\n\r\n"
                 + b'data: {"choices": [{"index": 0, "delta": {"content": "Under the flowerpot [1]."}, '
                   b'"finish_reason": "stop"}]}\n\ndata: [DONE]\n\n')

    with HostileServer(answer) as srv:
        engine = OpenAIChatEngine(ServerList().add("box", srv.url), "m")
        sent = []
        for name, text in (("note.txt", "The meeting moved to Thursday at ten."), ("handbook.md", long_markdown(200))):
            c = history.create(name)
            add_user_message(history, c.id, "Where is the spare key for the boathouse kept?", (),
                             [prepare(text.encode(), name)])
            result = run_turn(engine, history, c.id, SamplingParams(max_tokens=64), CancelToken(),
                              compose=context.compose)
            assert result.text == "Under the flowerpot [1]."
            sent.append(json.loads(srv.bodies[-1])["messages"][-1]["content"])
        # A follow-up without a document: the handbook's passages now include what it asks about.
        assert "D minor" not in sent[-1], "the first question's passages are about the key"
        history.add_message(c.id, "user", "And which scale is the fishermen's ballad sung in?")
        run_turn(engine, history, c.id, SamplingParams(max_tokens=64), CancelToken(), compose=context.compose)
        first_turn = json.loads(srv.bodies[-1])["messages"][0]["content"]
        assert "D minor" in first_turn and ANSWER in first_turn
    note, handbook = sent
    assert note.startswith("Attached document: note.txt") and "The meeting moved to Thursday at ten." in note
    assert note.endswith("Where is the spare key for the boathouse kept?")
    assert ANSWER in handbook and "[1] handbook.md" in handbook and "like [1]" in handbook
    assert len(handbook) < len(long_markdown(200)) / 2, "passages, not the whole handbook"


def test_export_and_import_carry_the_document_and_delete_forgets_it(history, tmp_path):
    c = history.create("with a document")
    doc = prepare(b"# Plan\n\nBuild the shed in May.", "plan.md")
    add_user_message(history, c.id, "When is the shed built?", (), [doc])
    history.add_message(c.id, "assistant", "In May.")
    store = DocumentStore()
    assert store.read(doc.sha256) == doc.data
    out = tmp_path / "out"
    out.mkdir()
    written = export_conversation(history, c.id, out / "chat.json", "json")
    beside = out / file_name(doc.sha256, "markdown")
    assert beside in written and beside.read_bytes() == doc.data and beside.name.endswith(".md")
    md = export_conversation(history, c.id, out / "chat.md", "md")
    assert export_file(history, c.id, out / "again.md", "md").beside() == "1 document"
    assert f"[Document: plan.md]({beside.name})" in md[0].read_text()
    history.delete(c.id)
    assert not store.exists(doc.sha256), "no message uses it any more"
    back = import_conversation(history, out / "chat.json")
    [user, reply] = history.messages(back.id)
    assert user.documents == [DocumentRef(doc.sha256, "plan.md", doc.size, "markdown")] and reply.content == "In May."
    assert store.read(doc.sha256) == doc.data
    [sent, _] = conversation_messages(history, back.id, context._with({user.id: "DOC"}))
    assert sent.content == "DOC\n\nWhen is the shed built?"
    # A changed file beside the export is refused, and the import leaves nothing behind.
    history.delete(back.id)
    beside.write_bytes(b"# Plan\n\nBuild the shed in June.")
    with pytest.raises(HistoryError, match="is not the document the export names"):
        import_conversation(history, out / "chat.json")
    assert history.conversations() == [] and not store.exists(doc.sha256)


def test_an_export_with_a_bad_document_entry_is_refused_in_words(history, tmp_path):
    for bad, says in (({"sha256": "../../etc", "kind": "text"}, "a document has no valid sha256"),
                      ({"sha256": "a" * 64, "kind": "exe"}, "kind is not one Hearth reads")):
        text = json.dumps({"format": "hearth-conversation/1", "messages": [
            {"role": "user", "content": "hi", "documents": [bad]}]})
        with pytest.raises(HistoryError, match=says):
            history.import_json(text, tmp_path)


def test_a_schema_4_history_migrates_and_keeps_its_messages_and_pictures():
    """A history an earlier Hearth wrote (schema 4: pictures, no documents) opens, migrated, intact."""
    from app.core.chat.history import DOCUMENTS_VERSION, MIGRATIONS
    from app.core.db import open_db

    old = open_db(default_path(), MIGRATIONS[:4], "the chat history")
    with old.transaction():
        old.conn.execute("INSERT INTO conversations (title, created, updated) VALUES ('old', 1, 1)")
        old.conn.execute("INSERT INTO messages (conversation_id, role, content, created) VALUES (1, 'user', 'hi', 1)")
        old.conn.execute("INSERT INTO attachments (message_id, position, sha256, name) VALUES (1, 0, ?, 'p.png')",
                         ("b" * 64,))
    old.conn.close()
    assert sqlite3.connect(default_path()).execute("PRAGMA user_version").fetchone()[0] == 4
    h = ChatHistory()
    try:
        assert h.db.execute("PRAGMA user_version").fetchone()[0] == len(MIGRATIONS) >= DOCUMENTS_VERSION
        [m] = h.messages(1)
        assert (m.content, [a.name for a in m.attachments], m.documents) == ("hi", ["p.png"], [])
        add_user_message(h, 1, "and a document", (), [prepare(b"Some words.", "w.txt")])
        assert [d.name for d in h.messages(1)[1].documents] == ["w.txt"]
    finally:
        h.close()


TOPICS = {
    "Garden": "Tomatoes want full sun, deep watering twice weekly and a stake to climb as they grow tall.",
    "Taxes": "Returns are filed by the last day of April; late filers pay interest on what is still owed.",
    "Bikes": "Oil the chain monthly, keep the tyres firm and check that the brake pads are not worn thin.",
    "Bread": "Knead the dough ten minutes, let it rise until doubled, then bake it in a hot oven.",
    "Kittens": "Kittens should be fed small portions three or four times daily until they are six months old.",
    "Trains": "The night service leaves the central station at eleven and reaches the coast by dawn.",
    "Music": "Practise scales slowly with a metronome before playing the piece at its full tempo.",
    "Weather": "A falling barometer and a ring around the moon often come before rain and wind.",
}


@pytest.mark.slow
def test_with_an_embedder_a_question_in_other_words_finds_its_passage(starter_home):
    """No word of the question is in the passage: the keyword ranking cannot find it, the starter
    embedding model's ranking, fused with it, puts it first."""
    from app.core.embeddings.engine import Embedder
    from app.core.models.store import ModelStore
    from app.core.settings import Settings

    text = "\n\n".join(f"# {title}\n\n{body}" for title, body in TOPICS.items())
    doc = read_document(text.encode(), "household.md")
    question = "How many meals does a young cat need each day?"
    keywords = context.keyword_ranking(list(TOPICS.values()), question)
    assert keywords and list(TOPICS).index("Kittens") not in keywords, "keywords alone find other sections"
    store = ModelStore(starter_home / "data" / "models", Settings())
    path = store.path_of(store.get("all-minilm-l6-v2"))
    embedder = Embedder(path if path.is_file() else next(path.glob("*.gguf")), "all-minilm-l6-v2", device="cpu")
    try:
        cited = context.build([("household.md", doc)], question, budget=80, embedder=embedder)
    finally:
        embedder.close()
    assert not cited.whole and cited.passages[0].label() == "[1] household.md, Kittens"

"""Pictures in the chat history (#12): stored once, migrated, cleaned up, exported and imported."""

import json
import os
import signal
import sqlite3

import pytest

from app.core.chat.engine import LoadOptions, SamplingParams
from app.core.chat.export import export_conversation, import_conversation
from app.core.chat.history import ChatHistory, HistoryError, default_path
from app.core.chat.pictures import PictureStore, prepare
from app.core.chat.remote import ChatProcessError, RemoteChatEngine
from app.core.chat.session import add_user_message, conversation_messages, run_turn
from app.core.jobs import CancelToken
from tests.vision import MMPROJ, MODEL, gradient_png, red_png


@pytest.fixture
def history():
    h = ChatHistory()
    yield h
    h.close()


def test_a_message_carries_its_pictures_and_the_turn_sends_them(history):
    red, grad = prepare(red_png(), "red.png"), prepare(gradient_png(), "grad.png")
    c = history.create("pictures")
    add_user_message(history, c.id, "Compare them.", [red, grad])
    [m] = history.messages(c.id)
    assert [(a.sha256, a.name, a.width) for a in m.attachments] == [(red.sha256, "red.png", 96),
                                                                   (grad.sha256, "grad.png", 96)]
    [sent] = conversation_messages(history, c.id)
    assert sent.images == (red.data, grad.data)


def test_an_old_history_database_migrates_with_its_messages():
    path = default_path()
    db = sqlite3.connect(path)
    from app.core.chat.history import _v0_to_v1

    _v0_to_v1(db)  # the schema-1 database an earlier Hearth wrote
    db.execute("INSERT INTO conversations (title, created, updated) VALUES ('old', 1, 1)")
    db.execute("INSERT INTO messages (conversation_id, role, content, created) VALUES (1, 'user', 'hello', 1)")
    db.execute("PRAGMA user_version = 1")
    db.commit()
    db.close()
    h = ChatHistory()
    try:
        from app.core.chat.history import ATTACHMENTS_VERSION, MIGRATIONS

        assert h.db.execute("PRAGMA user_version").fetchone()[0] == len(MIGRATIONS) >= ATTACHMENTS_VERSION
        [m] = h.messages(1)
        assert (m.content, m.attachments) == ("hello", [])
        add_user_message(h, 1, "and a picture", [prepare(red_png(), "red.png")])
        assert len(h.messages(1)[1].attachments) == 1
    finally:
        h.close()


def test_deleting_a_chat_removes_only_pictures_no_other_message_uses(history):
    store = PictureStore()
    shared, own = prepare(red_png(), "red.png"), prepare(gradient_png(), "grad.png")
    a, b = history.create("a"), history.create("b")
    add_user_message(history, a.id, "two", [shared, own])
    add_user_message(history, b.id, "one", [shared])
    history.delete(a.id)
    assert not store.exists(own.sha256) and store.exists(shared.sha256)
    history.delete(b.id)
    assert not store.exists(shared.sha256)


def test_regenerating_past_a_picture_forgets_it(history):
    c = history.create("edit")
    first = add_user_message(history, c.id, "keep", [])
    pic = prepare(red_png())
    add_user_message(history, c.id, "drop", [pic])
    history.truncate_after(c.id, first.id)
    assert not PictureStore().exists(pic.sha256)


def test_export_round_trips_with_the_pictures_beside_the_file(history, tmp_path):
    red, grad = prepare(red_png(), "red [1].png"), prepare(gradient_png(), "grad.png")
    c = history.create("trip")
    add_user_message(history, c.id, "What are these?", [red, grad])
    reply = history.start_reply(c.id)
    history.finish_reply(reply.id, "Two squares.", {"image_tokens": 32})
    out = tmp_path / "out"
    out.mkdir()
    written = export_conversation(history, c.id, out / "trip.json", "json")
    data = json.loads((out / "trip.json").read_text())
    refs = data["messages"][0]["attachments"]
    assert [(r["sha256"], r["name"]) for r in refs] == [(red.sha256, "red [1].png"), (grad.sha256, "grad.png")]
    assert all((out / r["file"]).read_bytes() == p.data for r, p in zip(refs, (red, grad), strict=True))
    assert len(written) == 3
    md_files = export_conversation(history, c.id, out / "trip.md", "md")
    md = (out / "trip.md").read_text()
    assert f"![red 1.png]({refs[0]['file']})" in md and f"![grad.png]({refs[1]['file']})" in md
    assert {p.name for p in md_files[1:]} == {r["file"] for r in refs}

    history.delete(c.id)  # the store forgets both pictures; the export still has them
    assert not PictureStore().exists(red.sha256)
    again = import_conversation(history, out / "trip.json")
    msgs = history.messages(again.id)
    assert [a.sha256 for a in msgs[0].attachments] == [red.sha256, grad.sha256]
    assert msgs[1].content == "Two squares." and msgs[1].stats == {"image_tokens": 32}
    assert PictureStore().read(red.sha256) == red.data
    assert json.loads(history.export_json(again.id))["messages"] == data["messages"]


def test_an_import_whose_picture_was_swapped_is_refused(history, tmp_path):
    c = history.create("swap")
    pic = prepare(red_png(), "red.png")
    add_user_message(history, c.id, "look", [pic])
    export_conversation(history, c.id, tmp_path / "c.json", "json")
    history.delete(c.id)
    name = json.loads((tmp_path / "c.json").read_text())["messages"][0]["attachments"][0]["file"]
    (tmp_path / name).write_bytes(gradient_png())
    with pytest.raises(HistoryError, match="hash differs"):
        import_conversation(history, tmp_path / "c.json")


def test_sigkill_of_the_model_mid_reply_keeps_the_picture_and_the_partial_reply(history):
    engine = RemoteChatEngine(MODEL, LoadOptions(n_ctx=4096, n_threads=1, projector=str(MMPROJ)), "tiny-vision")
    pic = prepare(red_png(), "red.png")
    c = history.create("crash")
    add_user_message(history, c.id, "Tell me everything about it.", [pic])
    seen = []

    def on_text(text):
        seen.append(text)
        if len(seen) == 1:
            os.kill(engine.pid, signal.SIGKILL)

    try:
        with pytest.raises(ChatProcessError, match="stopped unexpectedly"):
            run_turn(engine, history, c.id, SamplingParams(temperature=1.0, max_tokens=3000, seed=3),
                     CancelToken(), on_text=on_text)
    finally:
        engine.close()
    user, reply = history.messages(c.id)
    assert user.attachments[0].sha256 == pic.sha256 and PictureStore().read(pic.sha256) == pic.data
    assert reply.incomplete and reply.content and reply.content == seen[-1]


def test_a_history_without_fts5_says_it_cannot_hold_pictures(monkeypatch):
    from app.core.chat import search_index

    monkeypatch.setattr(search_index, "trigram_fts5", lambda: False)  # an SQLite built without it
    h = ChatHistory()
    try:
        c = h.create("plain")
        h.add_message(c.id, "user", "words still work")
        pic = prepare(red_png())
        with pytest.raises(HistoryError, match="cannot be saved"):
            add_user_message(h, c.id, "a picture", [pic])
        assert not PictureStore().exists(pic.sha256)  # no file left behind for a message not saved
        assert [m.content for m in h.messages(c.id)] == ["words still work"]
        h.delete(c.id)
    finally:
        h.close()

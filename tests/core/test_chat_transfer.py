"""Chats to files and back (#23): `chats list|export|import`, pictures included; exports never half-written;
an import is hostile input, checked in full before anything is stored."""

import json
import os
import resource
import signal
import subprocess
import sys

import pytest

from app.core.chat.export import export_conversation, import_conversation
from app.core.chat.history import ChatHistory, HistoryError
from app.core.chat.pictures import PictureStore, prepare
from app.core.chat.session import add_user_message
from tests.conftest import ROOT, run_app
from tests.vision import gradient_png, red_png


@pytest.fixture
def history():
    h = ChatHistory()
    yield h
    h.close()


def _trip(history, content="What are these?"):
    red, grad = prepare(red_png(), "red.png"), prepare(gradient_png(), "grad.png")
    c = history.create("trip", "Be brief.")
    add_user_message(history, c.id, content, [red, grad])
    reply = history.start_reply(c.id)
    history.finish_reply(reply.id, "Two squares.", {"image_tokens": 32, "model": "tiny"})
    return c, (red, grad)


def _messages(history, cid):
    return [(m.role, m.content, m.incomplete, m.stats, [(a.sha256, a.name) for a in m.attachments])
            for m in history.messages(cid)]


@pytest.mark.slow
def test_cli_export_then_import_into_a_fresh_home_keeps_messages_and_picture_bytes(history, tmp_path, monkeypatch):
    c, pics = _trip(history)
    before = _messages(history, c.id)
    history.close()
    listed = run_app("chats", "list", "--json")
    assert listed.returncode == 0, listed.stderr
    assert [(r["id"], r["title"], r["messages"]) for r in json.loads(listed.stdout)] == [(c.id, "trip", 2)]
    out = tmp_path / "out"
    for name in ("chat.json", "chat.md"):
        done = run_app("chats", "export", str(c.id), str(out / name))
        assert done.returncode == 0, done.stderr
        assert "2 pictures" in done.stdout
    assert "![red.png](picture-" in (out / "chat.md").read_text()
    assert json.loads((out / "chat.json").read_text())["format"] == "hearth-conversation/1"

    fresh = tmp_path / "fresh-home"
    fresh.mkdir()
    result = run_app("chats", "import", str(out / "chat.json"), env={"HEARTH_HOME": str(fresh)})
    assert result.returncode == 0, result.stderr
    new_id = int(result.stdout.strip())
    monkeypatch.setenv("HEARTH_HOME", str(fresh))
    again = ChatHistory()
    try:
        assert _messages(again, new_id) == before
        assert again.conversation(new_id).system_prompt == "Be brief."
        assert [PictureStore().read(p.sha256) for p in pics] == [p.data for p in pics]
    finally:
        again.close()


def test_cli_errors_are_words_and_exit_1(history, tmp_path):
    c, _ = _trip(history)
    history.close()
    for args, words in ((("chats", "export", str(c.id), str(tmp_path / "chat.txt")), ".md (Markdown) or .json"),
                        (("chats", "export", "999", str(tmp_path / "x.md")), "no conversation 999"),
                        (("chats", "import", str(tmp_path / "missing.json")), "cannot read missing.json")):
        result = run_app(*args)
        assert result.returncode == 1 and words in result.stderr, result.stderr
        assert "Traceback" not in result.stderr


def test_an_export_that_fails_midway_leaves_nothing_behind(history, tmp_path):
    c, _ = _trip(history)
    out = tmp_path / "out"
    (out / "chat.json").mkdir(parents=True)  # the export's own name is taken by a folder: its last write fails
    with pytest.raises(HistoryError, match="could not write chat.json"):
        export_conversation(history, c.id, out / "chat.json", "json")
    assert [p.name for p in out.iterdir()] == ["chat.json"], "the pictures it wrote first were removed"


def test_a_full_disk_during_a_cli_export_leaves_nothing_half_written(history, tmp_path):
    c, _ = _trip(history, "long " * 40000)  # the .json outgrows the file-size limit; the pictures do not
    history.close()
    out = tmp_path / "out"
    out.mkdir()

    def small_files():  # the kernel refuses writes past 64 KB (EFBIG), as a full disk would refuse them
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
        resource.setrlimit(resource.RLIMIT_FSIZE, (65536, 65536))

    result = subprocess.run([sys.executable, "-m", "app", "chats", "export", str(c.id), str(out / "chat.json")],
                            cwd=ROOT, env=dict(os.environ), capture_output=True, text=True, timeout=120,
                            preexec_fn=small_files)
    assert result.returncode == 1, result.stderr
    assert "could not write chat.json" in result.stderr and "Traceback" not in result.stderr
    assert list(out.iterdir()) == [], "no picture, no half .json, no temp file"


# --- hostile imports --------------------------------------------------------------------------------------
HOSTILE = {
    "a list": "[]",
    "deep nesting": "[" * 100000 + "]" * 100000,
    "messages not a list": '{"format": "hearth-conversation/1", "messages": {"role": "user"}}',
    "a message not an object": '{"format": "hearth-conversation/1", "messages": [1]}',
    "no content": '{"format": "hearth-conversation/1", "messages": [{"role": "user"}]}',
    "content not text": '{"format": "hearth-conversation/1", "messages": [{"role": "user", "content": 5}]}',
    "an unknown role, after a good message": '{"format": "hearth-conversation/1", "messages": ['
    '{"role": "user", "content": "hi"}, {"role": "tool", "content": "x"}]}',
    "title not text": '{"format": "hearth-conversation/1", "title": {"a": 1}, "messages": []}',
    "attachments not a list": '{"format": "hearth-conversation/1", "messages": '
    '[{"role": "user", "content": "x", "attachments": "picture.png"}]}',
}


@pytest.mark.parametrize("case", HOSTILE)
def test_a_malformed_export_is_refused_in_words_and_stores_nothing(history, case):
    with pytest.raises(HistoryError):
        history.import_json(HOSTILE[case])
    assert history.conversations() == [], "no half-imported chat"


def test_settings_and_statistics_keep_only_known_fields_of_the_right_type(history):
    doc = {"format": "hearth-conversation/1", "title": "odd", "params": {"temperature": "hot", "top_k": 5,
                                                                          "seed": 1.5, "evil": "x"},
           "messages": [{"role": "assistant", "content": "a", "stats": {"tokens_per_second": "fast",
                                                                         "completion_tokens": 3, "x": 1}}]}
    c = history.import_json(json.dumps(doc))
    assert c.params == {"top_k": 5}, "the settings panel shows these: a text temperature would break it"
    assert history.messages(c.id)[0].stats == {"completion_tokens": 3}


def test_a_picture_that_links_out_of_the_export_folder_is_refused(history, tmp_path):
    c, (red, _) = _trip(history)
    out = tmp_path / "out"
    out.mkdir()
    export_conversation(history, c.id, out / "chat.json", "json")
    history.delete(c.id)
    name = json.loads((out / "chat.json").read_text())["messages"][0]["attachments"][0]["file"]
    elsewhere = tmp_path / "elsewhere.png"
    elsewhere.write_bytes(red.data)  # the right bytes, but not the export's own file
    (out / name).unlink()
    (out / name).symlink_to(elsewhere)
    with pytest.raises(HistoryError, match="not inside the export's folder"):
        import_conversation(history, out / "chat.json")
    assert history.conversations() == []


def test_an_import_that_fails_at_its_second_picture_keeps_neither_picture_nor_chat(history, tmp_path):
    c, (red, grad) = _trip(history)
    out = tmp_path / "out"
    out.mkdir()
    export_conversation(history, c.id, out / "chat.json", "json")
    history.delete(c.id)
    assert not PictureStore().exists(red.sha256)
    files = {a["sha256"]: a["file"] for a in json.loads((out / "chat.json").read_text())["messages"][0]["attachments"]}
    second = max(files)  # pictures are stored in hash order: the first one is stored before this one fails
    (out / files[second]).unlink()
    with pytest.raises(HistoryError, match="not beside the export"):
        import_conversation(history, out / "chat.json")
    assert history.conversations() == []
    assert not PictureStore().exists(min(files)), "the picture it stored first was removed again"


def test_an_oversized_export_is_refused_before_it_is_read(history, tmp_path):
    big = tmp_path / "big.json"
    with open(big, "wb") as fh:
        fh.truncate(65 * 1024 * 1024)  # sparse: no disk used
    with pytest.raises(HistoryError, match="too large"):
        import_conversation(history, big)


def test_numbers_too_large_for_any_reader_are_not_a_raw_overflow(history):
    """From the review: math.isfinite(10**400) raises OverflowError, which reached the user raw."""
    huge = "1" + "0" * 400
    doc = ('{"format": "hearth-conversation/1", "params": {"seed": ' + huge + '}, "messages": '
           '[{"role": "user", "content": "hi", "created": ' + huge + '}]}')
    try:
        c = history.import_json(doc)
    except HistoryError:
        assert history.conversations() == []
    else:
        assert [m.content for m in history.messages(c.id)] == ["hi"] and "seed" not in c.params

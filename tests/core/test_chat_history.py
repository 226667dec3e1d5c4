import json
import os
import signal
import sqlite3
import subprocess
import sys

import pytest

from app.core.chat.history import ChatHistory, HistoryError
from tests.conftest import ROOT
from tests.helpers import wait_until

STREAMER = """
import sys
from app.core.chat.engine import LoadOptions, SamplingParams, load_chat_model
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
    assert h.db.execute("PRAGMA user_version").fetchone()[0] == 1


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

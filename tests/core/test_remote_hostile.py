"""The remote chat client against a hostile server on loopback (#22): endless events, a body that
ends at close and drips, replies past max_tokens, replies of the wrong shape, escape sequences."""

from __future__ import annotations

import json
import re
import threading
import time

import pytest

from app.core.chat.events import TextDelta
from tests.conftest import run_app
from tests.helpers import HostileServer, wait_until

SSE_HEAD = b"HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nConnection: close\r\n\r\n"  # ends at close
DONE = b"data: [DONE]\n\n"
EVIL = "\x1b[2J\x1b]0;pwned\x07\x9b31m"  # clear the screen, set the title, C1 CSI


def event(obj) -> bytes:
    return b"data: " + json.dumps(obj).encode() + b"\n\n"


def piece(text: str, finish: str | None = None) -> bytes:
    return event({"choices": [{"index": 0, "delta": {"content": text}, "finish_reason": finish}]})


def engine_for(srv: HostileServer, name: str = "hostile"):
    from app.core.chat.openai_remote import OpenAIChatEngine
    from app.core.chat.servers import ServerList

    return OpenAIChatEngine(ServerList().add(name, srv.url), "m")


def ask():
    from app.core.chat.templates import Message

    return [Message("user", "hi")]


def params(max_tokens: int = 64):
    from app.core.chat.engine import SamplingParams

    return SamplingParams(max_tokens=max_tokens)


def test_data_lines_without_a_blank_line_end_the_reply_at_a_bound():
    """Item 3: the event never ends; it used to grow until memory ran out."""
    from app.core.chat.openai_remote import RemoteError

    lines = (b"data: " + b"x" * 1000 + b"\n") * 64

    def answer(srv, conn, path):
        if not srv.send(conn, SSE_HEAD + piece("Hello")):
            return
        while srv.sent < 64 << 20 and not srv.stop.is_set():
            if not srv.send(conn, lines):
                return

    with HostileServer(answer) as srv:
        got = []
        with pytest.raises(RemoteError, match=r"an event longer than 1 MB.*partial reply is kept"):
            for item in engine_for(srv).stream(ask(), params()):
                got.append(item)
        assert got == [TextDelta("Hello")]
        assert srv.answered.wait(30)
        assert srv.sent < 32 << 20, "the client stopped reading at the bound, not at the server's 64 MB"


def test_stop_ends_a_reply_whose_body_ends_at_close_while_the_server_drips():
    """Item 5: no length, not chunked: http.client let go of the socket, so Stop could not shut it,
    and a byte every half second never let the read time out."""
    from app.core.chat.events import ChatStats
    from app.core.jobs import CancelToken

    def answer(srv, conn, path):
        if not srv.send(conn, b"HTTP/1.0 200 OK\r\nContent-Type: text/event-stream\r\n\r\n" + piece("Hi")):
            return
        while not srv.stop.wait(0.5):
            if not srv.send(conn, b":"):  # a comment line that never ends
                return

    with HostileServer(answer) as srv:
        engine, cancel = engine_for(srv), CancelToken()
        got, errors, first, ended = [], [], threading.Event(), threading.Event()

        def consume():
            try:
                for item in engine.stream(ask(), params(), cancel):
                    got.append(item)
                    first.set()
            except Exception as exc:  # noqa: BLE001 - reported below
                errors.append(exc)
            ended.set()

        threading.Thread(target=consume, daemon=True).start()
        assert first.wait(30), "the first piece did not arrive"
        sent = srv.sent
        wait_until(lambda: srv.sent >= sent + 2, 30, "the server to drip")  # the reader waits mid-line by now
        asked = time.monotonic()
        cancel.cancel()
        assert ended.wait(5), "Stop did not end the reply while the server dripped"
        assert time.monotonic() - asked < 5
    assert not errors, errors
    assert got[0] == TextDelta("Hi") and isinstance(got[-1], ChatStats) and got[-1].stop_reason == "cancelled"


def _words(count: int, text: str = "word "):
    def answer(srv, conn, path):
        if not srv.send(conn, SSE_HEAD):
            return
        for _ in range(count):
            if srv.stop.is_set() or not srv.send(conn, piece(text)):
                return
        srv.send(conn, DONE)

    return answer


def test_a_server_that_ignores_max_tokens_is_cut_at_the_limit(tmp_path):
    """Item 6: 5000 pieces for max_tokens=16 were all taken and stored."""
    from app.core.chat.history import ChatHistory
    from app.core.chat.openai_remote import RemoteError
    from app.core.chat.session import run_turn
    from app.core.jobs import CancelToken

    with HostileServer(_words(5000)) as srv:
        history = ChatHistory(tmp_path / "chat.sqlite3")
        conv = history.create("overrun")
        history.add_message(conv.id, "user", "hi")
        with pytest.raises(RemoteError, match="past the 16-token limit.*cut there"):
            run_turn(engine_for(srv), history, conv.id, params(16), CancelToken())
    stored = history.messages(conv.id)[-1]
    assert stored.role == "assistant" and stored.incomplete and stored.content == "word " * 16


def test_long_pieces_count_against_max_tokens_by_their_length():
    """A server that packs a novel into each piece is cut by characters too (64 a token at most)."""
    from app.core.chat.openai_remote import CHARS_PER_TOKEN, RemoteError

    got = []
    with HostileServer(_words(50, "z" * 10_000)) as srv, pytest.raises(RemoteError, match="16-token limit"):
        for item in engine_for(srv).stream(ask(), params(16)):
            got.append(item)
    assert sum(len(i.text) for i in got) == 16 * CHARS_PER_TOKEN


def test_the_cli_prints_at_most_one_reply_of_a_server_that_never_stops():
    """Item 6: the CLI printed 598 MB; whatever max_tokens says, one reply holds at most MAX_REPLY_CHARS."""
    from app.core.chat.openai_remote import MAX_REPLY_CHARS
    from app.core.chat.servers import ServerList

    big = piece("y" * 65536)

    def answer(srv, conn, path):
        if not srv.send(conn, SSE_HEAD):
            return
        while srv.sent < 24 << 20 and not srv.stop.is_set():
            if not srv.send(conn, big):
                return
        srv.send(conn, DONE)

    with HostileServer(answer) as srv:
        ServerList().add("hostile", srv.url)
        result = run_app("chat", "--model", "hostile/m", "--max-tokens", "1000000", "hi")
    assert result.returncode == 1, result.stderr
    assert result.stdout.strip() == "y" * MAX_REPLY_CHARS
    assert "4 million characters" in result.stderr and "cut there" in result.stderr
    assert "Traceback" not in result.stderr


BAD_SHAPES = [
    {"usage": "x"},
    {"usage": {"prompt_tokens": "many"}},
    {"usage": {"prompt_tokens": float("inf"), "completion_tokens": -3}},
    {"usage": {"completion_tokens": [1]}},
    {"choices": {}},
    {"choices": [1]},
    {"choices": 5},
    {"choices": True},
    {"choices": [{"delta": []}]},
    {"choices": [{"delta": {"content": 7}}]},
    {"choices": [{"delta": "x", "finish_reason": ["stop"]}]},
    [1, 2],
]


@pytest.mark.parametrize("bad", BAD_SHAPES, ids=[json.dumps(b) for b in BAD_SHAPES])
def test_usage_and_choices_of_the_wrong_shape_are_ignored(bad):
    """Item 15: these ended the reply with a TypeError's or ValueError's own text."""
    from app.core.chat.events import ChatStats

    def answer(srv, conn, path):
        srv.send(conn, SSE_HEAD + event(bad) + piece("ok", "stop") + DONE)

    with HostileServer(answer) as srv:
        items = list(engine_for(srv).stream(ask(), params()))
    stats = items[-1]
    assert items[:-1] == [TextDelta("ok")] and isinstance(stats, ChatStats) and stats.stop_reason == "eos"
    assert isinstance(stats.prompt_tokens, int) and 0 <= stats.prompt_tokens < 2**31
    assert stats.completion_tokens == 1


def _models(ids):
    body = json.dumps({"object": "list", "data": [{"id": i, "object": "model"} for i in ids]}).encode()

    def answer(srv, conn, path):
        srv.send(conn, b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nConnection: close\r\n"
                       b"Content-Length: %d\r\n\r\n" % len(body) + body)

    return answer


def _clean(text: str) -> bool:
    return not re.search("[\x00-\x08\x0b-\x1f\x7f-\x9f]", text)


def test_servers_add_and_models_print_no_escapes_and_a_capped_list():
    """Item 16: model ids went to the terminal raw (clear screen, title), all 100,000 of them."""
    ids = ["evil" + EVIL, "good"] + [f"m{i}" for i in range(100_000)]
    with HostileServer(_models(ids)) as srv:
        added = run_app("servers", "add", "evil", srv.url)
        listed = run_app("servers", "models", "evil")
    for result in (added, listed):
        assert result.returncode == 0, result.stderr
        assert _clean(result.stdout) and _clean(result.stderr)
        assert "evil/good" in result.stdout
        more = re.search(r"and ([\d,]+) more", result.stdout)
        assert more, result.stdout[-300:]
        shown = [line for line in result.stdout.splitlines() if "evil/" in line]
        assert len(shown) + int(more.group(1).replace(",", "")) == 100_001  # the escaped id is not a usable id
    assert len(added.stdout.splitlines()) < 40 and len(listed.stdout.splitlines()) < 520


def test_a_server_s_error_body_and_reply_reach_the_terminal_without_escapes():
    """Item 16: the chat CLI printed the server's error body, and its reply, raw."""
    from app.core.chat.servers import ServerList

    body = f"boom {EVIL}".encode()

    def failing(srv, conn, path):
        srv.send(conn, b"HTTP/1.1 500 Oops\r\nContent-Length: %d\r\nConnection: close\r\n\r\n" % len(body) + body)

    def escaping(srv, conn, path):
        srv.send(conn, SSE_HEAD + piece(f"hello {EVIL}\nsecond line", "stop") + DONE)

    with HostileServer(failing) as bad, HostileServer(escaping) as rude:
        ServerList().add("bad", bad.url)
        ServerList().add("rude", rude.url)
        models = run_app("servers", "models", "bad")
        chat = run_app("chat", "--model", "bad/m", "hi")
        reply = run_app("chat", "--model", "rude/m", "hi")
    for result in (models, chat):
        assert result.returncode == 1 and "boom" in result.stderr and "HTTP 500" in result.stderr
        assert _clean(result.stderr) and "Traceback" not in result.stderr
    assert reply.returncode == 0, reply.stderr
    assert _clean(reply.stdout) and "hello \\x1b[2J" in reply.stdout and "\nsecond line" in reply.stdout

"""Remote chat engines against real OpenAI-compatible servers on loopback: llama-cpp-python's own
(`python -m llama_cpp.server`, a server nobody here wrote) and Hearth's `serve` in its own process."""

from __future__ import annotations

import http.server
import json
import os
import queue
import socket
import subprocess
import sys
import threading
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.conftest import ROOT, run_app

KEY = "test-key-7f3a"


@dataclass
class Served:
    kind: str
    proc: subprocess.Popen
    base_url: str
    model: str
    key: str = ""

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
        self.proc.wait(30)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _wait_for_line(proc: subprocess.Popen, needle: str, timeout: float = 180) -> None:
    """Reads the server's stderr until it says it listens (then keeps draining it)."""
    found: queue.Queue = queue.Queue()

    def read() -> None:
        for line in proc.stderr:
            if needle in line:
                found.put(True)
        found.put(False)

    threading.Thread(target=read, daemon=True).start()
    try:
        ok = found.get(timeout=timeout)
    except queue.Empty:
        ok = False
    if not ok:
        proc.kill()
        pytest.fail(f"the server did not start (waited for {needle!r})")


def start_llama_cpp(gemma_path: Path) -> Served:
    port = _free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "llama_cpp.server", "--model", str(gemma_path), "--model_alias", "gemma",
         "--chat_format", "gemma", "--n_ctx", "1024", "--host", "127.0.0.1", "--port", str(port)],
        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    _wait_for_line(proc, "Uvicorn running on")
    return Served("llama.cpp", proc, f"http://127.0.0.1:{port}/v1", "gemma")


def start_hearth(home: Path) -> Served:
    port = _free_port()
    env = dict(os.environ, HEARTH_HOME=str(home), HEARTH_API_KEY=KEY)
    proc = subprocess.Popen([sys.executable, "-m", "app", "serve", "--port", str(port), "--ctx", "1024"],
                            cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    _wait_for_line(proc, "Hearth serves on")
    return Served("hearth", proc, f"http://127.0.0.1:{port}/v1", "gemma-3-270m-q4_k_m", KEY)


@pytest.fixture(scope="module")
def hearth_home_with_models(starter_home, tmp_path_factory) -> Path:
    """A Hearth home whose store lists the starter models where they lie."""
    from app.core.models.store import ModelStore
    from app.core.settings import Settings

    home = tmp_path_factory.mktemp("serving-home")
    source = ModelStore(starter_home / "data" / "models", Settings())  # module scope: before HEARTH_HOME is set
    target = ModelStore(home / "data" / "models", Settings())
    entries = {}
    for entry in source.list():
        entry.path = str(source.path_of(entry))
        entries[entry.id] = entry
    target._write(entries)
    return home


@pytest.fixture(scope="module", params=["llama.cpp", "hearth"])
def remote(request, gemma_path, hearth_home_with_models):
    served = start_llama_cpp(gemma_path) if request.param == "llama.cpp" else start_hearth(hearth_home_with_models)
    yield served
    served.stop()


def add(served: Served, name: str = "box", key: str | None = None):
    from app.core.chat.servers import ServerList

    return ServerList().add(name, served.base_url, served.key if key is None else key)


def ask(text: str):
    from app.core.chat.templates import Message

    return [Message("user", text)]


@pytest.mark.slow
def test_a_remote_model_streams_and_the_reply_records_who_answered(remote, tmp_path):
    from app.core.chat.engine import SamplingParams
    from app.core.chat.history import ChatHistory
    from app.core.chat.openai_remote import list_models, open_remote_engine
    from app.core.chat.session import run_turn
    from app.core.jobs import CancelToken

    server = add(remote)
    assert remote.model in list_models(server)
    engine = open_remote_engine(f"box/{remote.model}")
    assert engine.model_id == f"box/{remote.model}"
    history = ChatHistory(tmp_path / "chat.sqlite3")
    conv = history.create("remote")
    history.add_message(conv.id, "user", "Name three colours.")
    seen = []
    result = run_turn(engine, history, conv.id, SamplingParams(max_tokens=12, temperature=0, seed=1),
                      CancelToken(), on_text=seen.append)
    assert result.text.strip() and len(seen) >= 2 and seen[-1] == result.text
    stored = history.messages(conv.id)[-1]
    assert stored.content == result.text and not stored.incomplete
    assert stored.stats["engine"] == "openai-compatible" and stored.stats["server"] == "box"
    assert stored.stats["model"] == f"box/{remote.model}"
    assert 0 < stored.stats["completion_tokens"] <= 12 and stored.stats["stop_reason"] in ("length", "eos")


@pytest.mark.slow
def test_stop_ends_a_remote_reply_and_the_server_answers_the_next(remote):
    from app.core.chat.engine import SamplingParams
    from app.core.chat.events import ChatStats, TextDelta
    from app.core.chat.openai_remote import OpenAIChatEngine
    from app.core.jobs import CancelToken

    engine = OpenAIChatEngine(add(remote), remote.model)
    cancel = CancelToken()
    items = []
    for item in engine.stream(ask("Count from one to one thousand: 1, 2, 3, 4,"),
                              SamplingParams(max_tokens=900, temperature=0), cancel):
        items.append(item)
        if isinstance(item, TextDelta):
            cancel.cancel()
    stats = items[-1]
    assert isinstance(stats, ChatStats) and stats.stop_reason == "cancelled"
    assert sum(isinstance(i, TextDelta) for i in items) < 50
    again = list(engine.stream(ask("Hello"), SamplingParams(max_tokens=4, temperature=0)))
    assert again[-1].stop_reason in ("length", "eos")


@pytest.mark.slow
def test_a_server_killed_mid_reply_keeps_the_partial_reply(request, gemma_path, hearth_home_with_models, tmp_path):
    from app.core.chat.engine import SamplingParams
    from app.core.chat.history import ChatHistory
    from app.core.chat.openai_remote import OpenAIChatEngine, RemoteError
    from app.core.chat.session import run_turn
    from app.core.jobs import CancelToken

    for start in (lambda: start_llama_cpp(gemma_path), lambda: start_hearth(hearth_home_with_models)):
        served = start()
        request.addfinalizer(served.stop)
        engine = OpenAIChatEngine(add(served, served.kind.replace(".", "-")), served.model)
        history = ChatHistory(tmp_path / f"{served.kind}.sqlite3")
        conv = history.create("killed")
        history.add_message(conv.id, "user", "Count from one to one thousand: 1, 2, 3, 4,")

        def kill_on_first_text(text, proc=served.proc):
            if text and proc.poll() is None:
                proc.kill()
                proc.wait(30)

        with pytest.raises(RemoteError, match="mid-reply") as caught:
            run_turn(engine, history, conv.id, SamplingParams(max_tokens=900, temperature=0), CancelToken(),
                     on_text=kill_on_first_text)
        assert "partial reply is kept" in str(caught.value)
        stored = history.messages(conv.id)[-1]
        assert stored.role == "assistant" and stored.incomplete and stored.content.strip(), served.kind


@pytest.mark.slow
def test_clear_messages_for_a_server_down_a_wrong_key_and_an_unknown_model(hearth_home_with_models):
    from app.core.chat.engine import SamplingParams
    from app.core.chat.openai_remote import OpenAIChatEngine, RemoteError

    down = OpenAIChatEngine(add(Served("x", None, f"http://127.0.0.1:{_free_port()}/v1", "m"), "down"), "m")
    with pytest.raises(RemoteError, match="cannot be reached.*connection refused"):
        list(down.stream(ask("hi"), SamplingParams(max_tokens=2)))
    served = start_hearth(hearth_home_with_models)
    try:
        wrong = OpenAIChatEngine(add(served, "wrong", key="not-the-key"), served.model)
        with pytest.raises(RemoteError, match="refused the API key"):
            list(wrong.stream(ask("hi"), SamplingParams(max_tokens=2)))
        unknown = OpenAIChatEngine(add(served, "right"), "no-such-model")
        with pytest.raises(RemoteError, match="has no model 'no-such-model'"):
            list(unknown.stream(ask("hi"), SamplingParams(max_tokens=2)))
        # `servers add` checks the server by listing its models; `servers list` never prints the key.
        result = run_app("servers", "add", "cli-box", served.base_url, "--api-key-env", "BOX_KEY",
                         env={"BOX_KEY": KEY})
        assert result.returncode == 0 and f"cli-box/{served.model}" in result.stdout, result.stderr
        listed = run_app("servers", "list").stdout
        assert "cli-box" in listed and KEY not in listed
        # The CLI names the same model as SERVER/MODEL.
        result = run_app("chat", "--model", f"right/{served.model}", "Hello", "--max-tokens", "4", "--json",
                         "--temperature", "0")
        assert result.returncode == 0, result.stderr
        stats = json.loads(result.stdout)["stats"]
        assert stats["model"] == f"right/{served.model}" and stats["engine"] == "openai-compatible"
    finally:
        served.stop()


def test_a_server_error_is_named_with_its_status():
    """A 5xx from a server: here a plain local HTTP server that fails every request."""
    from app.core.chat.engine import SamplingParams
    from app.core.chat.openai_remote import OpenAIChatEngine, RemoteError

    class Failing(http.server.BaseHTTPRequestHandler):
        def log_message(self, *args):
            pass

        def do_POST(self):  # noqa: N802
            self.rfile.read(int(self.headers.get("Content-Length", 0)))
            body = json.dumps({"error": {"message": "CUDA out of memory", "type": "server_error"}}).encode()
            self.send_response(503)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Failing)
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    try:
        served = Served("x", None, f"http://127.0.0.1:{httpd.server_address[1]}/v1", "m")
        engine = OpenAIChatEngine(add(served, "failing"), "m")
        with pytest.raises(RemoteError, match=r"failed \(HTTP 503\): CUDA out of memory"):
            list(engine.stream(ask("hi"), SamplingParams(max_tokens=2)))
    finally:
        httpd.shutdown()

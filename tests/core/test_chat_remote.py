"""The chat engine in its own process: same replies, prompt cancel, and a crash that stays there."""

import os
import signal
import threading
import time

import pytest

from app.core.chat.engine import LoadOptions, SamplingParams
from app.core.chat.events import ChatStats, TextDelta, text_of
from app.core.chat.remote import ChatProcessError, RemoteChatEngine
from app.core.chat.templates import Message
from app.core.jobs import CancelToken, InputError, ModelError


@pytest.fixture(scope="module")
def remote(gemma_path):
    engine = RemoteChatEngine(gemma_path, LoadOptions(n_ctx=2048), "gemma-3-270m-q4_k_m")
    yield engine
    engine.close()


@pytest.mark.slow
def test_replies_match_the_in_process_engine(remote, gemma_path):
    from app.core.chat.loading import load_chat_model

    messages = [Message("user", "Name three colours.")]
    params = SamplingParams(temperature=0.0, max_tokens=24, seed=1)
    ours = list(remote.stream(messages, params))
    gemma = load_chat_model(gemma_path, LoadOptions(n_ctx=2048), "gemma-3-270m-q4_k_m")  # fresh, as the remote is
    local = list(gemma.stream(messages, params))
    assert isinstance(ours[-1], ChatStats) and ours[-1].completion_tokens > 0
    assert ours[:-1] and all(isinstance(i, TextDelta) for i in ours[:-1])
    assert text_of(ours) == text_of(local) and text_of(ours).strip()
    assert remote.render(messages) == gemma.render(messages)
    assert remote.tokenize("hello world") == gemma.tokenize("hello world")
    assert remote.format.name == "gemma" and remote.notices == gemma.notices and remote.n_ctx == gemma.n_ctx
    assert remote.pid != os.getpid()
    gemma.close()


@pytest.mark.slow
def test_input_errors_come_back_as_themselves(remote):
    with pytest.raises(InputError, match="empty"):
        list(remote.stream([Message("user", "   ")], SamplingParams()))
    assert isinstance(list(remote.stream([Message("user", "Hi")], SamplingParams(max_tokens=4, seed=2)))[-1], ChatStats)


@pytest.mark.slow
@pytest.mark.parametrize("where", ["gemma", "remote"])  # in this process, and in a process of its own
def test_cancel_stops_a_long_reply_midway(where, request):
    engine = request.getfixturevalue(where)
    cancel = CancelToken()
    params = SamplingParams(temperature=1.0, max_tokens=1500, seed=3)  # far longer than the test runs
    seen, first, asked = [], threading.Event(), threading.Event()

    def consume():
        for item in engine.stream([Message("user", "Write a very long story. " * 40)], params, cancel):
            seen.append(item)
            if isinstance(item, TextDelta) and not first.is_set():
                first.set()
                asked.wait(60)  # the reply is mid-way here until the cancel has been asked for

    t = threading.Thread(target=consume)
    t.start()
    assert first.wait(120), "no token arrived"
    asked_at = time.perf_counter()
    cancel.cancel()
    asked.set()
    t.join(30)
    assert not t.is_alive()
    stats = seen[-1]
    assert isinstance(stats, ChatStats) and stats.stop_reason == "cancelled", stats
    assert 0 < stats.completion_tokens < params.max_tokens
    assert time.perf_counter() - asked_at < 5.0  # generous for a loaded machine; 1500 tokens take far longer


@pytest.mark.slow
def test_letting_go_of_a_stream_early_leaves_the_engine_usable(remote):
    stream = remote.stream([Message("user", "Count to one hundred.")], SamplingParams(max_tokens=400, seed=4))
    next(stream)
    stream.close()
    items = list(remote.stream([Message("user", "Hi")], SamplingParams(max_tokens=4, seed=5)))
    assert isinstance(items[-1], ChatStats)


@pytest.mark.slow
def test_a_crash_in_the_model_process_is_a_message_and_the_next_load_works(gemma_path, caplog):
    engine = RemoteChatEngine(gemma_path, LoadOptions(n_ctx=1024), "gemma")
    got = []
    with caplog.at_level("ERROR"), pytest.raises(ChatProcessError, match="stopped unexpectedly.*signal 9"):
        for item in engine.stream([Message("user", "Tell a long story.")], SamplingParams(max_tokens=2000)):
            if not got:
                os.kill(engine.pid, signal.SIGKILL)  # what a segfault in llama.cpp looks like from here
            got.append(item)
    assert any("stopped unexpectedly" in r.getMessage() for r in caplog.records)
    with pytest.raises(ModelError, match="closed"):
        list(engine.stream([Message("user", "Hi")], SamplingParams(max_tokens=2)))
    engine.close()
    again = RemoteChatEngine(gemma_path, LoadOptions(n_ctx=1024), "gemma")
    items = list(again.stream([Message("user", "Hi")], SamplingParams(max_tokens=4, temperature=0)))
    assert isinstance(items[-1], ChatStats) and items[-1].completion_tokens > 0
    again.close()


def test_a_bad_file_is_refused_with_the_same_message(tmp_path):
    text = tmp_path / "notes.gguf"
    text.write_text("hello")
    with pytest.raises(ModelError, match="not a GGUF"):
        RemoteChatEngine(text)


def _gone(pid: int) -> bool:
    import psutil

    try:
        return psutil.Process(pid).status() == psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return True


@pytest.mark.slow
def test_a_model_process_that_ignores_stop_is_ended_and_started_again(gemma_path, caplog):
    from app.core.chat.remote import STOP_GRACE_MIN_S, ChatRestartedError

    engine = RemoteChatEngine(gemma_path, LoadOptions(n_ctx=1024), "gemma")
    first_pid, cancel, got = engine.pid, CancelToken(), []
    try:
        with caplog.at_level("WARNING"), pytest.raises(ChatRestartedError, match=r"did not stop within \d+ s"):
            for item in engine.stream([Message("user", "Tell a long story.")], SamplingParams(max_tokens=2000), cancel):
                got.append(item)
                if len(got) == 2:
                    os.kill(first_pid, signal.SIGSTOP)  # stuck in a native call, as far as the app can tell
                    asked = time.monotonic()
                    cancel.cancel()
        assert time.monotonic() - asked >= STOP_GRACE_MIN_S  # it was given its grace
        assert _gone(first_pid), "the stuck process is ended"
        assert any("did not stop" in r.getMessage() for r in caplog.records)
        items = list(engine.stream([Message("user", "Hi")], SamplingParams(max_tokens=4, temperature=0)))
        assert isinstance(items[-1], ChatStats) and items[-1].completion_tokens > 0
        assert engine.pid != first_pid
    finally:
        engine.close()
    assert _gone(engine.pid)


@pytest.mark.slow
def test_a_stop_answered_late_on_a_loaded_machine_keeps_the_process(remote):
    """The process is held still for 2 s just as Stop is sent (as a loaded machine may hold it within
    one step): it then stops, and the same process, with its model loaded, serves the next request.
    A 1 s grace ended it, and the next request paid for a reload."""
    pid, cancel, got = remote.pid, CancelToken(), []
    resumed = threading.Event()

    def resume() -> None:
        os.kill(pid, signal.SIGCONT)
        resumed.set()

    timer = threading.Timer(2.0, resume)
    try:
        for item in remote.stream([Message("user", "Tell a long story.")], SamplingParams(max_tokens=2000, seed=6),
                                  cancel):
            got.append(item)
            if len(got) == 2:
                os.kill(pid, signal.SIGSTOP)
                timer.start()
                cancel.cancel()
    finally:
        if timer.ident is not None:
            timer.join(10)
    assert resumed.is_set()
    assert isinstance(got[-1], ChatStats) and got[-1].stop_reason == "cancelled", got[-1]
    items = list(remote.stream([Message("user", "Hi")], SamplingParams(max_tokens=4, seed=7)))
    assert isinstance(items[-1], ChatStats) and items[-1].completion_tokens > 0
    assert remote.pid == pid and not _gone(pid)


@pytest.mark.slow
def test_letting_go_of_a_stuck_stream_ends_the_process_and_the_engine_recovers(gemma_path):
    engine = RemoteChatEngine(gemma_path, LoadOptions(n_ctx=1024), "gemma")
    first_pid = engine.pid
    try:
        stream = engine.stream([Message("user", "Count to one hundred.")], SamplingParams(max_tokens=400, seed=4))
        next(stream)
        os.kill(first_pid, signal.SIGSTOP)
        stream.close()  # returns once the process is ended, not never
        assert _gone(first_pid)
        assert engine.tokenize("hello world") and engine.pid != first_pid
    finally:
        engine.close()


@pytest.mark.slow
def test_stop_during_a_looping_template_is_honoured_in_the_model_process(tmp_path, gemma_path):
    from app.core.chat.templates import TemplateError
    from tests.helpers import gguf_with_template

    loops = "{% for a in range(100000) %}{% for b in range(100000) %}{{ a }}{% endfor %}{% endfor %}"
    engine = RemoteChatEngine(gguf_with_template(gemma_path, tmp_path / "loops.gguf", loops), LoadOptions(n_ctx=1024))
    pid = engine.pid
    try:
        with pytest.raises(TemplateError, match="ran too long"):
            list(engine.stream([Message("user", "hi")], SamplingParams(max_tokens=4)))
        cancel = CancelToken()
        cancel.cancel()  # Stop at once: it reaches the model process while the template renders
        items = list(engine.stream([Message("user", "hi")], SamplingParams(max_tokens=4), cancel))
        assert [i.stop_reason for i in items] == ["cancelled"]
        assert engine.pid == pid, "honoured by the template's own check, no restart needed"
    finally:
        engine.close()


def _cli_chat(*args):
    import subprocess
    import sys

    from tests.conftest import ROOT

    return subprocess.Popen([sys.executable, "-m", "app", "chat", *args], cwd=ROOT,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)


def _model_process(cli):
    import psutil

    kids = [p for p in psutil.Process(cli.pid).children() if "multiprocessing.spawn" in " ".join(p.cmdline())]
    assert len(kids) == 1
    return kids[0]


@pytest.mark.slow
@pytest.mark.parametrize("stuck", [False, True], ids=["streaming", "stuck"])
def test_cli_chat_stops_on_the_first_ctrl_c(gemma_path, stuck):
    cli = _cli_chat("--model", str(gemma_path), "--max-tokens", "2000", "--seed", "3", "Write a very long story.")
    try:
        assert cli.stdout.read(8), "the reply streams"
        model = _model_process(cli)
        if stuck:
            model.suspend()  # SIGSTOP: it cannot answer Stop
        cli.send_signal(signal.SIGINT)
        out, err = cli.communicate(timeout=60)
    finally:
        if cli.poll() is None:
            cli.kill()
            cli.wait()
    assert cli.returncode == 130
    assert b"Traceback" not in err
    assert (b"did not stop" in err) == stuck
    assert _gone(model.pid)


def test_text_crosses_the_pipe_in_batches_and_arrives_whole():
    """Text goes as bare strings (the cheapest to pickle), batched; other events go whole, in order."""
    import multiprocessing

    from app.core.chat.events import ToolStep
    from app.core.chat.remote import _send_batched

    pieces = [TextDelta(f"w{i} ") for i in range(200)]
    step = ToolStep("search", {"query": "sea"}, "3 photos")
    stats = ChatStats(model="m", completion_tokens=201, stop_reason="length")
    here, there = multiprocessing.Pipe()
    _send_batched(there, iter([*pieces[:100], step, *pieces[100:], stats]))
    there.close()
    got = []
    while here.poll(1):
        try:
            got.append(here.recv())
        except EOFError:
            break
    kinds = [kind for kind, _ in got]
    assert set(kinds) == {"text", "item"} and kinds[-1] == "item"
    assert all(isinstance(payload, str) for kind, payload in got if kind == "text")
    items = [payload for _, payload in got]
    assert items[0] == pieces[0].text, "the first piece goes at once"
    at = items.index(step)
    assert "".join(items[:at]) == "".join(p.text for p in pieces[:100]), "text before a step arrives before it"
    assert items[-1] == stats and "".join(items[at + 1:-1]) == "".join(p.text for p in pieces[100:])
    assert len(items) < len(pieces) // 4, "a fast reply is sent a few messages a frame, not one per token"


@pytest.mark.slow
def test_the_model_process_uses_the_apps_hardware_report(gemma_path):
    """The app detects hardware once; a model's own process is handed that report instead of detecting again."""
    import dataclasses

    from app.core import hardware

    real = hardware.detect()
    marked = dataclasses.replace(real, runtimes=[
        dataclasses.replace(r, device="cpu", reason="reason handed over by the app") if r.runtime == "llama.cpp"
        else r for r in real.runtimes])
    hardware.adopt(marked)
    try:
        engine = RemoteChatEngine(gemma_path, LoadOptions(n_ctx=512), "gemma-3-270m-q4_k_m")
        try:
            assert engine.device_reason == "reason handed over by the app" and engine.gpu_layers == 0
        finally:
            engine.close()
    finally:
        hardware.adopt(real)

"""The chat engine in a process of its own, behind ChatEngine's interface.

llama.cpp's native code then runs apart from the window and from torch:
- a model that crashes it (a corrupt file, a driver fault) ends that process, and the
  app says so and carries on, with every conversation intact;
- its CUDA and OpenMP runtimes never share a process with torch's. On an H100 a CUDA
  build of llama-cpp-python crashed (SIGSEGV, "free(): invalid pointer") in any process
  that had imported torch, with no Hearth code involved, and ran clean alone.

Calls go over one pipe and are answered in order. While a reply streams, a reader
thread in the child takes Stop at once, so cancel is as quick as in-process. A process
that has not honoured Stop within stop_grace_s() (stuck in a native call, or anything
else) is ended, and the next call starts it again.
"""

from __future__ import annotations

import logging
import multiprocessing
import os
import queue
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from app.core import hardware
from app.core.chat.engine import ContextLengthError
from app.core.chat.events import StreamEvent, TextDelta
from app.core.chat.protocol import ChatEngineProtocol
from app.core.chat.templates import TemplateError
from app.core.jobs import Cancelled, CancelToken, HearthError, InputError, ModelError

log = logging.getLogger(__name__)
_ERRORS = {"ModelError": ModelError, "InputError": InputError, "Cancelled": Cancelled, "TemplateError": TemplateError,
           "ContextLengthError": ContextLengthError}
# The process gets this long to honour Stop before it is ended (and the model reloaded, which
# costs far more): several seconds, more on a loaded machine, where one prompt step or one token
# can take seconds (1 s ended processes that were about to stop).
STOP_GRACE_MIN_S = 5.0
STOP_GRACE_MAX_S = 60.0
# Text goes to the app at most this often (the first piece at once): one pipe message and
# one wake of the app's threads per token took ~5% of decode speed on 2 cores, where those
# wakes pre-empt llama.cpp's threads. Two frames at 60 Hz still stream smoothly.
BATCH_S = 1 / 30


@dataclass(frozen=True)
class FormatInfo:
    name: str
    stop: tuple[str, ...]
    tool_style: str = ""  # the template's tool-call family (app/core/chat/tool_format.py)


def stop_grace_s() -> float:
    """How long a process may take to honour Stop: the minimum, times how overloaded the CPUs are."""
    try:
        load = os.getloadavg()[0]
    except (OSError, AttributeError):  # not on Windows
        load = 0.0
    cores = os.cpu_count() or 1
    return min(STOP_GRACE_MAX_S, STOP_GRACE_MIN_S * max(1.0, load / cores))


class ChatProcessError(ModelError):
    """The model's process died: the engine is closed; load the model again."""


class ChatRestartedError(ModelError):
    """The model's process did not stop when asked and was ended; the engine starts it again on its next call."""


class RemoteChatEngine:
    # Set from the child's first message (_start).
    model_id: str
    notices: list[str]
    n_ctx: int
    gpu_layers: int
    device_reason: str
    format: FormatInfo
    architecture: str
    pid: int | None

    def __init__(self, path: Path, options=None, model_id: str = ""):
        self._args = (str(path), options, model_id)
        self._lock = threading.Lock()
        self._closed = False
        self._restart = False
        self._start()
        self.path = Path(path)

    def _start(self) -> None:
        ctx = multiprocessing.get_context("spawn")  # fork would copy the GUI's threads and locks
        self._conn, child = ctx.Pipe()
        self._proc = ctx.Process(target=_serve, args=(child, *self._args, hardware.cached()), name="hearth-chat",
                                 daemon=True)
        self._proc.start()
        child.close()  # so a dead child reads as EOF here
        try:
            meta = self._reply()
        except BaseException:  # a load error, or Ctrl+C while loading: the child goes too
            if self._proc.is_alive():
                self._proc.kill()
            self._proc.join(5)
            self._conn.close()
            raise
        self.model_id = meta["model_id"]
        self.notices = meta["notices"]
        self.n_ctx = meta["n_ctx"]
        self.gpu_layers = meta["gpu_layers"]
        self.device_reason = meta["device_reason"]
        self.format = FormatInfo(meta["format"], tuple(meta["stop"]), meta["tool_style"])
        self.architecture = meta["architecture"]
        self.pid = self._proc.pid

    # --- plumbing ------------------------------------------------------------------
    def _died(self) -> ChatProcessError:
        self._proc.join(2)
        code = self._proc.exitcode
        how = f"signal {-code}" if code is not None and code < 0 else f"exit code {code}"
        log.error("the chat model's process (pid %s) stopped unexpectedly: %s", self._proc.pid, how)
        self._closed = True
        return ChatProcessError(f"the chat model stopped unexpectedly ({how}). Hearth and your conversations "
                               "are fine: load the model again, or pick another one")

    def _recv(self):
        try:
            return self._conn.recv()
        except (EOFError, OSError, ConnectionError):
            raise self._died() from None

    def _reply(self):
        kind, payload = self._recv()
        if kind == "error":
            name, message = payload
            raise _ERRORS.get(name, ModelError)(message if name in _ERRORS else f"{name}: {message}")
        return payload

    def _send(self, message) -> None:
        if self._closed:
            raise ModelError("the chat model is closed")
        try:
            self._conn.send(message)
        except (OSError, ConnectionError, ValueError):
            raise self._died() from None

    def _end_process(self, why: str) -> None:
        """Kills a process that no longer answers; the next call starts a fresh one."""
        log.warning("the chat model's process (pid %s) %s: ending it", self._proc.pid, why)
        self._proc.kill()
        self._proc.join(5)
        self._conn.close()
        self._restart = True

    def _ensure_running(self) -> None:
        if self._restart and not self._closed:
            self._restart = False
            try:
                self._start()
            except BaseException:
                self._closed = True
                raise
            log.info("the chat model's process was started again (pid %s)", self.pid)

    def _call(self, method: str, *args):
        with self._lock:
            self._ensure_running()
            self._send((method, args))
            return self._reply()

    # --- ChatEngine's interface ----------------------------------------------------
    def render(self, messages):
        return self._call("render", messages)

    def tokenize(self, text: str) -> list[int]:
        return self._call("tokenize", text)

    def plan(self, messages, max_tokens: int, whole: bool = False, tools: str = ""):
        return self._call("plan", messages, max_tokens, None, whole, tools)

    def stream(self, messages, params, cancel: CancelToken | None = None) -> Iterator[StreamEvent]:
        """The child's events, in order; its text arrives as bare strings (see _send_batched)."""
        cancel = cancel or CancelToken()
        with self._lock:
            self._ensure_running()
            self._send(("stream", (messages, params)))
            told_at, ended, grace = None, False, STOP_GRACE_MIN_S
            try:
                while True:
                    if cancel.cancelled and told_at is None:
                        self._send(("cancel", ()))
                        told_at, grace = time.monotonic(), stop_grace_s()
                    if not self._conn.poll(0.05):
                        if told_at is not None and time.monotonic() - told_at > grace:
                            ended = True
                            self._end_process(f"did not stop within {grace:.0f} s of Stop")
                            raise ChatRestartedError(
                                f"the model did not stop within {grace:.0f} s, so its process was ended; "
                                "it starts again with your next message. Your conversation is kept")
                        continue
                    kind, payload = self._recv()
                    if kind == "text":
                        yield TextDelta(payload)
                    elif kind == "item":
                        yield payload
                    elif kind == "end":
                        ended = True
                        return
                    elif kind == "error":
                        ended = True
                        name, message = payload
                        raise _ERRORS.get(name, ModelError)(message)
            finally:
                if not ended and not self._closed:  # the consumer let go early: stop, then drain
                    self._drain(told_at, grace)

    def _drain(self, told_at: float | None, grace: float) -> None:
        """Stops a reply nobody reads any more and reads to its end, or ends the process."""
        try:
            if told_at is None:
                self._conn.send(("cancel", ()))
                told_at, grace = time.monotonic(), stop_grace_s()
            while True:
                left = told_at + grace - time.monotonic()
                if left <= 0 or not self._conn.poll(left):
                    self._end_process(f"did not stop within {grace:.0f} s of Stop")
                    return
                if self._recv()[0] in ("end", "error"):
                    return
        except (HearthError, OSError, ValueError):
            pass

    def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        if self._restart:  # ended and not started again: nothing left to close
            return
        # A reply left suspended by its consumer still holds the pipe: then the process is ended.
        if self._lock.acquire(timeout=2):
            try:
                self._conn.send(("close", ()))
                self._proc.join(10)
            except (OSError, ConnectionError, ValueError):
                pass
            finally:
                self._lock.release()
        if self._proc.is_alive():
            self._proc.kill()
            self._proc.join(5)
        self._conn.close()


def open_chat_engine(path: Path, options=None, model_id: str = "") -> RemoteChatEngine:
    return RemoteChatEngine(path, options, model_id)


# --- the child ------------------------------------------------------------------------


def _describe(exc: BaseException) -> tuple[str, str]:
    return type(exc).__name__, str(exc)


def _serve(conn, path: str, options, model_id: str, report=None) -> None:
    import signal

    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl+C is the app's to handle; Stop comes over the pipe
    if report is not None:  # nvidia-smi and a cuBLAS load take ~0.5 s: the app has done them once
        hardware.adopt(report)
    from app.core.chat.loading import load_chat_model

    try:
        engine = load_chat_model(Path(path), options, model_id)
    except BaseException as exc:  # noqa: BLE001 - every failure goes back as a message
        conn.send(("error", _describe(exc)))
        return
    conn.send(("ok", {
        "model_id": engine.model_id, "notices": list(engine.notices), "n_ctx": engine.n_ctx,
        "gpu_layers": engine.gpu_layers, "device_reason": engine.device_reason,
        "format": engine.format.name, "stop": list(engine.format.stop), "tool_style": engine.format.tool_style,
        "architecture": engine.info.architecture,
    }))
    contract: ChatEngineProtocol = engine  # where mypy checks that the in-process engines keep the contract
    requests: queue.Queue = queue.Queue()
    # The reply's token, replaced by the reader as each stream request arrives (pipe order
    # keeps a Stop with its own reply), so it is never cleared.
    current: dict[str, CancelToken | None] = {"token": None}

    def reader() -> None:
        while True:
            try:
                message = conn.recv()
            except (EOFError, OSError):  # the app is gone: free the model and leave
                requests.put(("close", ()))
                return
            if message[0] == "cancel":
                token = current["token"]
                if token is not None:
                    token.cancel()
                continue
            if message[0] == "stream":  # made here, so a Stop that follows at once is never lost
                current["token"] = CancelToken()
            requests.put(message)
            if message[0] == "close":
                return

    threading.Thread(target=reader, name="chat-pipe", daemon=True).start()
    while True:
        method, args = requests.get()
        if method == "close":
            engine.close()
            return
        try:
            if method == "stream":
                messages, params = args
                _send_batched(conn, contract.stream(messages, params, current["token"]))
                conn.send(("end", None))
            elif method in ("render", "tokenize", "plan"):
                conn.send(("ok", getattr(engine, method)(*args)))
            else:
                conn.send(("error", ("ModelError", f"unknown call {method}")))
        except (OSError, EOFError):
            engine.close()
            return
        except BaseException as exc:  # noqa: BLE001 - handed to the app
            conn.send(("error", _describe(exc)))


def _send_batched(conn, events: Iterator[StreamEvent]) -> None:
    """Sends a reply's text joined, one ("text", str) message per BATCH_S, and every other event
    (ChatStats, ToolStep) as it comes, after the text before it. Text goes as a bare string: the
    cheapest thing to pickle, wrapped in a TextDelta again on arrival."""
    pending: list[str] = []
    last = float("-inf")  # the first piece goes at once
    for event in events:
        if not isinstance(event, TextDelta):
            if pending:
                conn.send(("text", "".join(pending)))
                pending.clear()
            conn.send(("item", event))
            continue
        pending.append(event.text)
        now = time.monotonic()
        if now - last >= BATCH_S:
            conn.send(("text", "".join(pending)))
            pending.clear()
            last = now
    if pending:
        conn.send(("text", "".join(pending)))

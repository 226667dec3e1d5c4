"""A chat engine on a remote OpenAI-compatible server, behind ChatEngine's interface.

It streams with Server-Sent Events over the standard library's http.client, so
nothing follows a redirect and the key goes only where the server entry says.
Stop shuts the socket from a watcher thread, which ends a blocked read at once.
Errors name what went wrong (server down, key refused, unknown model, a failure
or a disconnect mid-reply); text already received has been yielded by then, so
the caller keeps it and marks the reply incomplete. The server is not trusted to keep
to max_tokens or to any size: each line, event and reply is bounded here (sse.py,
_Budget), and a bound reached ends the reply with a message saying so.
"""

from __future__ import annotations

import http.client
import json
import logging
import socket
import ssl
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any, TypeGuard
from urllib.parse import urlsplit

from app.core.chat import sse
from app.core.chat.engine import SamplingParams
from app.core.chat.events import ChatStats, StreamEvent, TextDelta
from app.core.chat.remote import FormatInfo
from app.core.chat.servers import RemoteServer
from app.core.chat.templates import Message
from app.core.jobs import CancelToken, InputError, ModelError
from app.core.untrusted import printable

log = logging.getLogger(__name__)
ENGINE = "openai-compatible"
CONNECT_TIMEOUT_S = 10.0
READ_TIMEOUT_S = 300.0  # a big model's prompt on a busy server can take minutes
MAX_BODY = 4 << 20
MAX_REPLY_CHARS = 4_000_000  # one reply's text, whatever max_tokens says
CHARS_PER_TOKEN = 64  # generous: no real token is longer, so a reply within max_tokens is never cut


class RemoteError(ModelError):
    pass


@dataclass
class RemoteChatStats(ChatStats):
    engine: str = ENGINE
    server: str = ""


class _Connection:
    """One HTTP exchange with a server; cancel() ends a blocked read from any thread.

    The socket is kept here: http.client lets go of it (conn.sock = None) when a body ends at
    close (no length, not chunked), and Stop must reach it whatever the framing."""

    def __init__(self, server: RemoteServer, timeout: float, read_timeout: float | None = None):
        parts = urlsplit(server.base_url)
        self.server = server
        self.base_path = parts.path
        self.read_timeout = read_timeout or timeout
        cls = http.client.HTTPSConnection if parts.scheme == "https" else http.client.HTTPConnection
        kwargs: dict[str, Any] = {"context": ssl.create_default_context()} if parts.scheme == "https" else {}
        self.conn = cls(parts.hostname or "", parts.port, timeout=timeout, **kwargs)  # servers.py checked the URL
        self.sock: socket.socket | None = None
        self.resp: http.client.HTTPResponse | None = None
        self._lock = threading.Lock()
        self._cancelled = False

    def request(self, method: str, path: str, body: dict | None = None, accept: str = "application/json"):
        url = self.server.base_url + path
        headers = {"Accept": accept, "User-Agent": "Hearth"}
        key = self.server.key_for(url)
        if key:
            headers["Authorization"] = f"Bearer {key}"
        data = None
        if body is not None:
            data = json.dumps(body).encode()
            headers["Content-Type"] = "application/json"
        try:
            self.conn.connect()
            self.conn.sock.settimeout(self.read_timeout)  # the connect timeout is for connecting only
            with self._lock:
                self.sock = self.conn.sock
                if self._cancelled:
                    self._shut()
            self.conn.request(method, self.base_path + path, body=data, headers=headers)
            self.resp = self.conn.getresponse()
            return self.resp
        except (ConnectionRefusedError, socket.gaierror, TimeoutError, OSError, http.client.HTTPException) as exc:
            raise RemoteError(
                f"the server '{self.server.name}' ({self.server.base_url}) cannot be reached: {_reason(exc)}. "
                "Is it running, and is the address right?") from None

    def cancel(self) -> None:
        with self._lock:
            self._cancelled = True
            self._shut()

    def _shut(self) -> None:
        if self.sock is not None:
            try:
                self.sock.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass

    def close(self) -> None:
        if self.resp is not None:
            self.resp.close()
        self.conn.close()
        if self.sock is not None:
            self.sock.close()


def _reason(exc: BaseException) -> str:
    if isinstance(exc, ConnectionRefusedError):
        return "connection refused"
    if isinstance(exc, socket.gaierror):
        return "unknown host"
    if isinstance(exc, TimeoutError):
        return "no answer in time"
    return printable(str(exc) or type(exc).__name__, 200)  # http.client quotes what the server sent


def _error_message(raw: bytes) -> str:
    try:
        data = json.loads(raw)
    except ValueError:
        return printable(raw[:1200].decode("utf-8", "replace").strip(), 300)
    if isinstance(data, dict):
        err = data.get("error", data)
        if isinstance(err, dict):
            err = err.get("message") or err.get("detail") or err
        return printable(str(err), 300)
    return printable(str(data), 300)


def _usable_id(m: object) -> TypeGuard[str]:
    return isinstance(m, str) and 0 < len(m) <= 256 and m.isprintable()  # the rule servers.check_models keeps


def list_models(server: RemoteServer, timeout: float = CONNECT_TIMEOUT_S) -> list[str]:
    """The model ids the server offers (GET /models); ids that are not printable text are left out."""
    c = _Connection(server, timeout)
    try:
        resp = c.request("GET", "/models")
        raw = resp.read(MAX_BODY + 1)
        _raise_for_status(server, resp.status, raw, "")
        try:
            data = json.loads(raw)
        except ValueError:
            raise RemoteError(f"the server '{server.name}' answered /models with something that is not JSON") from None
        items = data.get("data") if isinstance(data, dict) else None
        if not isinstance(items, list):
            raise RemoteError(f"the server '{server.name}' answered /models without a model list")
        # A server that says what kind each model is (another Hearth) offers only its chat models here.
        ids = [m.get("id") for m in items if isinstance(m, dict) and m.get("kind", "chat") == "chat"]
        usable: list[str] = [m for m in ids if _usable_id(m)]
        if len(usable) < len(ids):
            log.warning("server %s: %d model id(s) that are not printable text were left out",
                        server.name, len(ids) - len(usable))
        return usable
    except (OSError, http.client.HTTPException) as exc:
        raise RemoteError(f"the server '{server.name}' broke off its model list ({_reason(exc)})") from None
    finally:
        c.close()


def _raise_for_status(server: RemoteServer, status: int, raw: bytes, model: str) -> None:
    if status < 400:
        return
    detail = _error_message(raw)
    if status in (401, 403):
        raise RemoteError(f"the server '{server.name}' refused the API key (HTTP {status}): "
                          "check the key you gave when you added it")
    if status == 404 or (status == 400 and model and "model" in detail.lower()):
        if model:
            raise RemoteError(f"the server '{server.name}' has no model '{model}' (HTTP {status}: {detail})")
        raise RemoteError(f"the server '{server.name}' does not offer this (HTTP {status}: {detail})")
    if status >= 500:
        raise RemoteError(f"the server '{server.name}' failed (HTTP {status}): {detail}")
    raise RemoteError(f"the server '{server.name}' refused the request (HTTP {status}): {detail}")


def _count(value) -> int:
    """A token count from the server's usage: a whole number in range, else 0 (a bad one is ignored)."""
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0 <= value < 2**31:
        return 0
    return int(value)


class _Budget:
    """What one reply may hold, whatever the server does with max_tokens: at most max_tokens pieces
    (a delta is at least one token), at most CHARS_PER_TOKEN characters a token, at most MAX_REPLY_CHARS."""

    def __init__(self, server: str, max_tokens: int):
        self.server, self.max_tokens = server, max_tokens
        self.chars = min(MAX_REPLY_CHARS, max_tokens * CHARS_PER_TOKEN) if max_tokens > 0 else MAX_REPLY_CHARS
        self.pieces = self.used = 0

    def take(self, piece: str) -> tuple[str, str]:
        """The part of `piece` within the budget, and why the rest was cut ("" when nothing was)."""
        if self.max_tokens > 0 and self.pieces >= self.max_tokens:
            return "", self._why()
        self.pieces += 1
        kept = piece[:self.chars - self.used]
        self.used += len(kept)
        return kept, self._why() if len(kept) < len(piece) else ""

    def _why(self) -> str:
        if self.chars < MAX_REPLY_CHARS:
            return (f"the server '{self.server}' kept sending past the {self.max_tokens}-token limit (max tokens) "
                    "it was asked for; the reply was cut there and is kept")
        return (f"the reply from the server '{self.server}' reached {MAX_REPLY_CHARS // 1_000_000} million "
                "characters, the most Hearth keeps of one reply; it was cut there and is kept")


def _shut_on_cancel(c: _Connection, cancel: CancelToken) -> threading.Event:
    """Watches for Stop from a thread of its own: a read blocked on the socket ends at once. Set the
    returned event when the exchange is over."""
    done = threading.Event()

    def watch() -> None:
        while not done.is_set():
            if cancel.wait(0.05):
                c.cancel()
                return

    threading.Thread(target=watch, name="remote-chat-stop", daemon=True).start()
    return done


def _broke_off(name: str, exc: BaseException) -> RemoteError:
    """What a reply that failed mid-way (not by Stop) raises, in words."""
    if isinstance(exc, RemoteError):
        return exc
    if isinstance(exc, sse.StreamLimit):
        return RemoteError(f"the server '{name}' sent {exc}, more than a reply can be; "
                           "it was ended there and the partial reply is kept")
    return RemoteError(f"the connection to the server '{name}' broke mid-reply "
                       f"({_reason(exc)}); the partial reply is kept")


class _Reply:
    """One streamed reply as it is read: its text within the budget, its stats, whether the server ended it."""

    def __init__(self, server: str, max_tokens: int, stats: RemoteChatStats):
        self.server, self.stats = server, stats
        self.budget = _Budget(server, max_tokens)
        self.first_at: float | None = None
        self.finished = False

    def read(self, resp, cancel: CancelToken) -> Iterator[TextDelta]:
        """The text of each Server-Sent Event until [DONE], the end of the body, or Stop."""
        for event in sse.events(resp):
            if event == "[DONE]":
                self.finished = True
                return
            data = self._parse(event)
            if data is None:
                continue
            usage = data.get("usage")
            if isinstance(usage, dict):
                self.stats.prompt_tokens = _count(usage.get("prompt_tokens"))
                self.stats.completion_tokens = _count(usage.get("completion_tokens"))
            choices = data.get("choices")
            for choice in choices if isinstance(choices, list) else ():
                if isinstance(choice, dict):
                    yield from self._choice(choice)
            if cancel.cancelled:
                return

    def _parse(self, event: str) -> dict | None:
        """An event's JSON object (None: not an object, skipped); a server's error is raised."""
        try:
            data = json.loads(event)
        except ValueError:
            raise RemoteError(f"the server '{self.server}' sent something that is not JSON") from None
        if not isinstance(data, dict):
            return None
        if "error" in data:
            raise RemoteError(f"the server '{self.server}' failed mid-reply: "
                              f"{_error_message(json.dumps(data).encode())}")
        return data

    def _choice(self, choice: dict) -> Iterator[TextDelta]:
        """A choice's new text, cut to the budget (a cut ends the reply), and its finish reason."""
        delta = choice.get("delta")
        piece = delta.get("content") if isinstance(delta, dict) else None
        if isinstance(piece, str) and piece:
            kept, cut = self.budget.take(piece)
            if kept:
                self.first_at = self.first_at or time.perf_counter()
                yield TextDelta(kept)
            if cut:
                log.warning("%s", cut)
                raise RemoteError(cut)
        reason = choice.get("finish_reason")
        if reason and isinstance(reason, str):
            self.stats.stop_reason = {"stop": "eos", "length": "length"}.get(reason, printable(reason, 32))
            self.finished = True

    def finish(self, start: float) -> RemoteChatStats:
        """The stats with their timings, once the reply is over."""
        stats, end = self.stats, time.perf_counter()
        stats.completion_tokens = stats.completion_tokens or self.budget.pieces
        stats.total_s = end - start
        if self.first_at is not None:
            stats.time_to_first_token_s = self.first_at - start
            if stats.completion_tokens > 1 and end > self.first_at:
                stats.tokens_per_second = (stats.completion_tokens - 1) / (end - self.first_at)
        return stats


class OpenAIChatEngine:
    """A model on a server: the same stream(messages, params, cancel) as the local engine."""

    def __init__(self, server: RemoteServer, model: str, read_timeout: float = READ_TIMEOUT_S):
        if not model or len(model) > 256:
            raise InputError("name the server's model: server-name/model-id")
        self.server, self.remote_model = server, model
        self.model_id = f"{server.name}/{model}"
        self.notices: list[str] = []
        self.n_ctx = 0  # unknown: the server keeps its own context
        self.gpu_layers, self.device_reason = 0, f"runs on {server.base_url}"
        self.format = FormatInfo("remote", ())
        self.architecture = ""
        self.path = None
        self.read_timeout = read_timeout

    def stream(self, messages: list[Message], params: SamplingParams,
               cancel: CancelToken | None = None) -> Iterator[StreamEvent]:
        cancel = cancel or CancelToken()
        if not messages or not any(m.content.strip() for m in messages if m.role == "user"):
            raise InputError("the message is empty")
        start = time.perf_counter()
        reply = _Reply(self.server.name, params.max_tokens,
                       RemoteChatStats(model=self.model_id, server=self.server.name, stop_reason="length"))
        c = _Connection(self.server, CONNECT_TIMEOUT_S, self.read_timeout)
        done = _shut_on_cancel(c, cancel)
        try:
            if cancel.cancelled:
                reply.stats.stop_reason = "cancelled"
                yield reply.stats
                return
            resp = c.request("POST", "/chat/completions", self._body(messages, params), accept="text/event-stream")
            if resp.status >= 400:
                _raise_for_status(self.server, resp.status, resp.read(MAX_BODY), self.remote_model)
            yield from reply.read(resp, cancel)
            if cancel.cancelled:
                reply.stats.stop_reason = "cancelled"
            elif not reply.finished:
                raise RemoteError(f"the server '{self.server.name}' closed the connection mid-reply; "
                                  "the partial reply is kept")
        except (sse.StreamLimit, OSError, http.client.HTTPException, RemoteError) as exc:
            if not cancel.cancelled:
                raise _broke_off(self.server.name, exc) from None
            reply.stats.stop_reason = "cancelled"
        finally:
            done.set()
            c.close()
        yield reply.finish(start)

    def _body(self, messages: list[Message], params: SamplingParams) -> dict:
        """The request: OpenAI's chat completion, streamed, with the usage at the end."""
        body: dict = {
            "model": self.remote_model,
            "messages": [{"role": m.role, "content": m.content} for m in messages],
            "stream": True,
            "stream_options": {"include_usage": True},
            "temperature": params.temperature,
            "top_p": params.top_p,
            "max_tokens": params.max_tokens,
        }
        if params.seed is not None:
            body["seed"] = params.seed
        if params.stop:
            body["stop"] = list(params.stop)
        if params.json_schema and not params.or_text:  # the server's own grammar keeps its model to the schema
            body["response_format"] = {"type": "json_schema",
                                       "json_schema": {"name": "reply", "schema": json.loads(params.json_schema)}}
        return body

    def close(self) -> None:
        pass


def open_remote_engine(spec: str) -> OpenAIChatEngine | None:
    """An engine for 'server-name/model-id' when server-name is a server the user added, else None."""
    from app.core.chat.servers import split_remote

    found = split_remote(spec)
    if found is None:
        return None
    server, model = found
    return OpenAIChatEngine(server, model)

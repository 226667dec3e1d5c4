"""A chat engine on a remote OpenAI-compatible server, behind ChatEngine's interface.

It streams with Server-Sent Events over the standard library's http.client, so
nothing follows a redirect and the key goes only where the server entry says.
Stop shuts the socket from a watcher thread, which ends a blocked read at once.
Errors name what went wrong (server down, key refused, unknown model, a failure
or a disconnect mid-reply); text already received has been yielded by then, so
the caller keeps it and marks the reply incomplete.
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
from urllib.parse import urlsplit

from app.core.chat.engine import ChatStats, SamplingParams
from app.core.chat.remote import FormatInfo
from app.core.chat.servers import RemoteServer
from app.core.chat.templates import Message
from app.core.jobs import CancelToken, InputError, ModelError

log = logging.getLogger(__name__)
ENGINE = "openai-compatible"
CONNECT_TIMEOUT_S = 10.0
READ_TIMEOUT_S = 300.0  # a big model's prompt on a busy server can take minutes
MAX_LINE = 1 << 20
MAX_BODY = 4 << 20


class RemoteError(ModelError):
    pass


@dataclass
class RemoteChatStats(ChatStats):
    engine: str = ENGINE
    server: str = ""


class _Connection:
    """One HTTP exchange with a server; cancel() ends a blocked read from any thread."""

    def __init__(self, server: RemoteServer, timeout: float):
        parts = urlsplit(server.base_url)
        self.server = server
        self.base_path = parts.path
        cls = http.client.HTTPSConnection if parts.scheme == "https" else http.client.HTTPConnection
        kwargs = {"context": ssl.create_default_context()} if parts.scheme == "https" else {}
        self.conn = cls(parts.hostname, parts.port, timeout=timeout, **kwargs)

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
            self.conn.request(method, self.base_path + path, body=data, headers=headers)
            return self.conn.getresponse()
        except (ConnectionRefusedError, socket.gaierror, TimeoutError, OSError, http.client.HTTPException) as exc:
            raise RemoteError(
                f"the server '{self.server.name}' ({self.server.base_url}) cannot be reached: {_reason(exc)}. "
                "Is it running, and is the address right?") from None

    def cancel(self) -> None:
        sock = self.conn.sock
        if sock is not None:
            try:
                sock.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass

    def close(self) -> None:
        self.conn.close()


def _reason(exc: BaseException) -> str:
    if isinstance(exc, ConnectionRefusedError):
        return "connection refused"
    if isinstance(exc, socket.gaierror):
        return "unknown host"
    if isinstance(exc, TimeoutError):
        return "no answer in time"
    return str(exc) or type(exc).__name__


def _error_message(raw: bytes) -> str:
    try:
        data = json.loads(raw)
    except ValueError:
        return raw.decode("utf-8", "replace").strip()[:300]
    if isinstance(data, dict):
        err = data.get("error", data)
        if isinstance(err, dict):
            return str(err.get("message") or err.get("detail") or err)[:300]
        return str(err)[:300]
    return str(data)[:300]


def list_models(server: RemoteServer, timeout: float = CONNECT_TIMEOUT_S) -> list[str]:
    """The model ids the server offers (GET /models)."""
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
        return [m["id"][:256] for m in items if isinstance(m, dict) and isinstance(m.get("id"), str)
                and m.get("kind", "chat") == "chat"]
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
               cancel: CancelToken | None = None) -> Iterator[str | ChatStats]:
        cancel = cancel or CancelToken()
        if not messages or not any(m.content.strip() for m in messages if m.role == "user"):
            raise InputError("the message is empty")
        start = time.perf_counter()
        stats = RemoteChatStats(model=self.model_id, server=self.server.name, stop_reason="length")
        body = {
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
        c = _Connection(self.server, CONNECT_TIMEOUT_S)
        done = threading.Event()

        def watch() -> None:
            while not done.is_set():
                if cancel.wait(0.05):
                    c.cancel()
                    return

        threading.Thread(target=watch, name="remote-chat-stop", daemon=True).start()
        first_at = None
        chunks = 0
        finished = False
        try:
            if cancel.cancelled:
                stats.stop_reason = "cancelled"
                yield stats
                return
            resp = c.request("POST", "/chat/completions", body, accept="text/event-stream")
            if resp.status >= 400:
                _raise_for_status(self.server, resp.status, resp.read(MAX_BODY), self.remote_model)
            if c.conn.sock is not None:
                c.conn.sock.settimeout(self.read_timeout)
            for event in _events(resp):
                if event == "[DONE]":
                    finished = True
                    break
                try:
                    data = json.loads(event)
                except ValueError:
                    raise RemoteError(f"the server '{self.server.name}' sent something that is not JSON") from None
                if not isinstance(data, dict):
                    continue
                if "error" in data:
                    raise RemoteError(f"the server '{self.server.name}' failed mid-reply: "
                                      f"{_error_message(json.dumps(data).encode())}")
                usage = data.get("usage")
                if isinstance(usage, dict):
                    stats.prompt_tokens = int(usage.get("prompt_tokens") or 0)
                    stats.completion_tokens = int(usage.get("completion_tokens") or 0)
                for choice in data.get("choices") or []:
                    if not isinstance(choice, dict):
                        continue
                    delta = choice.get("delta") or {}
                    piece = delta.get("content") if isinstance(delta, dict) else None
                    if isinstance(piece, str) and piece:
                        if first_at is None:
                            first_at = time.perf_counter()
                        chunks += 1
                        yield piece
                    reason = choice.get("finish_reason")
                    if reason:
                        stats.stop_reason = {"stop": "eos", "length": "length"}.get(reason, str(reason)[:32])
                        finished = True
                if cancel.cancelled:
                    break
            if cancel.cancelled:
                stats.stop_reason = "cancelled"
            elif not finished:
                raise RemoteError(f"the server '{self.server.name}' closed the connection mid-reply; "
                                  "the partial reply is kept")
        except (OSError, http.client.HTTPException) as exc:
            if not cancel.cancelled:
                raise RemoteError(f"the connection to the server '{self.server.name}' broke mid-reply "
                                  f"({_reason(exc)}); the partial reply is kept") from None
            stats.stop_reason = "cancelled"
        finally:
            done.set()
            c.close()
        end = time.perf_counter()
        stats.completion_tokens = stats.completion_tokens or chunks
        stats.total_s = end - start
        if first_at is not None:
            stats.time_to_first_token_s = first_at - start
            if stats.completion_tokens > 1 and end > first_at:
                stats.tokens_per_second = (stats.completion_tokens - 1) / (end - first_at)
        yield stats

    def close(self) -> None:
        pass


def _events(resp) -> Iterator[str]:
    """The data of each Server-Sent Event (multi-line data joined), until the stream ends."""
    data: list[str] = []
    while True:
        line = resp.readline(MAX_LINE + 1)
        if len(line) > MAX_LINE:
            raise RemoteError("the server sent a line too long to be an event")
        if not line:
            if data:
                yield "\n".join(data)
            return
        text = line.decode("utf-8", "replace").rstrip("\r\n")
        if not text:
            if data:
                yield "\n".join(data)
                data = []
            continue
        if text.startswith(":"):
            continue
        field, _, value = text.partition(":")
        if field == "data":
            data.append(value[1:] if value.startswith(" ") else value)


def open_remote_engine(spec: str) -> OpenAIChatEngine | None:
    """An engine for 'server-name/model-id' when server-name is a server the user added, else None."""
    from app.core.chat.servers import split_remote

    found = split_remote(spec)
    if found is None:
        return None
    server, model = found
    return OpenAIChatEngine(server, model)

"""POST /v1/chat/completions, streamed (SSE) and not, in OpenAI's shapes."""

from __future__ import annotations

import asyncio
import base64
import binascii
import json
import logging
import re
import time
import uuid
from collections.abc import AsyncIterator
from concurrent.futures import Future

from starlette.concurrency import run_in_threadpool
from starlette.responses import JSONResponse

from app.core.chat.engine import SamplingParams
from app.core.chat.events import ChatStats, StreamEvent, TextDelta, ToolStep
from app.core.chat.templates import Message
from app.core.jobs import Cancelled, CancelToken
from app.server.http import ApiError, CancellableStream, from_hearth, picture_budget, read_json, watch_disconnect

log = logging.getLogger(__name__)

ROLES = {"system": "system", "developer": "system", "user": "user", "assistant": "assistant"}
MAX_MESSAGES = 1000
MAX_TOKENS_CAP = 32768
_PICTURE_URI = re.compile(r"^data:image/(png|jpeg|jpg|webp);base64,", re.IGNORECASE)


def _number(data: dict, name: str, lo: float, hi: float):
    value = data.get(name)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not lo <= value <= hi:
        raise ApiError(400, f"'{name}' must be a number from {lo} to {hi}", param=name)
    return value


def _content(content, i: int) -> tuple[str, tuple[bytes, ...]]:
    """The text of a message and the raw bytes of its pictures (decoded later, off the event loop)."""
    if isinstance(content, str):
        return content, ()
    if content is None:
        return "", ()
    if not isinstance(content, list):
        raise ApiError(400, f"messages[{i}].content must be a string or a list of parts", param="messages")
    out: list[str] = []
    images: list[bytes] = []
    for part in content:
        kind = part.get("type") if isinstance(part, dict) else None
        if kind == "text" and isinstance(part.get("text"), str):
            out.append(part["text"])
        elif kind in ("image_url", "input_image"):
            images.append(picture_bytes(part.get("image_url"), f"messages[{i}] picture {len(images) + 1}"))
        else:
            raise ApiError(400, f"messages[{i}] has a content part Hearth cannot read ({kind!r})", param="messages")
    return "".join(out), tuple(images)


def picture_bytes(ref, where: str) -> bytes:
    """A picture given inline as a data URI; Hearth fetches no URL and reads no file for a request."""
    url = ref.get("url") if isinstance(ref, dict) else ref
    if not isinstance(url, str) or not url:
        raise ApiError(400, f"{where}: image_url needs a 'url'", param="messages", code="invalid_image")
    match = _PICTURE_URI.match(url)
    if match is None:
        if re.match(r"^(https?|ftp)://", url, re.IGNORECASE):
            why = "Hearth does not fetch remote URLs; send the picture inline as a data URI"
        elif url[:5].lower() == "data:":
            why = "only PNG, JPEG or WebP pictures as base64 data URIs (data:image/png;base64,...) are taken"
        else:
            why = "Hearth reads no file path or URL for a request; send the picture inline as a data URI"
        raise ApiError(400, f"{where}: {why}", param="messages", code="invalid_image")
    encoded = url[match.end():]
    try:
        return base64.b64decode(encoded, validate=True)
    except (binascii.Error, ValueError):
        raise ApiError(400, f"{where}: the picture's base64 is damaged", param="messages",
                       code="invalid_image") from None


def decode_pictures(messages: list[Message], side: int, budget=None) -> list[Message]:
    """Every picture through the chat pane's decoder (bomb guard, truncated files), shrunk for the projector:
    the model gets the same PNG bytes a picture dropped in the chat pane gives it. The request's budget
    bounds the pixels and seconds spent on all of them, and stops them when the client leaves."""
    from app.core.chat.pictures import prepare

    out = []
    for i, m in enumerate(messages):
        if m.images:
            m = Message(m.role, m.content, tuple(
                prepare(data, f"messages[{i}] picture {k + 1}", side, budget).data
                for k, data in enumerate(m.images)))
        out.append(m)
    return out


def parse_request(data: dict) -> tuple[list[Message], SamplingParams, list[str], dict]:
    messages = data.get("messages")
    if not isinstance(messages, list) or not messages or len(messages) > MAX_MESSAGES:
        raise ApiError(400, "'messages' must be a non-empty list", param="messages")
    out = []
    for i, m in enumerate(messages):
        role = m.get("role") if isinstance(m, dict) else None
        if not isinstance(role, str) or role not in ROLES:
            raise ApiError(400, f"messages[{i}].role must be one of {', '.join(ROLES)}", param="messages")
        text, images = _content(m.get("content"), i)
        if images and m["role"] != "user":
            raise ApiError(400, f"messages[{i}]: only user messages carry pictures", param="messages")
        out.append(Message(ROLES[m["role"]], text, images))
    if data.get("n", 1) != 1:
        raise ApiError(400, "only n=1 is supported", param="n")
    params = SamplingParams()
    t = _number(data, "temperature", 0, 2)
    p = _number(data, "top_p", 0, 1)
    params.temperature = params.temperature if t is None else float(t)
    params.top_p = params.top_p if p is None else float(p)
    limit = data.get("max_completion_tokens", data.get("max_tokens"))
    if limit is not None:
        if isinstance(limit, bool) or not isinstance(limit, int) or not 1 <= limit <= MAX_TOKENS_CAP:
            raise ApiError(400, f"'max_tokens' must be an integer from 1 to {MAX_TOKENS_CAP}", param="max_tokens")
        params.max_tokens = limit
    seed = data.get("seed")
    if seed is not None:
        if isinstance(seed, bool) or not isinstance(seed, int):
            raise ApiError(400, "'seed' must be an integer", param="seed")
        params.seed = seed & 0x7FFFFFFF
    stop = data.get("stop")
    stops: list[str] = [stop] if isinstance(stop, str) else stop if isinstance(stop, list) else []
    if stop is not None and (len(stops) > 4 or not all(isinstance(s, str) and s for s in stops)):
        raise ApiError(400, "'stop' must be a string or a list of up to 4 strings", param="stop")
    options = data.get("stream_options")
    return out, params, stops, options if isinstance(options, dict) else {}


class StopFilter:
    """Cuts the reply at the first stop string, holding back text that may be the start of one."""

    def __init__(self, stops: list[str]):
        self.stops = stops
        self.hold = max((len(s) for s in stops), default=1) - 1
        self.text, self.sent, self.hit = "", 0, False

    def feed(self, piece: str) -> str:
        self.text += piece
        hits = [i for i in (self.text.find(s) for s in self.stops) if i >= 0]
        if hits:
            self.text, self.hit = self.text[: min(hits)], True
            return self.flush()
        safe = len(self.text) - self.hold
        out = self.text[self.sent : safe] if safe > self.sent else ""
        self.sent = max(self.sent, safe)
        return out

    def flush(self) -> str:
        out, self.sent = self.text[self.sent :], len(self.text)
        return out


def _finish_reason(stats: ChatStats | None, stopped: bool) -> str:
    if stopped or stats is None:
        return "stop"
    return "length" if stats.stop_reason == "length" else "stop"


def _usage(stats: ChatStats | None) -> dict:
    p = stats.prompt_tokens if stats else 0
    c = stats.completion_tokens if stats else 0
    return {"prompt_tokens": p, "completion_tokens": c, "total_tokens": p + c}


async def chat_completions(request):
    state = request.app.state
    data = await read_json(request)
    model = _resolve_model(state.backends, data)
    messages, params, stops, options = parse_request(data)
    cancel = CancelToken()
    if any(m.images for m in messages):
        messages = await _decode_request_pictures(request, state.backends, model, messages, cancel)
    reply = _Reply(model, stops, cancel, state.timeout)
    reply.start(state.backends, messages, params)
    if not data.get("stream"):
        return await _whole_reply(request, reply)
    return _streamed_reply(reply, bool(options.get("include_usage")))


def _resolve_model(backends, data: dict) -> str:
    try:
        return backends.resolve(data.get("model"), "chat")
    except Exception as exc:  # noqa: BLE001 - reported in OpenAI's shape
        raise from_hearth(exc) from None


async def _decode_request_pictures(request, backends, model: str, messages: list[Message],
                                   cancel: CancelToken) -> list[Message]:
    """The request's pictures decoded off the event loop, for a model that sees; stopped if the client leaves."""
    side = backends.picture_side(model)
    if side is None:
        raise ApiError(400, f"this model cannot see pictures: {model} has no projector; choose a vision model "
                       "or send the text alone", param="messages", code="model_cannot_see")
    try:
        async with watch_disconnect(request, cancel):
            return await run_in_threadpool(decode_pictures, messages, side, picture_budget(request, cancel))
    except Exception as exc:  # noqa: BLE001 - a bad picture is a 400 in OpenAI's shape
        if isinstance(exc, Cancelled):
            log.info("chat request left while its pictures were decoded: the rest were not")
        raise from_hearth(exc) from None


class _Reply:
    """One reply: the engine's events, emitted on the model's worker, read here on the event loop,
    with the text cut at the request's stop strings."""

    def __init__(self, model: str, stops: list[str], cancel: CancelToken, timeout: float):
        self.model, self.stops, self.cancel, self.timeout = model, stops, cancel, timeout
        self.id, self.created = f"chatcmpl-{uuid.uuid4().hex[:24]}", int(time.time())
        self.filter = StopFilter(stops)
        self.stats: ChatStats | None = None
        self._loop = asyncio.get_running_loop()
        self._queue: asyncio.Queue[StreamEvent | Future] = asyncio.Queue()

    def start(self, backends, messages: list[Message], params: SamplingParams) -> None:
        fut = backends.chat(self.model, messages, params, self.cancel, self._emit)
        fut.add_done_callback(lambda f: self._loop.call_soon_threadsafe(self._queue.put_nowait, f))

    def _emit(self, event: StreamEvent) -> None:
        """On the model's worker thread."""
        if isinstance(event, TextDelta) and self.stops:
            if self.filter.hit:
                return
            event = TextDelta(self.filter.feed(event.text))
            if self.filter.hit:
                self.cancel.cancel()  # the engine stops at its next token
        self._loop.call_soon_threadsafe(self._queue.put_nowait, event)

    async def texts(self) -> AsyncIterator[str]:
        """The reply's text pieces; self.stats is set by the end. Ends with the job, raising its error."""
        while True:
            try:
                item = await asyncio.wait_for(self._queue.get(), self.timeout)
            except asyncio.TimeoutError:
                self.cancel.cancel()
                raise ApiError(504, f"no word from the model in {self.timeout:.0f} s", "timeout") from None
            match item:
                case TextDelta(text):
                    if text:
                        yield text
                case ChatStats():
                    self.stats = item
                case ToolStep():
                    pass  # the API has no tools yet
                case Future():  # the job: done
                    exc = item.exception()
                    if exc is not None and not self.filter.hit:
                        raise from_hearth(exc)
                    # After a stop string the reply is complete: how the engine then ended (its
                    # process may be restarted when a loaded machine answers the cancel late) is ours.
                    if self.stops and not self.filter.hit:
                        rest = self.filter.flush()
                        if rest:
                            yield rest
                    return

    def finish_reason(self) -> str:
        return _finish_reason(self.stats, self.filter.hit)

    def chunk(self, delta: dict, finish: str | None = None) -> str:
        """One Server-Sent Event of the streamed reply."""
        body = {"id": self.id, "object": "chat.completion.chunk", "created": self.created, "model": self.model,
                "system_fingerprint": "hearth",
                "choices": [{"index": 0, "delta": delta, "finish_reason": finish}]}
        return f"data: {json.dumps(body, ensure_ascii=False)}\n\n"


async def _whole_reply(request, reply: _Reply) -> JSONResponse:
    """stream: false: the whole reply in one JSON body."""
    text = ""
    try:
        async with watch_disconnect(request, reply.cancel):
            async for piece in reply.texts():
                text += piece
    finally:
        reply.cancel.cancel()
    return JSONResponse({
        "id": reply.id, "object": "chat.completion", "created": reply.created, "model": reply.model,
        "choices": [{"index": 0, "message": {"role": "assistant", "content": text},
                     "finish_reason": reply.finish_reason()}],
        "usage": _usage(reply.stats), "system_fingerprint": "hearth",
    })


def _streamed_reply(reply: _Reply, include_usage: bool) -> CancellableStream:
    """stream: true: Server-Sent Events as the text comes, then the finish reason (and usage), then [DONE]."""

    async def sse():
        try:
            yield reply.chunk({"role": "assistant", "content": ""})
            async for piece in reply.texts():
                yield reply.chunk({"content": piece})
            yield reply.chunk({}, reply.finish_reason())
            if include_usage:
                body = {"id": reply.id, "object": "chat.completion.chunk", "created": reply.created,
                        "model": reply.model, "choices": [], "usage": _usage(reply.stats)}
                yield f"data: {json.dumps(body)}\n\n"
            yield "data: [DONE]\n\n"
        except ApiError as exc:  # headers are gone: the error travels as an event, as OpenAI's does
            yield f"data: {json.dumps(exc.body())}\n\n"
        finally:
            reply.cancel.cancel()

    return CancellableStream(sse(), reply.cancel, media_type="text/event-stream",
                             headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"})

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

from starlette.concurrency import run_in_threadpool
from starlette.responses import JSONResponse

from app.core.chat.engine import ChatStats, SamplingParams
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
    out, images = [], []
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
    stops = [stop] if isinstance(stop, str) else stop if isinstance(stop, list) else []
    if stop is not None and (len(stops) > 4 or not all(isinstance(s, str) and s for s in stops)):
        raise ApiError(400, "'stop' must be a string or a list of up to 4 strings", param="stop")
    options = data.get("stream_options") if isinstance(data.get("stream_options"), dict) else {}
    return out, params, stops, options


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
    try:
        model = state.backends.resolve(data.get("model"), "chat")
    except Exception as exc:  # noqa: BLE001 - reported in OpenAI's shape
        raise from_hearth(exc) from None
    messages, params, stops, options = parse_request(data)
    cancel = CancelToken()
    if any(m.images for m in messages):
        side = state.backends.picture_side(model)
        if side is None:
            raise ApiError(400, f"this model cannot see pictures: {model} has no projector; choose a vision model "
                           "or send the text alone", param="messages", code="model_cannot_see")
        try:
            async with watch_disconnect(request, cancel):
                messages = await run_in_threadpool(decode_pictures, messages, side, picture_budget(request, cancel))
        except Exception as exc:  # noqa: BLE001 - a bad picture is a 400 in OpenAI's shape
            if isinstance(exc, Cancelled):
                log.info("chat request left while its pictures were decoded: the rest were not")
            raise from_hearth(exc) from None
    loop = asyncio.get_running_loop()
    items: asyncio.Queue = asyncio.Queue()
    flt = StopFilter(stops)

    def emit(item) -> None:
        if isinstance(item, str) and stops:
            if flt.hit:
                return
            item = flt.feed(item)
            if flt.hit:
                cancel.cancel()  # the engine stops at its next token
        loop.call_soon_threadsafe(items.put_nowait, item)

    fut = state.backends.chat(model, messages, params, cancel, emit)
    fut.add_done_callback(lambda f: loop.call_soon_threadsafe(items.put_nowait, f))
    rid, created = f"chatcmpl-{uuid.uuid4().hex[:24]}", int(time.time())
    timeout = state.timeout

    async def events():
        """Text pieces, then the ChatStats; ends with the job, raising its error."""
        stats = None
        while True:
            try:
                item = await asyncio.wait_for(items.get(), timeout)
            except asyncio.TimeoutError:
                cancel.cancel()
                raise ApiError(504, f"no word from the model in {timeout:.0f} s", "timeout") from None
            if isinstance(item, str):
                if item:
                    yield item
            elif isinstance(item, ChatStats):
                stats = item
            else:  # the job's future: done
                exc = item.exception()
                if exc is not None and not flt.hit:
                    raise from_hearth(exc)
                # After a stop string the reply is complete: how the engine then ended (its
                # process may be restarted when a loaded machine answers the cancel late) is ours.
                if stops and not flt.hit:
                    rest = flt.flush()
                    if rest:
                        yield rest
                yield stats
                return

    if not data.get("stream"):
        text, stats = "", None
        try:
            async with watch_disconnect(request, cancel):
                async for piece in events():
                    if isinstance(piece, str):
                        text += piece
                    else:
                        stats = piece
        finally:
            cancel.cancel()
        return JSONResponse({
            "id": rid, "object": "chat.completion", "created": created, "model": model,
            "choices": [{"index": 0, "message": {"role": "assistant", "content": text},
                         "finish_reason": _finish_reason(stats, flt.hit)}],
            "usage": _usage(stats), "system_fingerprint": "hearth",
        })

    def chunk(delta: dict, finish: str | None = None) -> str:
        body = {"id": rid, "object": "chat.completion.chunk", "created": created, "model": model,
                "system_fingerprint": "hearth",
                "choices": [{"index": 0, "delta": delta, "finish_reason": finish}]}
        return f"data: {json.dumps(body, ensure_ascii=False)}\n\n"

    async def sse():
        try:
            yield chunk({"role": "assistant", "content": ""})
            stats = None
            async for piece in events():
                if isinstance(piece, str):
                    yield chunk({"content": piece})
                else:
                    stats = piece
            yield chunk({}, _finish_reason(stats, flt.hit))
            if options.get("include_usage"):
                body = {"id": rid, "object": "chat.completion.chunk", "created": created, "model": model,
                        "choices": [], "usage": _usage(stats)}
                yield f"data: {json.dumps(body)}\n\n"
            yield "data: [DONE]\n\n"
        except ApiError as exc:  # headers are gone: the error travels as an event, as OpenAI's does
            yield f"data: {json.dumps(exc.body())}\n\n"
        finally:
            cancel.cancel()

    return CancellableStream(sse(), cancel, media_type="text/event-stream",
                             headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"})

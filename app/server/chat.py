"""POST /v1/chat/completions, streamed (SSE) and not, in OpenAI's shapes."""

from __future__ import annotations

import base64
import binascii
import json
import logging
import re

from starlette.concurrency import run_in_threadpool
from starlette.responses import JSONResponse

from app.core.chat.engine import SamplingParams
from app.core.chat.templates import Message
from app.core.chat.tool_format import STYLES, ToolStyle
from app.core.jobs import Cancelled, CancelToken
from app.server.chat_params import (
    merge_turns,
    native_calls,
    refuse_logprobs,
    response_schema,
    tool_calls_text,
    tool_result_text,
)
from app.server.http import ApiError, CancellableStream, from_hearth, picture_budget, read_json, watch_disconnect
from app.server.reply import Reply
from app.server.tool_calls import ToolReply
from app.server.tools import ToolPlan, parse_tools, with_tools

log = logging.getLogger(__name__)

ROLES = {"system": "system", "developer": "system", "user": "user", "assistant": "assistant", "tool": "user"}
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


def parse_messages(messages, native: bool = False) -> list[Message]:
    """The request's turns as the engine takes them: an agent's tool calls and their results in words, or
    (native: the model's template renders them) as assistant tool_calls and ``tool`` turns."""
    if not isinstance(messages, list) or not messages or len(messages) > MAX_MESSAGES:
        raise ApiError(400, "'messages' must be a non-empty list", param="messages")
    out, names = [], {}
    for i, m in enumerate(messages):
        role = m.get("role") if isinstance(m, dict) else None
        if not isinstance(role, str) or role not in ROLES:
            raise ApiError(400, f"messages[{i}].role must be one of {', '.join(ROLES)}", param="messages")
        text, images = _content(m.get("content"), i)
        if images and role != "user":
            raise ApiError(400, f"messages[{i}]: only user messages carry pictures", param="messages")
        if native and role == "assistant" and m.get("tool_calls") is not None:
            out.append(Message("assistant", text, tool_calls=native_calls(m["tool_calls"], i)))
            continue
        if native and role == "tool":
            out.append(Message("tool", text))
            continue
        if role == "assistant" and m.get("tool_calls") is not None:
            calls, called = tool_calls_text(m["tool_calls"], i)
            names.update(called)
            text = "\n".join(t for t in (text, calls) if t)
        elif role == "tool":
            text = tool_result_text(m, text, names)
        out.append(Message(ROLES[role], text, images))
    return merge_turns(out)


def parse_params(data: dict) -> SamplingParams:
    """Sampling, the reply's length, stop strings and format; the whole prompt or a 400, never old turns
    dropped unseen."""
    if data.get("n") not in (None, 1):  # null is the spec's default, as leaving it out
        raise ApiError(400, "only n=1 is supported", param="n")
    refuse_logprobs(data)
    params = SamplingParams(whole_prompt=True, json_schema=response_schema(data))
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
    params.stop = tuple(stops)
    return params


def parse_request(data: dict, native: bool = False) -> tuple[list[Message], SamplingParams, dict]:
    messages = parse_messages(data.get("messages"), native)
    params = parse_params(data)
    options = data.get("stream_options")
    return messages, params, options if isinstance(options, dict) else {}


async def chat_completions(request):
    state = request.app.state
    data = await read_json(request)
    model = resolve_model(state.backends, data)
    style = STYLES.get(state.backends.tool_style(model))  # the model's own tool template, if it has one
    messages, params, options = parse_request(data, style is not None)
    plan = parse_tools(data)
    if plan is not None and style is not None:  # shown by the template, called in its own form
        params.tools, params.json_schema = plan.openai(), plan.schema(style.arguments)
        params.call_wrap, params.or_text = (style.prefix, style.suffix), plan.mode == "auto"
    elif plan is not None:  # the reply is a call or (auto) words, under the tools' grammar
        messages, params.json_schema = with_tools(messages, plan), plan.schema()
        params.or_text = plan.mode == "auto"
    cancel = CancelToken()
    if any(m.images for m in messages):
        messages = await _decode_request_pictures(request, state.backends, model, messages, cancel)
    reply = Reply("chatcmpl", model, cancel, state.timeout, state.replies)
    await reply.begin(request, state.backends, messages, params)
    if not data.get("stream"):
        return await _whole_reply(request, reply, plan, style)
    return _streamed_reply(reply, bool(options.get("include_usage")), plan, style)


def resolve_model(backends, data: dict) -> str:
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


def _chunk(reply: Reply, delta: dict, finish: str | None = None) -> str:
    """One Server-Sent Event of the streamed reply."""
    body = {"id": reply.id, "object": "chat.completion.chunk", "created": reply.created, "model": reply.model,
            "system_fingerprint": "hearth",
            "choices": [{"index": 0, "delta": delta, "finish_reason": finish}]}
    return f"data: {json.dumps(body, ensure_ascii=False)}\n\n"


def _finish(reply: Reply, tools: ToolReply | None) -> str:
    """A whole tool call ends the reply as "tool_calls"; one cut short by max_tokens as "length"."""
    if tools is not None and tools.calls and tools.complete():
        return "tool_calls"
    return reply.finish_reason()


async def _whole_reply(request, reply: Reply, plan: ToolPlan | None, style: ToolStyle | None) -> JSONResponse:
    """stream: false: the whole reply in one JSON body."""
    text = ""
    async with watch_disconnect(request, reply.cancel):
        async for piece in reply.texts():
            text += piece
    message: dict = {"role": "assistant", "content": text}
    tools = None
    if plan is not None:
        tools = ToolReply(style)
        tools.feed(text)
        tools.finish()
        message["content"] = tools.content
        if tools.calls:
            message["tool_calls"] = tools.calls
    return JSONResponse({
        "id": reply.id, "object": "chat.completion", "created": reply.created, "model": reply.model,
        "choices": [{"index": 0, "message": message, "finish_reason": _finish(reply, tools)}],
        "usage": reply.usage(), "system_fingerprint": "hearth",
    })


def _streamed_reply(reply: Reply, include_usage: bool, plan: ToolPlan | None,
                    style: ToolStyle | None) -> CancellableStream:
    """stream: true: Server-Sent Events as the text comes, then the finish reason (and usage), then [DONE].
    With tools, the text is read as it comes into tool_calls deltas or the answer's words."""
    tools = ToolReply(style) if plan is not None else None

    async def sse():
        try:
            yield _chunk(reply, {"role": "assistant", "content": None if tools else ""})
            async for piece in reply.texts():
                for delta in tools.feed(piece) if tools else [{"content": piece}]:
                    yield _chunk(reply, delta)
            for delta in tools.finish() if tools else []:
                yield _chunk(reply, delta)
            yield _chunk(reply, {}, _finish(reply, tools))
            if include_usage:
                body = {"id": reply.id, "object": "chat.completion.chunk", "created": reply.created,
                        "model": reply.model, "choices": [], "usage": reply.usage()}
                yield f"data: {json.dumps(body)}\n\n"
            yield "data: [DONE]\n\n"
        except ApiError as exc:  # headers are gone: the error travels as an event, as OpenAI's does
            yield f"data: {json.dumps(exc.body())}\n\n"
        finally:
            reply.close()

    return CancellableStream(sse(), reply.cancel, media_type="text/event-stream",
                             headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"})

"""POST /v1/completions (OpenAI's legacy text completion), streamed and not: the prompt is taken as it
is, with no chat template, and continued."""

from __future__ import annotations

import json

from starlette.responses import JSONResponse

from app.core.chat.templates import Message
from app.core.jobs import CancelToken
from app.server.chat import parse_params, resolve_model
from app.server.http import ApiError, CancellableStream, read_json, watch_disconnect
from app.server.reply import Reply

DEFAULT_MAX_TOKENS = 16  # OpenAI's default for this endpoint


def _prompt(data: dict) -> str:
    prompt = data.get("prompt")
    if isinstance(prompt, list) and len(prompt) == 1 and isinstance(prompt[0], str):
        prompt = prompt[0]
    if not isinstance(prompt, str) or not prompt:
        raise ApiError(400, "'prompt' must be a non-empty string (one prompt per request)", param="prompt")
    for name in ("suffix",):
        if data.get(name):
            raise ApiError(400, f"'{name}' is not supported by Hearth", param=name, code="unsupported_parameter")
    if data.get("best_of") not in (None, 1):  # null is the spec's default
        raise ApiError(400, "only best_of=1 is supported", param="best_of")
    return prompt


async def completions(request):
    state = request.app.state
    data = await read_json(request)
    model = resolve_model(state.backends, data)
    prompt = _prompt(data)
    params = parse_params(data)
    params.raw = True  # response_format is honoured as in a chat: the continuation decodes under its grammar
    if data.get("max_tokens") is None:
        params.max_tokens = DEFAULT_MAX_TOKENS
    cancel = CancelToken()
    reply = Reply("cmpl", model, cancel, state.timeout, state.replies)
    await reply.begin(request, state.backends, [Message("user", prompt)], params)
    echo = prompt if data.get("echo") is True else ""
    if not data.get("stream"):
        text = echo
        async with watch_disconnect(request, cancel):
            async for piece in reply.texts():
                text += piece
        return JSONResponse({**_head(reply, "text_completion"), "choices": [_choice(text, reply.finish_reason())],
                             "usage": reply.usage()})
    options = data.get("stream_options")
    usage = isinstance(options, dict) and bool(options.get("include_usage"))
    return CancellableStream(_events(reply, echo, usage), cancel, media_type="text/event-stream",
                             headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"})


def _head(reply: Reply, kind: str) -> dict:
    return {"id": reply.id, "object": kind, "created": reply.created, "model": reply.model,
            "system_fingerprint": "hearth"}


def _choice(text: str, finish: str | None) -> dict:
    return {"index": 0, "text": text, "logprobs": None, "finish_reason": finish}


async def _events(reply: Reply, echo: str, include_usage: bool):
    def event(body: dict) -> str:
        return f"data: {json.dumps(body, ensure_ascii=False)}\n\n"

    try:
        if echo:
            yield event({**_head(reply, "text_completion"), "choices": [_choice(echo, None)]})
        async for piece in reply.texts():
            yield event({**_head(reply, "text_completion"), "choices": [_choice(piece, None)]})
        yield event({**_head(reply, "text_completion"), "choices": [_choice("", reply.finish_reason())]})
        if include_usage:
            yield event({**_head(reply, "text_completion"), "choices": [], "usage": reply.usage()})
        yield "data: [DONE]\n\n"
    except ApiError as exc:  # headers are gone: the error travels as an event
        yield event(exc.body())
    finally:
        reply.close()

"""The Ask loop with a model on a remote OpenAI-compatible server: the tools go through its own
``tools`` API, its ``tool_calls`` (streamed as deltas) are run here, and the results go back as
``role: tool`` messages. The exchange uses the remote engine's own connection, limits and errors
(app/core/chat/openai_remote.py): a hostile server is bounded the same way.
"""

from __future__ import annotations

import http.client
import json
import logging
from collections.abc import Iterator
from dataclasses import dataclass, field

from app.core.ask import prompt
from app.core.ask.events import AnswerToken, AskEvent
from app.core.ask.steps import AskOptions, StepRun
from app.core.ask.tools import ToolContext
from app.core.chat import openai_remote as remote
from app.core.chat import sse
from app.core.fileio import loads_json
from app.core.jobs import Cancelled, HearthError

log = logging.getLogger(__name__)
MAX_CALLS = 8  # tool calls one reply may ask for; more are left out
MAX_ARGUMENTS = 64 << 10  # characters of one call's arguments
MAX_CALL_CHARS = 4 * MAX_CALLS * MAX_ARGUMENTS  # tool-call text one reply may send, kept or not

SYSTEM = ("You help the user with their own photos, documents, recordings and chats, with the tools given. "
          "Each tool result is numbered (n). Answer in a few sentences and cite each result you use by its "
          "number in square brackets, like [1].")


@dataclass
class _Call:
    id: str = ""
    name: str = ""
    arguments: str = ""


@dataclass
class _Round:
    """One streamed reply: its text and the tool calls it asks for."""

    text: str = ""
    calls: dict[int, _Call] = field(default_factory=dict)
    finished: bool = False
    call_chars: int = 0  # tool-call text received, counted before the bounds drop or cut it


def ask_remote(engine: remote.OpenAIChatEngine, question: str, ctx: ToolContext,
               options: AskOptions) -> Iterator[AskEvent]:
    steps = StepRun(ctx)
    offered = [t.openai() for t in options.offered()]
    earlier = [{"role": m.role, "content": m.content} for m in options.history
               if m.role in ("user", "assistant") and m.content]
    messages: list[dict] = [{"role": "system", "content": SYSTEM}, *earlier, {"role": "user", "content": question}]
    answer, reason, error = "", "answered", None
    try:
        for index in range(options.max_steps + 1):
            if index == options.max_steps and options.max_steps:
                reason = "step limit"
            last = index == options.max_steps or reason != "answered"
            if last:
                choice: object = "none"
            elif index == 0 and options.first_tool:
                choice = {"type": "function", "function": {"name": options.first_tool}}
            else:
                choice = "auto"
            body = engine._body([], options.params)
            body["messages"] = messages
            body["tools"], body["tool_choice"] = offered, choice
            reply = _Round()
            for piece in _exchange(engine, body, reply, ctx):
                answer += piece
                yield AnswerToken(piece)
            if reply.calls and last and not reply.text.strip():
                reason = "error"
                error = "the model kept asking for tools after it was told to answer; it gave no answer"
            if not reply.calls or last:
                break
            calls = [reply.calls[i] for i in sorted(reply.calls)][:MAX_CALLS]
            for n, c in enumerate(calls):
                c.id = c.id or f"call_{index}_{n}"
            messages.append({"role": "assistant", "content": reply.text or None, "tool_calls": [
                {"id": c.id, "type": "function", "function": {"name": c.name, "arguments": c.arguments}}
                for c in calls]})
            for c in calls:
                arguments = _arguments(c.arguments)
                if len(steps.steps) >= options.max_steps:  # a reply's calls each count: one reply is not 8 steps
                    reason = "step limit"
                    messages.append({"role": "tool", "tool_call_id": c.id, "content": json.dumps(
                        {"error": "the step limit was reached: answer with the results so far"})})
                    continue
                if steps.repeated(c.name, arguments):  # not run again; the next round answers
                    reason = "repeated call"
                    messages.append({"role": "tool", "tool_call_id": c.id, "content": json.dumps(
                        {"error": "this call was made already: answer with the results so far"})})
                    continue
                yield from steps.call(c.name, arguments)
                messages.append({"role": "tool", "tool_call_id": c.id, "content": prompt.results_for_tool_message(
                    len(steps.steps) - 1, steps.steps[-1], prompt.number_sources(steps.steps))})
    except Cancelled:
        yield steps.answered(answer, "cancelled", "stopped")
        return
    except HearthError as exc:
        log.info("ask: ended early: %s", exc)
        yield steps.answered(answer, "error", str(exc))
        return
    yield steps.answered(answer, reason, error)


def _arguments(text: str) -> dict:
    """A call's arguments; text that is not a JSON object is passed on as it is, for call_tool to refuse
    in words."""
    try:
        data = loads_json(text or "{}")  # nesting too deep is a ValueError too, not a RecursionError
    except ValueError:
        return {"": text[:200]}
    return data if isinstance(data, dict) else {"": data}


def _exchange(engine: remote.OpenAIChatEngine, body: dict, reply: _Round, ctx: ToolContext) -> Iterator[str]:
    """Sends one request and yields the reply's text as it streams; its tool calls fill ``reply``."""
    name = engine.server.name
    c = remote._Connection(engine.server, remote.CONNECT_TIMEOUT_S, engine.read_timeout)
    done = remote._shut_on_cancel(c, ctx.cancel)
    try:
        ctx.cancel.raise_if_cancelled()
        resp = c.request("POST", "/chat/completions", body, accept="text/event-stream")
        if resp.status >= 400:
            remote._raise_for_status(engine.server, resp.status, resp.read(remote.MAX_BODY), engine.remote_model)
        budget = remote._Budget(name, body.get("max_tokens") or 0)  # max_tokens held here too, as a chat's
        for event in sse.events(resp):
            if event == "[DONE]":
                reply.finished = True
                break
            for piece in _read(event, reply, name):
                kept, cut = budget.take(piece)
                if kept:
                    yield kept
                if cut:
                    raise remote.RemoteError(cut)
            ctx.cancel.raise_if_cancelled()
        ctx.cancel.raise_if_cancelled()
        if not reply.finished:
            raise remote.RemoteError(f"the server '{name}' closed the connection mid-reply; the partial reply is kept")
    except (sse.StreamLimit, OSError, http.client.HTTPException, remote.RemoteError) as exc:
        if ctx.cancel.cancelled:
            raise Cancelled() from None
        raise remote._broke_off(name, exc) from None
    finally:
        done.set()
        c.close()


def _read(event: str, reply: _Round, name: str) -> Iterator[str]:
    try:
        data = json.loads(event)
    except ValueError:
        raise remote.RemoteError(f"the server '{name}' sent something that is not JSON") from None
    if not isinstance(data, dict):
        return
    if "error" in data:
        raise remote.RemoteError(f"the server '{name}' failed mid-reply: "
                                 f"{remote._error_message(json.dumps(data).encode())}")
    choices = data.get("choices")
    for choice in choices if isinstance(choices, list) else ():
        if not isinstance(choice, dict):
            continue
        delta = choice.get("delta") or choice.get("message")  # a server that answers whole, not in deltas
        if isinstance(delta, dict):
            piece = delta.get("content")
            if isinstance(piece, str) and piece:
                reply.text += piece
                yield piece
            _take_calls(delta.get("tool_calls"), reply)
            if reply.call_chars > MAX_CALL_CHARS:  # cut or dropped text still costs: it ends here
                raise remote.RemoteError(f"the tool calls from the server '{name}' are too long; "
                                         "the reply was ended there")
        if choice.get("finish_reason"):
            reply.finished = True


def _take_calls(calls, reply: _Round) -> None:
    """Adds streamed tool-call deltas: the first piece of a call names it (and its id), later pieces
    with the same index add to its arguments."""
    for n, call in enumerate(calls if isinstance(calls, list) else ()):
        if not isinstance(call, dict):
            continue
        fn = call.get("function")
        reply.call_chars += _size(call.get("id"), *((fn.get("name"), fn.get("arguments")) if isinstance(fn, dict)
                                                    else ()))
        index = call.get("index", n)
        if not isinstance(index, int) or isinstance(index, bool) or not 0 <= index < MAX_CALLS:
            continue
        into = reply.calls.setdefault(index, _Call())
        if isinstance(call.get("id"), str) and not into.id:
            into.id = call["id"][:100]
        if isinstance(fn, dict):
            piece = fn.get("name")
            if isinstance(piece, str) and piece != into.name:  # some servers repeat the whole name each delta
                into.name = (into.name + piece)[:100]
            args = fn.get("arguments")
            if isinstance(args, str):
                into.arguments = (into.arguments + args)[:MAX_ARGUMENTS]
            elif isinstance(args, dict):  # some servers send the object itself
                into.arguments = json.dumps(args)[:MAX_ARGUMENTS]


def _size(*parts) -> int:
    """The characters a call's delta brings: 1 at least (an empty delta costs too)."""
    return 1 + sum(len(p) if isinstance(p, str) else len(json.dumps(p)) if isinstance(p, dict) else 0 for p in parts)

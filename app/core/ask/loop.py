"""The Ask loop: a chat model calls Hearth's tools, step by step, then answers with numbered citations.

A local model decides each step under a grammar built from the tools' schemas (one call with valid
arguments, or "answer now"), then writes its answer freely with the results in the prompt. A model whose
own template has tool-call tokens (Qwen2.5/3, Hermes, Llama 3.x) gets the tools, its calls and their
results through that template, and calls in its own form (``native``); any other reads them in words. A model on
a remote OpenAI-compatible server gets the tools through its own ``tools`` API (``openai_tools``).
Either way: at most ``max_steps`` steps, the same call twice ends the steps, Stop is honoured at every
step, and whatever ends the loop ends it in words with the steps so far kept, in one last ``Answered``.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Iterator
from dataclasses import replace

from app.core.ask import native, prompt
from app.core.ask.events import Answered, AnswerToken, AskEvent
from app.core.ask.steps import MAX_STEPS, AskOptions, StepRun
from app.core.ask.tools import TOOLS, Tool, ToolContext
from app.core.chat.events import ChatStats, TextDelta
from app.core.chat.protocol import ChatEngineProtocol
from app.core.chat.templates import Message
from app.core.chat.tool_format import style_of
from app.core.jobs import Cancelled, HearthError, InputError

log = logging.getLogger(__name__)
__all__ = ["MAX_STEPS", "AskOptions", "StepRun", "ask", "run"]
STEP_TOKENS = 320  # a step's JSON: a query of 120 characters at most, or four paths


def ask(engine: ChatEngineProtocol, question: str, ctx: ToolContext,
        options: AskOptions | None = None) -> Iterator[AskEvent]:
    """The events of one question: StepStarted/StepDone per step, AnswerToken as the answer comes,
    then one Answered (always, whatever ended it). Bad options raise InputError before anything runs."""
    options = options or AskOptions()
    options.check()
    if not question.strip():
        raise InputError("ask a question")
    from app.core.chat.openai_remote import OpenAIChatEngine

    if isinstance(engine, OpenAIChatEngine):
        from app.core.ask.openai_tools import ask_remote

        yield from ask_remote(engine, question, ctx, options)
    else:
        yield from _ask_local(engine, question, ctx, options)


def run(engine: ChatEngineProtocol, question: str, ctx: ToolContext, options: AskOptions | None = None,
        on_event: Callable[[AskEvent], None] | None = None) -> Answered:
    """ask(), consumed: each event to ``on_event``, the last one returned."""
    last: Answered | None = None
    for event in ask(engine, question, ctx, options):
        if on_event is not None:
            on_event(event)
        if isinstance(event, Answered):
            last = event
    assert last is not None  # ask always ends with one
    return last


def _ask_local(engine: ChatEngineProtocol, question: str, ctx: ToolContext,
               options: AskOptions) -> Iterator[AskEvent]:
    steps = StepRun(ctx)
    offered = options.offered()
    style = style_of(engine)
    answer, reason, error = "", "answered", None
    try:
        for index in range(options.max_steps + 1):
            if index == options.max_steps:
                reason = "step limit" if options.max_steps else reason
                break
            forced = options.first_tool if index == 0 else None
            tools = [TOOLS[forced]] if forced else offered
            if style is not None:
                choice = native.decide(engine, style, native.conversation(question, steps.steps, _earlier(options)),
                                       tools, not forced, options, ctx, STEP_TOKENS)
            else:
                choice = _decide(engine, question, steps, tools, not forced, options, ctx)
            if isinstance(choice, str):  # the model's step could not be read: answer with what there is
                reason, error = "error", choice
                break
            tool, arguments = choice
            if tool == prompt.ANSWER:
                break
            if steps.repeated(tool, arguments):
                reason = "repeated call"
                break
            yield from steps.call(tool, arguments)
        params = options.params
        if style is not None:  # the results as the template's tool turns
            messages = native.conversation(question, steps.steps, _earlier(options))
            params = native.params_for_answer(style, offered, params)
        else:
            system, user = prompt.answer_prompt(question, steps.steps, prompt.number_sources(steps.steps))
            messages = [Message("system", system), *_earlier(options), Message("user", user)]
        for event in engine.stream(messages, params, ctx.cancel):
            match event:
                case TextDelta(text):
                    answer += text
                    yield AnswerToken(text)
                case ChatStats() if event.stop_reason == "cancelled":
                    raise Cancelled()
    except Cancelled:
        yield steps.answered(answer, "cancelled", "stopped")
        return
    except HearthError as exc:  # the model failed, or the prompt did not fit: said, the steps kept
        log.info("ask: ended early: %s", exc)
        yield steps.answered(answer, "error", str(exc))
        return
    yield steps.answered(answer, reason, error)


def _earlier(options: AskOptions) -> list[Message]:
    """The chat's earlier turns as text (their pictures are not sent again with each step)."""
    return [Message(m.role, m.content) for m in options.history if m.role in ("user", "assistant") and m.content]


def _decide(engine: ChatEngineProtocol, question: str, steps: StepRun, tools: list[Tool], may_answer: bool,
            options: AskOptions, ctx: ToolContext) -> tuple[str, dict] | str:
    """The model's next step, decoded under the step grammar: (tool, arguments), or why not in words."""
    sources = prompt.number_sources(steps.steps)
    system, user = prompt.step_prompt(tools, question, steps.steps, sources)
    schema = json.dumps(prompt.step_schema(tools, may_answer))
    params = options.params
    step_params = replace(params, temperature=min(params.temperature, 0.3), max_tokens=STEP_TOKENS,
                          json_schema=schema, stop=())
    text, stop_reason = "", ""
    messages = [Message("system", system), *_earlier(options), Message("user", user)]
    for event in engine.stream(messages, step_params, ctx.cancel):
        match event:
            case TextDelta(piece):
                text += piece
            case ChatStats():
                stop_reason = event.stop_reason
    if stop_reason == "cancelled":
        raise Cancelled()
    if stop_reason == "length":
        return f"the model's choice of step did not end within {STEP_TOKENS} tokens"
    return prompt.parse_step(text)

"""Ask's steps through a local model's own tool template (Qwen2.5/3 and Hermes, Llama 3.x): the tools are
shown by the template, each step is decoded under a grammar in the template's own call form (for Qwen,
``<tool_call>\\n{"name": ..., "arguments": {...}}\\n</tool_call>``), earlier calls are assistant turns with
``tool_calls`` and their results ``role: tool`` turns, as the model was trained to read them. Answering
now is the model writing words instead of a call. A template without tools keeps prompt.py's words.
"""

from __future__ import annotations

import json
from dataclasses import replace

from app.core.ask import prompt
from app.core.ask.events import Step
from app.core.ask.steps import AskOptions
from app.core.ask.tools import Tool, ToolContext
from app.core.chat.engine import SamplingParams
from app.core.chat.events import ChatStats, TextDelta
from app.core.chat.protocol import ChatEngineProtocol
from app.core.chat.templates import Message, ToolCall
from app.core.chat.tool_format import ToolStyle
from app.core.jobs import Cancelled

SYSTEM = ("You help the user with their own photos, documents, recordings and chats, with the tools given. "
          "Call a tool when it helps. Each tool result is numbered (n). Answer in a few sentences and cite "
          "each result you use by its number in square brackets, like [1].")


def step_schema(style: ToolStyle, tools: list[Tool]) -> dict:
    """A call of one of ``tools`` in the template's keys, its arguments as prompt.py's grammar bounds them."""
    calls = [style.call_schema(t.name, prompt._grammar_schema(t.parameters)) for t in tools]
    return calls[0] if len(calls) == 1 else {"oneOf": calls}


def shown(tools: list[Tool]) -> str:
    """The tools as the template shows them (OpenAI's functions, as JSON text)."""
    return json.dumps([t.openai() for t in tools])


def params_for_step(style: ToolStyle, tools: list[Tool], may_answer: bool, params: SamplingParams,
                    max_tokens: int, offered: list[Tool] | None = None) -> SamplingParams:
    """A step's sampling: the ``offered`` tools shown by the template (the same every step, so the prompt
    so far stays in the model's cache), a call of one of ``tools`` decoded under a grammar in its form
    (or, when ``may_answer``, words begun instead)."""
    return replace(params, temperature=min(params.temperature, 0.3), max_tokens=max_tokens,
                   json_schema=json.dumps(step_schema(style, tools)), or_text=may_answer,
                   call_wrap=(style.prefix, style.suffix), tools=shown(offered or tools), stop=())


def params_for_answer(style: ToolStyle, offered: list[Tool], params: SamplingParams) -> SamplingParams:
    """The answer's sampling: the tools still shown (the prompt so far is reused from the cache), and a
    call the model begins instead of words ends it."""
    stop = (style.prefix.strip(),) if style.prefix.strip() else ()
    return replace(params, tools=shown(offered), stop=params.stop + stop)


def conversation(question: str, steps: list[Step], earlier: list[Message]) -> list[Message]:
    """The question, then each step as the model's call and the tool's result (numbered sources)."""
    sources = prompt.number_sources(steps)
    out = [Message("system", SYSTEM), *earlier, Message("user", question.strip())]
    for i, step in enumerate(steps):
        out.append(Message("assistant", "", tool_calls=(ToolCall(step.tool, step.arguments, f"call_{i}"),)))
        out.append(Message("tool", prompt.results_for_tool_message(i, step, sources)))
    return out


def decide(engine: ChatEngineProtocol, style: ToolStyle, messages: list[Message], tools: list[Tool],
           may_answer: bool, options: AskOptions, ctx: ToolContext, max_tokens: int) -> tuple[str, dict] | str:
    """The next step in the template's own call form: (tool, arguments) for one of ``tools``, (ANSWER, {})
    when the model begins words instead (when ``may_answer``), or why not in words."""
    step_params = params_for_step(style, tools, may_answer, options.params, max_tokens, options.offered())
    text, stop_reason = "", ""
    events = engine.stream(messages, step_params, ctx.cancel)
    try:
        for event in events:
            match event:
                case TextDelta(piece):
                    text += piece
                    if may_answer and style.is_words(text):  # words, not a call: the answer comes next
                        return prompt.ANSWER, {}
                case ChatStats():
                    stop_reason = event.stop_reason
    finally:  # words begun: the engine stops decoding them now
        close = getattr(events, "close", None)
        if close is not None:
            close()
    if stop_reason == "cancelled":
        raise Cancelled()
    if stop_reason == "length":
        return f"the model's tool call did not end within {max_tokens} tokens"
    if may_answer and not text.strip():
        return prompt.ANSWER, {}
    return style.parse(text)

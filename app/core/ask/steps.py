"""What the local and the remote Ask loops share: the question's options, and the steps so far with the
repeated-call guard and the events of running one call."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass, field

from app.core.ask import prompt
from app.core.ask.events import Answered, AskEvent, Step, StepDone, StepStarted
from app.core.ask.tools import TOOLS, Tool, ToolContext, call_tool, utf8
from app.core.chat.engine import SamplingParams
from app.core.chat.templates import Message
from app.core.jobs import Cancelled, InputError

MAX_STEPS = 4


@dataclass
class AskOptions:
    """How one question is asked. ``first_tool`` makes the first step a call of that tool (the model
    still writes its arguments, under that tool's grammar); ``tools`` limits the tools offered."""

    max_steps: int = MAX_STEPS
    first_tool: str | None = None
    tools: tuple[str, ...] | None = None  # None: every tool
    params: SamplingParams = field(default_factory=SamplingParams)  # the answer's sampling (seed too)
    history: tuple[Message, ...] = ()  # the chat's earlier turns (user and assistant), before the question

    def offered(self) -> list[Tool]:
        names = self.tools if self.tools is not None else tuple(TOOLS)
        unknown = [n for n in names if n not in TOOLS]
        if unknown:
            raise InputError(f"there is no tool '{unknown[0][:60]}' (the tools are {', '.join(TOOLS)})")
        return [TOOLS[n] for n in names]

    def check(self) -> None:
        """InputError, in words, for options that cannot run."""
        offered = self.offered()
        if self.first_tool is not None and self.first_tool not in {t.name for t in offered}:
            raise InputError(f"there is no tool '{self.first_tool[:60]}' to call first "
                             f"(the tools are {', '.join(t.name for t in offered)})")
        if not 0 <= self.max_steps <= 16:
            raise InputError("the step limit must be between 0 and 16")


class StepRun:
    """The steps so far, the repeated-call guard, and running one call with its events (shared by the
    local and the remote loops)."""

    def __init__(self, ctx: ToolContext):
        self.ctx = ctx
        self.steps: list[Step] = []
        self._seen: set[str] = set()

    def repeated(self, tool: str, arguments: dict) -> bool:
        """True when this call was made before (the guard); records it otherwise."""
        key = tool + json.dumps(arguments, sort_keys=True, ensure_ascii=False)
        if key in self._seen:
            return True
        self._seen.add(key)
        return False

    def call(self, tool: str, arguments: dict) -> Iterator[AskEvent]:
        """StepStarted, the tool, StepDone. Stop during the tool keeps the step (its error says so) and
        raises Cancelled."""
        index = len(self.steps)
        shown, said = utf8(tool), utf8(arguments)  # as stored and shown; the tool gets them as given
        yield StepStarted(index, shown, said)
        try:
            result = call_tool(tool, arguments, self.ctx)
        except Cancelled:
            step = Step(shown, said, [], "stopped", f"{shown}: stopped")
            self.steps.append(step)
            yield StepDone(index, shown, said, [], step.error, step.summary)
            raise
        step = Step(shown, said, result.results, result.error, result.summary)
        self.steps.append(step)
        yield StepDone(index, shown, said, step.results, step.error, step.summary)

    def answered(self, answer: str, stop_reason: str = "answered", error: str | None = None) -> Answered:
        if not answer.strip() and stop_reason != "cancelled" and error is None:  # said, never a blank reply
            stop_reason, error = "error", "the model wrote no answer"
        sources = prompt.number_sources(self.steps)
        return Answered(answer, self.steps, prompt.cited(answer, sources), stop_reason, error, sources)

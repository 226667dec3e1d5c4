"""What the Ask loop yields as it works: a step starts, a step is done, the answer's text, the answer.

``Step.to_json()`` is the one shape of a step: what ``ask --json`` prints in ``steps``, what the chat
history stores with a message, and what the Chat pane draws as a row. Plain dataclasses, no Qt.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TypeAlias


@dataclass
class Step:
    """One tool call and what came of it."""

    tool: str
    arguments: dict
    results: list[dict] = field(default_factory=list)  # each a dict; a file's carries its "path"
    error: str | None = None  # what went wrong, in words (None: the tool ran)
    summary: str = ""  # the step row's words: "Searched photos for 'red kayak': 6 found"

    def to_json(self) -> dict:
        """{"tool", "arguments", "results", "error", "summary"}."""
        return {"tool": self.tool, "arguments": self.arguments, "results": self.results, "error": self.error,
                "summary": self.summary}

    @classmethod
    def from_json(cls, data) -> Step | None:
        """A stored step back (hostile input: None when it is not one)."""
        if not isinstance(data, dict) or not isinstance(data.get("tool"), str):
            return None
        args, results = data.get("arguments"), data.get("results")
        error, summary = data.get("error"), data.get("summary")
        return cls(data["tool"], args if isinstance(args, dict) else {},
                   [r for r in results if isinstance(r, dict)] if isinstance(results, list) else [],
                   error if isinstance(error, str) else None, summary if isinstance(summary, str) else "")


@dataclass(frozen=True)
class Citation:
    """A numbered source the answer may cite as [n]: a result of a step."""

    number: int  # 1-based, as written in the answer: [1]
    step: int  # index of the step in Answered.steps
    result: dict  # the result itself (its "path" when it is a file)

    def to_json(self) -> dict:
        return {"number": self.number, "step": self.step, **self.result}


@dataclass(frozen=True)
class StepStarted:
    """The model chose a call; the tool runs now (the row shows "Searching photos for …")."""

    index: int
    tool: str
    arguments: dict


@dataclass(frozen=True)
class StepDone:
    """The tool ended: its results, or an error in words."""

    index: int
    tool: str
    arguments: dict
    results: list[dict]
    error: str | None
    summary: str

    @property
    def step(self) -> Step:
        return Step(self.tool, self.arguments, self.results, self.error, self.summary)


@dataclass(frozen=True)
class AnswerToken:
    """The next piece of the answer's text."""

    text: str


@dataclass
class Answered:
    """The last event: the whole answer, every step, the sources it may cite, and why it ended
    ("answered", "cancelled", "step limit", "repeated call", "error")."""

    answer: str
    steps: list[Step] = field(default_factory=list)
    citations: list[Citation] = field(default_factory=list)
    stop_reason: str = "answered"
    error: str | None = None  # what ended it early, in words
    sources: list[Citation] = field(default_factory=list)  # every numbered result (citations: those cited)

    def to_json(self) -> dict:
        """What ``ask --json`` prints."""
        return {"steps": [s.to_json() for s in self.steps], "answer": self.answer,
                "citations": [c.to_json() for c in self.citations], "stop_reason": self.stop_reason,
                "error": self.error, "sources": [c.to_json() for c in self.sources]}


AskEvent: TypeAlias = StepStarted | StepDone | AnswerToken | Answered

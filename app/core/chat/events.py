"""What a chat engine's ``stream`` yields: typed events, one class each, so a consumer matches on the
class instead of telling text from statistics by ``isinstance(item, str)``.

A stream is any number of ``TextDelta`` and ``ToolStep`` events, then exactly one ``ChatStats``,
which ends it: its ``stop_reason`` says why ("eos", "stop", "length", "cancelled"). An error is
raised, not yielded. Plain dataclasses, so they cross a process pipe unchanged (app/core/chat/remote.py
sends text as bare strings, the cheapest thing to pickle, and wraps it again on arrival).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass, field
from typing import TypeAlias


@dataclass(frozen=True)
class TextDelta:
    """The next piece of the reply's text."""

    text: str


@dataclass(frozen=True)
class ToolStep:
    """A tool the model called on the way to its answer: which, with what, and what came back, in short."""

    name: str
    arguments: Mapping[str, object] = field(default_factory=dict)
    summary: str = ""


@dataclass
class ChatStats:
    """The last event of every stream: how the reply went, and (stop_reason) why it ended."""

    model: str = ""
    prompt_tokens: int = 0
    reused_tokens: int = 0  # prompt tokens already in the KV cache
    completion_tokens: int = 0
    time_to_first_token_s: float = 0.0
    tokens_per_second: float = 0.0
    total_s: float = 0.0
    dropped_messages: int = 0  # old turns left out because the context is full
    stop_reason: str = ""  # "eos" | "stop" | "length" | "cancelled"
    image_tokens: int = 0  # prompt tokens that are pictures (counted in prompt_tokens too)
    image_encode_s: float = 0.0  # time the projector took to encode this turn's new pictures

    def to_dict(self) -> dict:
        return asdict(self)


StreamEvent: TypeAlias = TextDelta | ToolStep | ChatStats


def text_of(events: Iterable[StreamEvent]) -> str:
    """The reply's text in a list of events (tests and benchmarks)."""
    return "".join(e.text for e in events if isinstance(e, TextDelta))

"""An "Ask Hearth" turn in a chat: the loop's events written into the history as they come, so the
message holds its steps (each committed when it finishes: a kill keeps them) and its citations.

The GUI's progress is coalesced (the latest always arrives, not every one), so each update is a
snapshot of the whole message so far (``AskProgress``), never a single event.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

from app.core.ask.events import Answered, AnswerToken, AskEvent, StepDone, StepStarted
from app.core.chat.history import ChatHistory
from app.core.chat.templates import Message

COMMIT_EVERY_S = 0.5  # as a plain reply: a crash loses at most this much of the answer's text


@dataclass
class AskProgress:
    steps: list[dict]  # the finished steps so far (Step.to_json())
    running: tuple[str, dict] | None  # the step under way: tool, arguments
    text: str  # the answer so far


@dataclass
class AskReply:
    message_id: int
    text: str
    steps: list[dict]
    citations: list[dict] = field(default_factory=list)
    stop_reason: str = "answered"
    error: str | None = None
    stats: dict = field(default_factory=dict)


EARLIER_TURNS = 12  # the messages before the question the loop is given (its prompt must still fit)


def question_and_turns(history: ChatHistory, conversation_id: int) -> tuple[str, tuple[Message, ...]]:
    """The user's last message, the question the loop is asked, and the chat's turns before it (their
    words only: the loop's own steps and citations are not replayed)."""
    messages = [m for m in history.messages(conversation_id) if m.role in ("user", "assistant") and m.content]
    last = max((i for i, m in enumerate(messages) if m.role == "user"), default=None)
    if last is None:
        return "", ()
    earlier = messages[:last][-EARLIER_TURNS:]
    return messages[last].content, tuple(Message(m.role, m.content) for m in earlier)


def run_ask_reply(events: Iterable[AskEvent], history: ChatHistory, conversation_id: int, model_id: str = "",
                  on_progress: Callable[[AskProgress], None] | None = None) -> AskReply:
    """Consumes one question's events into a new assistant message. An exception (Stop during a step,
    a crash) leaves the message as far as it got, marked incomplete, and is raised again."""
    reply = history.start_reply(conversation_id)
    steps: list[dict] = []
    text, last_commit, final = "", time.monotonic(), None

    def tell(running=None) -> None:
        if on_progress is not None:
            on_progress(AskProgress(list(steps), running, text))

    try:
        for event in events:
            match event:
                case StepStarted(tool=tool, arguments=arguments):
                    tell((tool, arguments))
                case StepDone():
                    step = event.step.to_json()
                    history.add_step(reply.id, step)
                    steps.append(step)
                    tell()
                case AnswerToken(text=piece):
                    text += piece
                    if time.monotonic() - last_commit >= COMMIT_EVERY_S:
                        history.update_reply(reply.id, text)
                        last_commit = time.monotonic()
                    tell()
                case Answered():
                    final = event
    except BaseException:
        history.finish_reply(reply.id, text, {"model": model_id, "stop_reason": "cancelled"}, incomplete=True)
        raise
    answer = final.answer if final is not None else text
    reason = final.stop_reason if final is not None else "cancelled"
    citations = [c.to_json() for c in final.citations] if final is not None else []
    if citations:
        history.set_citations(reply.id, citations)
    stats = {"model": model_id, "stop_reason": reason}
    history.finish_reply(reply.id, answer, stats, incomplete=reason in ("cancelled", "error"))
    return AskReply(reply.id, answer, steps, citations, reason, final.error if final is not None else None, stats)

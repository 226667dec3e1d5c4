"""One chat turn end to end: history in, streamed reply out, saved as it grows."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

from app.core.chat.engine import SamplingParams
from app.core.chat.events import ChatStats, TextDelta, ToolStep
from app.core.chat.history import ChatHistory
from app.core.chat.protocol import ChatEngineProtocol
from app.core.chat.templates import Message
from app.core.jobs import CancelToken

COMMIT_EVERY_S = 0.5  # a crash loses at most this much of a reply


@dataclass
class TurnResult:
    message_id: int
    text: str
    stats: ChatStats


def conversation_messages(history: ChatHistory, conversation_id: int) -> list[Message]:
    conv = history.conversation(conversation_id)
    out = [Message("system", conv.system_prompt)] if conv.system_prompt.strip() else []
    kept = [m for m in history.messages(conversation_id) if m.content or m.role == "user"]
    if any(m.attachments for m in kept):
        from app.core.chat.pictures import PictureStore

        store = PictureStore()  # each file checked against its hash as it is read
        out += [Message(m.role, m.content, tuple(store.read(a.sha256) for a in m.attachments)) for m in kept]
    else:
        out += [Message(m.role, m.content) for m in kept]
    return out


def run_turn(
    engine: ChatEngineProtocol,
    history: ChatHistory,
    conversation_id: int,
    params: SamplingParams,
    cancel: CancelToken,
    on_text: Callable[[str], None] | None = None,
) -> TurnResult:
    """Generates the assistant's reply to the conversation as stored."""
    messages = conversation_messages(history, conversation_id)
    reply = history.start_reply(conversation_id)
    text, stats, last_commit = "", None, time.monotonic()
    try:
        for event in engine.stream(messages, params, cancel):
            match event:
                case ChatStats():
                    stats = event
                    break
                case TextDelta(piece):
                    text += piece
                    if on_text:
                        on_text(text)
                    now = time.monotonic()
                    if now - last_commit >= COMMIT_EVERY_S:
                        history.update_reply(reply.id, text)
                        last_commit = now
                case ToolStep():
                    pass  # not kept yet: "Ask Hearth" stores a message's steps with it
    except BaseException:
        history.finish_reply(reply.id, text, {}, incomplete=True)
        raise
    stats = stats or ChatStats(model=engine.model_id, stop_reason="cancelled")
    history.finish_reply(reply.id, text, stats.to_dict(), incomplete=stats.stop_reason == "cancelled")
    return TurnResult(reply.id, text, stats)


def add_user_message(history: ChatHistory, conversation_id: int, text: str, pictures=()):
    """A user's message with its pictures (app.core.chat.pictures.Picture): files first, then the row."""
    from app.core.chat.history import Attachment
    from app.core.chat.pictures import PictureStore
    from app.core.jobs import HearthError

    store = PictureStore()
    attachments = []
    for p in pictures:
        store.put(p)
        attachments.append(Attachment(p.sha256, p.name, p.width, p.height))
    try:
        return history.add_message(conversation_id, "user", text, attachments=attachments)
    except HearthError:  # not saved: the files it brought go unless another message uses them
        shas = {a.sha256 for a in attachments}
        if history.pictures:
            history.forget_pictures(shas)
        else:
            store.remove_unused(shas, set())
        raise

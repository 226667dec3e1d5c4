"""One chat turn end to end: history in, streamed reply out, saved as it grows."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

from app.core.chat.engine import SamplingParams
from app.core.chat.events import ChatStats, TextDelta, ToolStep
from app.core.chat.history import ChatHistory, StoredMessage
from app.core.chat.protocol import ChatEngineProtocol
from app.core.chat.templates import Message
from app.core.jobs import CancelToken

COMMIT_EVERY_S = 0.5  # a crash loses at most this much of a reply


@dataclass
class TurnResult:
    message_id: int
    text: str
    stats: ChatStats


def conversation_messages(history: ChatHistory, conversation_id: int,
                          content: Callable[[StoredMessage], str] | None = None) -> list[Message]:
    """The prompt's messages as stored; ``content`` gives a message's text in the prompt (a message's
    documents put before its words) where the stored text alone is not it."""
    conv = history.conversation(conversation_id)
    out = [Message("system", conv.system_prompt)] if conv.system_prompt.strip() else []
    kept = [m for m in history.messages(conversation_id) if m.content or m.role == "user"]
    text = content or (lambda m: m.content)
    if any(m.attachments for m in kept):
        from app.core.chat.pictures import PictureStore

        store = PictureStore()  # each file checked against its hash as it is read
        out += [Message(m.role, text(m), tuple(store.read(a.sha256) for a in m.attachments)) for m in kept]
    else:
        out += [Message(m.role, text(m)) for m in kept]
    return out


def run_turn(
    engine: ChatEngineProtocol,
    history: ChatHistory,
    conversation_id: int,
    params: SamplingParams,
    cancel: CancelToken,
    on_text: Callable[[str], None] | None = None,
    compose: Callable[[ChatHistory, int, ChatEngineProtocol, SamplingParams], list[Message]] | None = None,
) -> TurnResult:
    """Generates the assistant's reply to the conversation as stored. ``compose`` builds the prompt's
    messages (app.core.chatdocs.context.compose puts attached documents in); by default the messages
    and their pictures only."""
    if compose is None:
        messages = conversation_messages(history, conversation_id)
    else:
        messages = compose(history, conversation_id, engine, params)
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


def add_user_message(history: ChatHistory, conversation_id: int, text: str, pictures=(), documents=()):
    """A user's message with its pictures (app.core.chat.pictures.Picture) and documents
    (app.core.chat.documents.ChatDocument): files first, then the row."""
    from app.core.chat.documents import DocumentStore
    from app.core.chat.history import Attachment, DocumentRef
    from app.core.chat.pictures import PictureStore
    from app.core.jobs import HearthError

    store, doc_store = PictureStore(), DocumentStore()
    attachments, refs = [], []
    for p in pictures:
        store.put(p)
        attachments.append(Attachment(p.sha256, p.name, p.width, p.height))
    for d in documents:
        doc_store.put(d)
        refs.append(DocumentRef(d.sha256, d.name, d.size, d.kind))
    try:
        return history.add_message(conversation_id, "user", text, attachments=attachments, documents=refs)
    except HearthError:  # not saved: the files it brought go unless another message uses them
        shas = {a.sha256 for a in attachments}
        docs = {d.sha256 for d in refs}
        if history.pictures:
            history.forget_pictures(shas)
        else:
            store.remove_unused(shas, set())
        if history.documents:
            history.forget_documents(docs)
        else:
            doc_store.remove_unused(docs, set())
        raise

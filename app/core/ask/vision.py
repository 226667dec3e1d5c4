"""look_at_photos with the chat model itself, when it sees pictures (a vision model and its projector)."""

from __future__ import annotations

from pathlib import Path

from app.core.ask.tools import Vision
from app.core.chat.engine import SamplingParams
from app.core.chat.events import ChatStats, TextDelta
from app.core.chat.protocol import ChatEngineProtocol
from app.core.chat.templates import Message
from app.core.jobs import Cancelled, CancelToken

LOOK_TOKENS = 160  # what the model says about one photo


def chat_vision(engine: ChatEngineProtocol, side: int, params: SamplingParams | None = None) -> Vision:
    """A Vision that shows the photo (shrunk to ``side``, the projector's) to ``engine`` with the question."""
    from dataclasses import replace

    from app.core.chat.pictures import prepare

    look = replace(params or SamplingParams(), max_tokens=LOOK_TOKENS, json_schema="", stop=())

    def see(path: Path, question: str, cancel: CancelToken) -> str:
        picture = prepare(path, path.name, side)
        text = ""
        for event in engine.stream([Message("user", question, (picture.data,))], look, cancel):
            match event:
                case TextDelta(piece):
                    text += piece
                case ChatStats() if event.stop_reason == "cancelled":
                    raise Cancelled()
        return text.strip()

    return see

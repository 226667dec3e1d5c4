"""What every chat engine offers its callers (the GUI's worker, the CLI, the server, session.run_turn).

Four engines keep it: ChatEngine and VisionChatEngine (llama.cpp in this process: the model's own
process runs them), RemoteChatEngine (that process, seen from the app) and OpenAIChatEngine (a
model on a server). ``app.core.opening.open_chat`` returns this type, and mypy checks each engine
against it where it is built (tests/core/test_architecture.py runs mypy).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:
    from app.core.chat.engine import SamplingParams
    from app.core.chat.events import StreamEvent
    from app.core.chat.templates import Message
    from app.core.jobs import CancelToken


class ChatEngineProtocol(Protocol):
    model_id: str  # the store id, a file's stem, or SERVER/MODEL
    notices: list[str]  # what the user should know about the load (a fallback format, the CPU after a GPU failure)
    n_ctx: int  # the context in tokens; 0: the server keeps its own
    gpu_layers: int
    device_reason: str

    def stream(self, messages: list[Message], params: SamplingParams,
               cancel: CancelToken | None = None) -> Iterator[StreamEvent]:
        """TextDelta and ToolStep events, then one ChatStats (app/core/chat/events.py); errors are raised."""
        ...

    def close(self) -> None: ...

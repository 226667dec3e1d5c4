"""One reply as the routes read it: the engine's events, emitted on the model's worker, read on the event
loop; the first awaited before any status line, so a request the engine refuses is a plain 400; and
every open reply, so a server that shuts down ends each with an error event instead of cutting it."""

from __future__ import annotations

import asyncio
import threading
import time
import uuid
from collections.abc import AsyncIterator
from concurrent.futures import Future

from app.core.chat.engine import SamplingParams
from app.core.chat.events import ChatStats, StreamEvent, TextDelta, ToolStep
from app.core.chat.templates import Message
from app.core.jobs import CancelToken
from app.server.http import ApiError, from_hearth, watch_disconnect

_SHUTDOWN = object()  # put in a reply's queue when the server stops


class OpenReplies:
    """The replies under way; the server's stop() ends them (from any thread)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._replies: set[Reply] = set()
        self.closing = False

    def add(self, reply: Reply) -> None:
        with self._lock:
            if self.closing:
                raise ApiError(503, "the server is shutting down", "server_error", code="server_shutdown")
            self._replies.add(reply)

    def discard(self, reply: Reply) -> None:
        with self._lock:
            self._replies.discard(reply)

    def close_all(self) -> None:
        with self._lock:
            self.closing = True
            replies = list(self._replies)
        for reply in replies:
            reply.shut()


class Reply:
    """Its text pieces through texts(); stats, once they end, say how and why."""

    def __init__(self, prefix: str, model: str, cancel: CancelToken, timeout: float, open_replies: OpenReplies):
        self.model, self.cancel, self.timeout = model, cancel, timeout
        self.id, self.created = f"{prefix}-{uuid.uuid4().hex[:24]}", int(time.time())
        self.stats: ChatStats | None = None
        self._open = open_replies
        self._loop = asyncio.get_running_loop()
        self._queue: asyncio.Queue[object] = asyncio.Queue()
        self._held: list[object] = []

    async def begin(self, request, backends, messages: list[Message], params: SamplingParams) -> None:
        """Starts the job and waits for its first event (ready); a client that leaves meanwhile stops it."""
        try:
            self.start(backends, messages, params)
            async with watch_disconnect(request, self.cancel):
                await self.ready()
        except BaseException:
            self.close()
            raise

    def start(self, backends, messages: list[Message], params: SamplingParams) -> None:
        self._open.add(self)
        fut = backends.chat(self.model, messages, params, self.cancel, self._emit)
        fut.add_done_callback(lambda f: self._loop.call_soon_threadsafe(self._queue.put_nowait, f))

    def _emit(self, event: StreamEvent) -> None:
        """On the model's worker thread."""
        self._loop.call_soon_threadsafe(self._queue.put_nowait, event)

    def shut(self) -> None:
        """From any thread: the server is stopping."""
        self.cancel.cancel()
        self._loop.call_soon_threadsafe(self._queue.put_nowait, _SHUTDOWN)

    async def _next(self) -> object:
        if self._held:
            return self._held.pop()
        try:
            return await asyncio.wait_for(self._queue.get(), self.timeout)
        except asyncio.TimeoutError:
            self.cancel.cancel()
            raise ApiError(504, f"no word from the model in {self.timeout:.0f} s", "timeout") from None

    async def ready(self) -> None:
        """Waits for the engine's first event: a prompt too long or a schema it cannot follow is raised
        here, while the answer can still be a 400."""
        item = await self._next()
        exc = item.exception() if isinstance(item, Future) else None
        if exc is not None:
            self.close()
            raise from_hearth(exc)
        self._held.append(item)

    async def texts(self) -> AsyncIterator[str]:
        """The reply's text pieces; self.stats is set by the end. Ends with the job, raising its error."""
        try:
            while True:
                item = await self._next()
                if item is _SHUTDOWN:
                    raise ApiError(503, "the server is shutting down: the reply was cut off here", "server_error",
                                   code="server_shutdown")
                match item:
                    case TextDelta(text):
                        if text:
                            yield text
                    case ChatStats():
                        self.stats = item
                    case ToolStep():
                        pass  # the API has no tools yet
                    case Future():  # the job: done
                        exc = item.exception()
                        if exc is not None:
                            raise from_hearth(exc)
                        return
        finally:
            self.close()

    def close(self) -> None:
        self.cancel.cancel()  # a finished job ignores it
        self._open.discard(self)

    def finish_reason(self) -> str:
        return "length" if self.stats is not None and self.stats.stop_reason == "length" else "stop"

    def usage(self) -> dict:
        p = self.stats.prompt_tokens if self.stats else 0
        c = self.stats.completion_tokens if self.stats else 0
        return {"prompt_tokens": p, "completion_tokens": c, "total_tokens": p + c}

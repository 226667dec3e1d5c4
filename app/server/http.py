"""The HTTP plumbing the routes share: OpenAI's error shape, the key check, body
limits, request timeouts, and a streamed response that notices a client leaving."""

from __future__ import annotations

import asyncio
import hmac
import json
import logging
from functools import partial

import anyio
from starlette.requests import ClientDisconnect
from starlette.responses import JSONResponse, StreamingResponse

from app.core.jobs import Cancelled, CancelToken, HearthError, InputError

log = logging.getLogger(__name__)


class ApiError(Exception):
    def __init__(self, status: int, message: str, type_: str = "invalid_request_error", param: str | None = None,
                 code: str | None = None):
        super().__init__(message)
        self.status, self.message, self.type, self.param, self.code = status, message, type_, param, code

    def body(self) -> dict:
        return {"error": {"message": self.message, "type": self.type, "param": self.param, "code": self.code}}


def error_response(exc: ApiError) -> JSONResponse:
    return JSONResponse(exc.body(), status_code=exc.status)


def from_hearth(exc: BaseException) -> ApiError:
    """A core engine's error as the API reports it."""
    from app.core.chat.engine import ContextLengthError
    from app.server.backends import UnknownModel

    if isinstance(exc, ApiError):
        return exc
    if isinstance(exc, UnknownModel):
        return ApiError(404, str(exc), param="model", code="model_not_found")
    if isinstance(exc, ContextLengthError):
        return ApiError(400, str(exc), param="messages", code="context_length_exceeded")
    if isinstance(exc, InputError):
        return ApiError(400, str(exc))
    if isinstance(exc, Cancelled):
        return ApiError(499, "the request was cancelled", "cancelled")
    if isinstance(exc, HearthError):
        return ApiError(500, str(exc), "server_error")
    log.error("request failed", exc_info=exc)
    return ApiError(500, f"internal error: {type(exc).__name__}", "server_error")


async def wait(fut, timeout: float, cancel: CancelToken | None = None, since: float | None = None):
    """A worker's result, within the request timeout; a timed-out job is told to stop. ``since``: when the
    request's first job began (the loop's clock), for a request of several jobs under one timeout."""
    left = timeout if since is None else max(0.0, since + timeout - asyncio.get_running_loop().time())
    try:
        return await asyncio.wait_for(asyncio.wrap_future(fut), left)
    except asyncio.TimeoutError:
        if cancel is not None:
            cancel.cancel()
        fut.cancel()
        raise ApiError(504, f"the request took longer than {timeout:.0f} s", "timeout") from None
    except asyncio.CancelledError:
        if cancel is not None:
            cancel.cancel()
        fut.cancel()
        raise


def picture_budget(request, cancel: CancelToken):
    """What this request may spend decoding its pictures; it stops when the client leaves."""
    from app.core.images.scan import RequestBudget

    limits = request.app.state.limits
    return RequestBudget(limits.picture_pixels, limits.picture_seconds, cancel)


class watch_disconnect:  # noqa: N801 - used as a context manager, like a function
    """While a non-streamed job runs, a client that leaves cancels it (the body is read by then,
    so the next message the server has for us is the disconnect)."""

    def __init__(self, request, cancel: CancelToken):
        self.request, self.cancel = request, cancel
        self.task: asyncio.Task | None = None

    async def _watch(self) -> None:
        while True:
            message = await self.request.receive()
            if message["type"] == "http.disconnect":
                log.info("the client left: its request is stopped")
                self.cancel.cancel()
                return

    async def __aenter__(self):
        self.task = asyncio.create_task(self._watch())
        return self

    async def __aexit__(self, *exc):
        if self.task is not None:
            self.task.cancel()
        return False


async def read_json(request) -> dict:
    # A web form or a page's text/plain POST is sent without a preflight: only JSON is taken.
    kind = request.headers.get("content-type", "").partition(";")[0].strip().lower()
    if kind != "application/json":
        raise ApiError(415, f"send the request as JSON (Content-Type: application/json, not '{kind[:60] or 'none'}')",
                       code="unsupported_media_type")
    try:
        raw = await request.body()
    except ClientDisconnect:  # it left, or was closed for pausing mid-body: nobody to answer
        raise ApiError(400, "the request body did not arrive") from None
    try:
        data = json.loads(raw)
    except ValueError:
        raise ApiError(400, "the request body is not valid JSON") from None
    except RecursionError:  # the parser's own guard against a deep stack
        raise ApiError(400, "the request body is nested too deeply") from None
    if not isinstance(data, dict):
        raise ApiError(400, "the request body must be a JSON object")
    return data


# --- ASGI middleware ----------------------------------------------------------------------


async def _send_error(send, exc: ApiError) -> None:
    body = json.dumps(exc.body()).encode()
    await send({"type": "http.response.start", "status": exc.status,
                "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]})
    await send({"type": "http.response.body", "body": body})


class KeyCheck:
    """Bearer key, compared in constant time. Preflight requests pass (CORS sits outside).
    Requests under way are counted by whether they showed the key, so callers without it
    (answered at once) never use up the places of those with it."""

    def __init__(self, app, api_key: str, in_flight: int = 64):
        self.app, self.key, self.in_flight = app, api_key.encode(), in_flight
        self.busy = {"authorised": 0, "keyless": 0}

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        pool = "keyless"
        if self.key and scope.get("method") != "OPTIONS":
            given = b""
            for name, value in scope.get("headers", []):
                if name == b"authorization":
                    given = value
            scheme, _, token = given.partition(b" ")
            ok = hmac.compare_digest(token.strip() if scheme.lower() == b"bearer" else b"", self.key)
            if not ok:
                await _send_error(send, ApiError(401, "missing or wrong API key (send Authorization: Bearer KEY)",
                                                 "authentication_error", code="invalid_api_key"))
                return
            pool = "authorised"
        if self.busy[pool] >= self.in_flight:
            log.warning("refused a request: %d under way already", self.busy[pool])
            await _send_error(send, ApiError(503, f"the server is busy with {self.in_flight} requests; try again "
                                             "shortly", "server_busy", code="too_many_requests"))
            return
        self.busy[pool] += 1
        try:
            await self.app(scope, receive, send)
        finally:
            self.busy[pool] -= 1


class _TooLargeError(ApiError):
    """Raised inside the app, so its error handler answers 413 in OpenAI's shape."""


class BodyLimit:
    """Refuses a body over the limit for its path, by Content-Length or by counting."""

    def __init__(self, app, limit_for):
        self.app, self.limit_for = app, limit_for

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        limit = self.limit_for(scope.get("path", ""))
        error = ApiError(413, f"the request body is larger than this endpoint takes ({limit >> 20} MB at most)",
                         code="request_too_large")
        for name, value in scope.get("headers", []):
            if name == b"content-length":
                try:
                    too_big = int(value) > limit
                except ValueError:
                    too_big = True
                if too_big:
                    return await _send_error(send, error)
        seen = 0
        started = False

        async def counted():
            nonlocal seen
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > limit:
                    raise _TooLargeError(error.status, error.message, code=error.code)
            return message

        async def tracked(message):
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            await self.app(scope, counted, tracked)
        except _TooLargeError:
            if not started:
                await _send_error(send, error)


class CancellableStream(StreamingResponse):
    """A stream that listens for the client leaving whatever the ASGI version, and then
    cancels the job at once (not at the next write)."""

    def __init__(self, content, cancel: CancelToken, **kwargs):
        super().__init__(content, **kwargs)
        self.cancel = cancel

    async def listen_for_disconnect(self, receive) -> None:
        await super().listen_for_disconnect(receive)
        self.cancel.cancel()

    async def __call__(self, scope, receive, send) -> None:
        try:
            async with anyio.create_task_group() as group:

                async def run(func) -> None:
                    await func()
                    group.cancel_scope.cancel()

                group.start_soon(run, partial(self.stream_response, send))
                await run(partial(self.listen_for_disconnect, receive))
        except Exception as exc:  # noqa: BLE001 - the client went away mid-write (in a task group's wrapping)
            log.info("stream ended early: %r", exc)
        finally:
            self.cancel.cancel()  # a finished job ignores it; an unfinished one stops

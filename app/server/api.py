"""The ASGI application: routes, OpenAI's error shape, and the safety layers around them."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.middleware.cors import CORSMiddleware
from starlette.responses import JSONResponse
from starlette.routing import Route
from starlette.types import ASGIApp

from app.server.chat import chat_completions
from app.server.completions import completions
from app.server.connections import ConnectionLimits
from app.server.guard import HostOriginGuard, normalise_origins
from app.server.http import ApiError, BodyLimit, KeyCheck, error_response, from_hearth
from app.server.media import embeddings, image_search, transcriptions, translations
from app.server.reply import OpenReplies

log = logging.getLogger(__name__)


@dataclass
class Limits:
    body_bytes: int = 8 << 20  # JSON requests: a few pictures as data URIs at most
    upload_bytes: int = 200 << 20  # audio files
    timeout_s: float = 600.0  # a request's whole job, or the wait for the model's next word
    in_flight: int = 64  # requests under way at once, with the key (or all, without one)
    # One request's pictures, decoded in all: a few hundred near-limit bombs cost seconds, not minutes.
    picture_pixels: int = 1_000_000_000
    picture_seconds: float = 60.0


@dataclass
class ServerOptions:
    api_key: str = ""
    cors: list[str] = field(default_factory=list)
    allow_hosts: list[str] = field(default_factory=list)  # Host names besides loopback and the bound address
    limits: Limits = field(default_factory=Limits)
    connections: ConnectionLimits = field(default_factory=ConnectionLimits)


def _model(m) -> dict:
    return {"id": m.id, "object": "model", "created": m.created, "owned_by": "hearth", "kind": m.kind}


async def list_models(request):
    models = request.app.state.backends.models()
    return JSONResponse({"object": "list", "data": [_model(m) for m in models]})


async def get_model(request):
    """GET /v1/models/{id}: one installed model (ids may hold a slash: a file's stem never does, but be kind)."""
    wanted = request.path_params["model"]
    for m in request.app.state.backends.models():
        if m.id == wanted:
            return JSONResponse(_model(m))
    raise ApiError(404, f"the model '{wanted[:200]}' does not exist (GET /v1/models lists those installed)",
                   param="model", code="model_not_found")


async def _api_error(request, exc: ApiError):
    return error_response(exc)


async def _http_error(request, exc: HTTPException):
    code = "not_found" if exc.status_code == 404 else None
    return error_response(ApiError(exc.status_code, str(exc.detail), code=code))


async def _other_error(request, exc: Exception):
    return error_response(from_hearth(exc))


def create_app(backends, options: ServerOptions | None = None, host: str = "127.0.0.1",
               replies: OpenReplies | None = None):
    """host: the address the server listens on (a Host header may name it); replies: the streams its
    stop() ends."""
    options = options or ServerOptions()
    routes = [
        Route("/v1/models", list_models, methods=["GET"]),
        Route("/v1/models/{model:path}", get_model, methods=["GET"]),
        Route("/v1/chat/completions", chat_completions, methods=["POST"]),
        Route("/v1/completions", completions, methods=["POST"]),
        Route("/v1/audio/transcriptions", transcriptions, methods=["POST"]),
        Route("/v1/audio/translations", translations, methods=["POST"]),
        Route("/v1/embeddings", embeddings, methods=["POST"]),
        Route("/v1/images/search", image_search, methods=["POST"]),
    ]
    # Starlette hands each handler the exception type it is keyed by; its stub types every handler as taking Exception.
    app = Starlette(routes=routes, exception_handlers={
        ApiError: _api_error, HTTPException: _http_error,  # type: ignore[dict-item]
        Exception: _other_error})
    app.state.backends = backends
    app.state.timeout = options.limits.timeout_s
    app.state.limits = options.limits
    app.state.replies = replies or OpenReplies()
    limits = options.limits

    def limit_for(path: str) -> int:
        return limits.upload_bytes if path.startswith("/v1/audio/") else limits.body_bytes

    asgi: ASGIApp = BodyLimit(app, limit_for)
    asgi = KeyCheck(asgi, options.api_key, limits.in_flight)
    origins = normalise_origins(options.cors)
    if origins:
        asgi = CORSMiddleware(asgi, allow_origins=origins, allow_methods=["GET", "POST"],
                              allow_headers=["Authorization", "Content-Type"])
    return HostOriginGuard(asgi, host, options.allow_hosts, origins)

"""`hearth serve`: the installed models on an OpenAI-compatible HTTP API."""

from __future__ import annotations

import os
import sys


def add_parser(sub) -> None:
    from app.server.run import DEFAULT_PORT

    p = sub.add_parser("serve", help="serve the installed models on an OpenAI-compatible API (/v1)")
    p.add_argument("--host", default="127.0.0.1", help="address to listen on (default: loopback only; any other "
                   "needs --api-key)")
    p.add_argument("--port", type=int, default=DEFAULT_PORT, help=f"port (default {DEFAULT_PORT}; 0: any free one)")
    p.add_argument("--api-key", help="require this key (Authorization: Bearer KEY); also HEARTH_API_KEY")
    p.add_argument("--cors", action="append", default=[], metavar="ORIGIN",
                   help="let web pages from this origin call the API (repeatable; '*' needs --api-key)")
    p.add_argument("--allow-host", action="append", default=[], metavar="NAME",
                   help="answer requests that reach the server by this name too (repeatable; loopback names and "
                   "the --host address are always answered)")
    p.add_argument("--ctx", type=int, default=4096, help="chat context length (capped at the model's)")
    p.add_argument("--timeout", type=float, default=600.0, help="seconds a request may take (default 600)")
    p.set_defaults(func=run)


def run(args) -> int:
    from app.core.jobs import HearthError

    key = args.api_key or os.environ.get("HEARTH_API_KEY", "")
    try:
        from app.server.api import Limits, ServerOptions
        from app.server.backends import LocalBackends
        from app.server.run import HearthServer

        options = ServerOptions(api_key=key, cors=list(args.cors),
                                allow_hosts=list(args.allow_host), limits=Limits(timeout_s=args.timeout))
        backends = LocalBackends(n_ctx=args.ctx)
        server = HearthServer(backends, args.host, args.port, options)
    except HearthError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    print(f"Hearth serves on {server.url} (Ctrl+C stops)", file=sys.stderr, flush=True)
    try:
        server.run()
    finally:
        backends.close()
    return 0

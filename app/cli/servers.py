"""`hearth servers add|list|remove|models`: the remote OpenAI-compatible chat servers."""

from __future__ import annotations

import os
import sys

from app.core.untrusted import printable

SHOWN_WHEN_ADDED = 20  # `servers models` lists up to what the pickers keep (servers.MAX_MODELS)


def add_parser(sub) -> None:
    p = sub.add_parser("servers", help="remote OpenAI-compatible chat servers (chat --model SERVER/MODEL)")
    ssub = p.add_subparsers(dest="servers_command", metavar="ACTION", required=True)
    add = ssub.add_parser("add", help="add (or replace) a server")
    add.add_argument("name", help="a short name: lower-case letters, digits, '.', '_', '-'")
    add.add_argument("url", help="its base URL, e.g. http://gpu-box:8080/v1 (an empty path means /v1)")
    add.add_argument("--api-key-env", metavar="VAR", help="read the API key from this environment variable")
    add.add_argument("--api-key", help="the API key (visible in the process list: prefer --api-key-env)")
    add.add_argument("--no-check", action="store_true", help="add it without asking it for its models")
    add.set_defaults(func=run_add)
    ls = ssub.add_parser("list", help="list the servers (keys are not shown)")
    ls.set_defaults(func=run_list)
    rm = ssub.add_parser("remove", help="forget a server and its key")
    rm.add_argument("name")
    rm.set_defaults(func=run_remove)
    models = ssub.add_parser("models", help="list a server's models")
    models.add_argument("name")
    models.set_defaults(func=run_models)


def run_add(args) -> int:
    from app.core.chat.openai_remote import list_models
    from app.core.chat.servers import ServerList, make_server
    from app.core.jobs import HearthError

    key = args.api_key or (os.environ.get(args.api_key_env, "") if args.api_key_env else "")
    try:
        server = make_server(args.name, args.url, key)
        models = [] if args.no_check else list_models(server)
        ServerList().add(server.name, server.base_url, server.api_key, models)
    except HearthError as exc:
        _error(exc)
        return 1
    print(f"added {server.name} ({server.base_url})")
    _print_models(server.name, models, "  ", SHOWN_WHEN_ADDED)
    return 0


def _print_models(name: str, models: list[str], indent: str = "", limit: int = 0) -> None:
    """A server's model ids as it sent them: escaped, and not all of a list that never ends."""
    from app.core.chat.servers import MAX_MODELS

    limit = limit or MAX_MODELS
    for m in models[:limit]:
        print(f"{indent}{name}/{printable(m, 256)}")
    if len(models) > limit:
        print(f"{indent}… and {len(models) - limit:,} more (the chat's model list keeps the first {MAX_MODELS})")


def _error(exc) -> None:
    print(f"error: {printable(str(exc), keep=chr(10))}", file=sys.stderr)


def run_list(args) -> int:
    from app.core.chat.servers import ServerList

    listing = ServerList()
    servers = listing.load()
    if listing.problem:
        print(f"note: {printable(listing.problem)}", file=sys.stderr)
    if not servers:
        print("no servers added (python -m app servers add NAME URL)")
    for s in servers.values():
        print(f"{s.name}\t{printable(s.base_url)}\t{'key' if s.api_key else 'no key'}")
    return 0


def run_remove(args) -> int:
    from app.core.chat.servers import ServerList
    from app.core.jobs import HearthError

    try:
        ServerList().remove(args.name)
    except HearthError as exc:
        _error(exc)
        return 1
    return 0


def run_models(args) -> int:
    from app.core.chat.openai_remote import list_models
    from app.core.chat.servers import ServerList
    from app.core.jobs import HearthError

    server = ServerList().get(args.name)
    if server is None:
        _error(f"no server named {args.name!r}")
        return 1
    try:
        models = list_models(server)
        ServerList().add(server.name, server.base_url, server.api_key, models)  # the pickers' list, refreshed
        _print_models(server.name, models)
    except HearthError as exc:
        _error(exc)
        return 1
    return 0

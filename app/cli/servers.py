"""`hearth servers add|list|remove|models`: the remote OpenAI-compatible chat servers."""

from __future__ import annotations

import os
import sys


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
        print(f"error: {exc}", file=sys.stderr)
        return 1
    print(f"added {server.name} ({server.base_url})")
    for m in models:
        print(f"  {server.name}/{m}")
    return 0


def run_list(args) -> int:
    from app.core.chat.servers import ServerList

    servers = ServerList().load()
    if not servers:
        print("no servers added (python -m app servers add NAME URL)")
    for s in servers.values():
        print(f"{s.name}\t{s.base_url}\t{'key' if s.api_key else 'no key'}")
    return 0


def run_remove(args) -> int:
    from app.core.chat.servers import ServerList
    from app.core.jobs import HearthError

    try:
        ServerList().remove(args.name)
    except HearthError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    return 0


def run_models(args) -> int:
    from app.core.chat.openai_remote import list_models
    from app.core.chat.servers import ServerList
    from app.core.jobs import HearthError

    server = ServerList().get(args.name)
    if server is None:
        print(f"error: no server named {args.name!r}", file=sys.stderr)
        return 1
    try:
        models = list_models(server)
        ServerList().add(server.name, server.base_url, server.api_key, models)  # the pickers' list, refreshed
        for m in models:
            print(f"{server.name}/{m}")
    except HearthError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    return 0

"""`hearth chats list|export|import`: the chat history's conversations, to files and back."""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path


def add_parser(sub) -> None:
    p = sub.add_parser("chats", help="list, export and import chat conversations")
    csub = p.add_subparsers(dest="chats_command", metavar="ACTION", required=True)
    ls = csub.add_parser("list", help="list the conversations, newest first, with their ids")
    ls.add_argument("--json", action="store_true")
    ls.set_defaults(func=run_list)
    ex = csub.add_parser("export", help="export a conversation to FILE (.md or .json), pictures beside it")
    ex.add_argument("conversation_id", metavar="ID", type=int, help="its id (see: chats list)")
    ex.add_argument("file", metavar="FILE", help="the file to write: its suffix picks the format (.md or .json)")
    ex.set_defaults(func=run_export)
    imp = csub.add_parser("import", help="import a JSON export (with its pictures beside it); prints the new id")
    imp.add_argument("file", metavar="FILE")
    imp.set_defaults(func=run_import)


def _history():
    from app.core.chat.history import ChatHistory

    return ChatHistory()


def run_list(args) -> int:
    history = _history()
    try:
        counts = history.message_counts()
        rows = [(c, counts.get(c.id, 0)) for c in history.conversations()]
    finally:
        history.close()
    if args.json:
        print(json.dumps([{"id": c.id, "title": c.title, "model": c.model, "created": c.created,
                           "updated": c.updated, "messages": n} for c, n in rows], indent=2, ensure_ascii=False))
        return 0
    if not rows:
        print("no chats yet")
    for c, n in rows:
        when = datetime.fromtimestamp(c.updated).strftime("%Y-%m-%d %H:%M")
        print(f"{c.id}\t{when}\t{n} messages\t{c.title}")
    return 0


def run_export(args) -> int:
    from app.core.chat.export import export_file, kind_for

    path = Path(args.file).expanduser().absolute()
    kind = kind_for(path)
    history = _history()
    try:
        done = export_file(history, args.conversation_id, path, kind)
    finally:
        history.close()
    beside = f" and {done.beside()} beside it" if done.beside() else ""
    print(f"exported chat {args.conversation_id} to {done.path}{beside}")
    return 0


def run_import(args) -> int:
    from app.core.chat.export import import_conversation

    history = _history()
    try:
        conv = import_conversation(history, Path(args.file).expanduser().absolute())
    finally:
        history.close()
    print(conv.id)
    return 0

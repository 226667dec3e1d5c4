"""The command line: `python -m app COMMAND`. It drives the same engines as the GUI."""

from __future__ import annotations

import argparse
import logging
import sys

from app import __version__
from app.cli import ask, chat, chats, docs, doctor, find, models, search, serve, servers, transcribe


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="hearth",
        description="Hearth: local, offline chat, photo search and transcription. Without a command, opens the window.",
    )
    parser.add_argument("--version", action="version", version=f"Hearth {__version__}")
    parser.add_argument(
        "--self-test", action="store_true", help="open the window, wait for the first paint, check the panes, exit"
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    doctor.add_parser(sub)
    models.add_parser(sub)
    chat.add_parser(sub)
    chats.add_parser(sub)
    transcribe.add_parser(sub)
    search.add_parser(sub)
    docs.add_parser(sub)
    find.add_parser(sub)
    servers.add_parser(sub)
    serve.add_parser(sub)
    ask.add_parser(sub)
    return parser


def run(args) -> int:
    """Runs one command, then says once what became of any saved file it met (set aside, a newer
    Hearth's kept as it is)."""
    from app.core.saved_json import take_notices
    from app.core.untrusted import printable

    try:
        return _run(args)
    finally:
        for notice in take_notices():
            print(f"warning: {printable(notice)}", file=sys.stderr)


def _run(args) -> int:
    """Runs one command. Every command's failures end here: one line on stderr, an exit code,
    no traceback (an unexpected one goes to the log, whose path the line names)."""
    from app.core.jobs import HearthError
    from app.core.untrusted import printable

    try:
        return int(args.func(args) or 0)
    except HearthError as exc:  # its text may quote a server or a file: no escape reaches the terminal
        print(f"error: {printable(str(exc), keep=chr(10))}", file=sys.stderr)
        if hint := getattr(exc, "cli_hint", ""):  # what to type next, added by the command that knows
            print(hint, file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    except OSError as exc:  # a full disk, a missing or unreadable file: the user can act on it
        where = f": {exc.filename}" if exc.filename else ""
        print(f"error: {exc.strerror or exc}{where}", file=sys.stderr)
        return 1
    except Exception as exc:
        from app.core import paths

        # INFO: the file log keeps the traceback; the console shows only the line below.
        logging.getLogger("app").info("command %s failed", args.command, exc_info=True)
        print(f"error: {type(exc).__name__}: {printable(str(exc), 500)} (details in {paths.log_file()})",
              file=sys.stderr)
        return 2

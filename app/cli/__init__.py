"""The command line: `python -m app COMMAND`. It drives the same engines as the GUI."""

from __future__ import annotations

import argparse

from app import __version__
from app.cli import chat, doctor, models, search, transcribe


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
    transcribe.add_parser(sub)
    search.add_parser(sub)
    return parser


def run(args) -> int:
    return int(args.func(args) or 0)

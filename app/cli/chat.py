"""`hearth chat`: one prompt, the answer streamed to stdout."""

from __future__ import annotations

import json
import signal
import sys
import threading
from contextlib import contextmanager


def add_parser(sub) -> None:
    p = sub.add_parser("chat", help="chat with a local GGUF model")
    p.add_argument("prompt", help="the message to send")
    p.add_argument("--model", help="a chat model id from the store, a .gguf path, or SERVER/MODEL for a model on a "
                   "server added with `servers add` (default: the pane's default)")
    p.add_argument("--system", default="", help="system prompt")
    p.add_argument("--max-tokens", type=int, default=256)
    p.add_argument("--temperature", type=float, help="default: the model's sampling default (0.7)")
    p.add_argument("--seed", type=int)
    p.add_argument("--ctx", type=int, default=4096, help="context length (capped at the model's)")
    p.add_argument("--format", dest="chat_format", help="override the chat format (gemma, chatml, llama3, ...)")
    p.add_argument("--image", action="append", default=[], metavar="PATH",
                   help="a picture to ask about (repeatable); needs a model that sees")
    p.add_argument("--projector", metavar="MMPROJ.gguf",
                   help="the vision projector for a model given by file path (a stored vision model has its own)")
    p.add_argument("--json", action="store_true", help="print the text and the stats as JSON at the end")
    p.set_defaults(func=run)


def run(args) -> int:
    from app.core.chat.engine import LoadOptions, SamplingParams
    from app.core.chat.events import ChatStats, TextDelta, ToolStep
    from app.core.chat.templates import Message
    from app.core.jobs import CancelToken, HearthError
    from app.core.opening import open_chat
    from app.core.untrusted import printable

    images = _pictures(args)
    engine = open_chat(args.model, LoadOptions(n_ctx=args.ctx, chat_format=args.chat_format,
                                               projector=args.projector or ""))
    for notice in engine.notices:
        print(f"note: {notice}", file=sys.stderr)
    messages = [Message("system", args.system)] if args.system else []
    messages.append(Message("user", args.prompt, images))
    params = SamplingParams(max_tokens=args.max_tokens, seed=args.seed)
    if args.temperature is not None:
        params.temperature = args.temperature
    text, stats, failed = "", None, None
    cancel = CancelToken()
    try:
        with _first_ctrl_c_stops(cancel):
            for event in engine.stream(messages, params, cancel):
                match event:
                    case TextDelta(piece):
                        text += piece
                        if not args.json:  # a reply is untrusted text too (a remote server's above all)
                            sys.stdout.write(printable(piece, keep="\n\t"))
                            sys.stdout.flush()
                    case ChatStats():
                        stats = event
                    case ToolStep():
                        pass  # no tools in a one-shot chat yet
    except HearthError as exc:
        if not cancel.cancelled and not text and not args.json:
            raise
        # Stopped and the model had to be ended, or the reply broke off: what came is kept, and a
        # script reading --json gets its object whatever came (an empty reply with the error too).
        failed = exc
    finally:
        engine.close()
    if args.json:
        print(json.dumps({"text": text, "stats": stats.to_dict() if stats else None,
                          **({"error": str(failed)} if failed else {})}, indent=2))
    else:
        print()
    if failed is not None:
        word = "note" if cancel.cancelled else "error"
        print(f"{word}: {printable(str(failed), keep=chr(10))}", file=sys.stderr)
    return 130 if cancel.cancelled else (1 if failed else 0)


@contextmanager
def _first_ctrl_c_stops(cancel):
    """The first Ctrl+C stops the reply (the stream then ends, or the model process is
    ended within a second); a second one leaves at once. Ctrl+C while loading already
    leaves at once: the model process is ended with the load."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def on_sigint(signum, frame):
        if cancel.cancelled:
            raise KeyboardInterrupt
        cancel.cancel()

    previous = signal.signal(signal.SIGINT, on_sigint)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)


def _pictures(args) -> tuple[bytes, ...]:
    """The --image files, decoded and shrunk for the model's projector; a bad one stops here, nothing sent."""
    from pathlib import Path

    from app.core.chat.pictures import prepare, side_for_projector
    from app.core.jobs import InputError
    from app.core.opening import projector_for, resolve

    if args.projector and not args.model:
        raise InputError("--projector goes with --model PATH.gguf (a stored vision model carries its own)")
    if not args.image:
        return ()
    projector = Path(args.projector).expanduser() if args.projector else projector_for(resolve("chat", args.model))
    if projector is None:
        raise InputError(f"{resolve('chat', args.model).name} cannot see pictures: choose a vision model "
                         "(models list shows which see), or give --projector MMPROJ.gguf with a model file")
    side = side_for_projector(projector)
    return tuple(prepare(Path(p).expanduser(), side=side).data for p in args.image)

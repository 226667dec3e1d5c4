"""`hearth ask QUESTION [--model ID] [--first-tool NAME] [--json]`: Ask Hearth (#26). The chat model
searches the user's photos, documents, recordings and chats with Hearth's tools, then answers citing
what it found; the steps are printed as they happen, then the answer."""

from __future__ import annotations

import json
import sys


def add_parser(sub) -> None:
    from app.core.ask.tools import TOOLS

    p = sub.add_parser("ask", help="ask about your own photos, documents and recordings (with Hearth's tools)")
    p.add_argument("question")
    p.add_argument("--model", help="a chat model id from the store, a .gguf path, or SERVER/MODEL (default: the "
                   "pane's default)")
    p.add_argument("--first-tool", choices=list(TOOLS), metavar="NAME",
                   help=f"make the first step a call of this tool ({', '.join(TOOLS)})")
    p.add_argument("--max-steps", type=int, default=4, help="tool calls at most before the answer (default 4)")
    p.add_argument("--max-tokens", type=int, default=256, help="the answer's length at most, in tokens")
    p.add_argument("--seed", type=int)
    p.add_argument("--ctx", type=int, default=4096, help="context length (capped at the model's)")
    p.add_argument("--json", action="store_true",
                   help='print {"steps": [...], "answer": "..."} at the end instead of the steps as they happen')
    p.set_defaults(func=run)


def run(args) -> int:
    from app.cli.chat import _first_ctrl_c_stops
    from app.core.ask.events import Answered, AnswerToken, StepDone
    from app.core.ask.loop import AskOptions, ask
    from app.core.ask.tools import ToolContext
    from app.core.chat.engine import LoadOptions, SamplingParams
    from app.core.find import Engines
    from app.core.jobs import CancelToken
    from app.core.opening import open_chat
    from app.core.untrusted import printable

    params = SamplingParams(max_tokens=args.max_tokens, seed=args.seed)
    options = AskOptions(max_steps=args.max_steps, first_tool=args.first_tool, params=params)
    options.check()  # a bad option is said before a model loads
    engine = open_chat(args.model, LoadOptions(n_ctx=args.ctx))
    for notice in engine.notices:
        print(f"note: {notice}", file=sys.stderr)
    cancel, engines = CancelToken(), Engines()
    ctx = ToolContext.for_user(engines=engines, cancel=cancel, vision=_vision(args.model, engine, params))
    answered = None
    try:
        with _first_ctrl_c_stops(cancel):
            for event in ask(engine, args.question, ctx, options):
                match event:
                    case StepDone() if not args.json:
                        print(f"• {printable(event.summary)}", flush=True)
                    case AnswerToken(text) if not args.json:
                        sys.stdout.write(printable(text, keep="\n\t"))
                        sys.stdout.flush()
                    case Answered():
                        answered = event
    finally:
        engines.close()
        engine.close()
    assert answered is not None
    if args.json:
        print(json.dumps(answered.to_json(), indent=2, ensure_ascii=False))
    else:
        print()
        for c in answered.citations:
            print(f"[{c.number}] {printable(c.result.get('path') or c.result.get('title') or '')}")
    if answered.error:
        word = "note" if answered.stop_reason == "cancelled" else "error"
        print(f"{word}: {printable(answered.error)}", file=sys.stderr)
    return 130 if answered.stop_reason == "cancelled" else (1 if answered.stop_reason == "error" else 0)


def _vision(model: str | None, engine, params):
    """look_at_photos through the chat model when it sees pictures; None otherwise (the tool says so)."""
    from app.core.ask.vision import chat_vision
    from app.core.chat.pictures import side_for_projector
    from app.core.chat.servers import split_remote
    from app.core.jobs import HearthError
    from app.core.opening import projector_for, resolve

    if model and split_remote(model) is not None:
        return None
    try:
        projector = projector_for(resolve("chat", model))
    except HearthError:
        return None
    return chat_vision(engine, side_for_projector(projector), params) if projector is not None else None

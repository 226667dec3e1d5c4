"""`hearth find QUERY [--kind KIND ...] [--limit N] [--json]`: one search across documents, transcripts,
photos and chats (app.core.find)."""

from __future__ import annotations

import json
import sys

KIND_NAMES = {"document": "Documents", "transcript": "Transcripts", "photo": "Photos", "chat": "Chats"}


def add_parser(sub) -> None:
    from app.core.find import KINDS

    p = sub.add_parser("find", help="search documents, transcripts, photos and chats at once")
    p.add_argument("query")
    p.add_argument("--kind", action="append", choices=KINDS, metavar="KIND",
                   help=f"search only this kind ({', '.join(KINDS)}; repeatable)")
    p.add_argument("--limit", type=int, default=5, help="hits per kind (default 5)")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=run)


def _where(hit) -> str:
    loc = hit.location
    if hit.kind == "photo":
        from app.core.images.taken_words import taken_label

        said = [w for w in (taken_label(loc.taken, loc.taken_source), loc.place) if w]
        return "".join(f" · {w}" for w in said)
    if hit.kind == "transcript" and loc.start is not None:
        m, s = divmod(int(loc.start), 60)
        return f" at {m:02d}:{s:02d}"
    if loc.page is not None:
        return f" p.{loc.page}"
    return f" ({loc.heading})" if loc.heading else ""


def run(args) -> int:
    from app.core.find import find
    from app.core.untrusted import printable

    result = find(args.query, kinds=args.kind, limit=max(1, args.limit))
    for kind, reason in result.skipped.items():  # said on stderr, so --json stays a list of hits
        print(f"{KIND_NAMES[kind].lower()}: not searched: {reason}", file=sys.stderr)
    if args.json:
        print(json.dumps([h.to_json() for h in result.hits], indent=2, ensure_ascii=False))
        return 0
    groups = result.by_kind()
    if not groups:
        print("nothing found")
    for kind, hits in groups.items():
        print(KIND_NAMES[kind])
        for h in hits:
            print(f"  {h.score:.4f}  {printable(h.path or h.title)}{printable(_where(h))}")
            if h.snippet:
                print(f"          {printable(h.snippet[:160])}")
    return 0

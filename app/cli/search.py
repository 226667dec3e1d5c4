"""`hearth search index DIR...` and `hearth search query [TEXT] [--image PATH]`."""

from __future__ import annotations

import json
import sys


def add_parser(sub) -> None:
    p = sub.add_parser("search", help="index photo folders and search them")
    ssub = p.add_subparsers(dest="search_command", metavar="ACTION", required=True)
    idx = ssub.add_parser("index", help="add folders to the library and index what is new or changed")
    idx.add_argument("dirs", nargs="+", metavar="DIR")
    idx.add_argument("--model", help="an images model id, or a model folder / checkpoint path")
    idx.add_argument("--arch", default="", help="OpenCLIP architecture, for a bare checkpoint path")
    idx.add_argument("--exclude", action="append", default=[], help="a glob of paths to leave out (repeatable)")
    idx.set_defaults(func=run_index)
    q = ssub.add_parser("query", help="search the library by text and/or image")
    q.add_argument("text", nargs="?", default="", help='words; "+term" adds and "-term" subtracts a concept')
    q.add_argument("--image", action="append", default=[], help="find pictures like this one (repeatable)")
    q.add_argument("--top", type=int, default=20)
    q.add_argument("--threshold", type=float)
    q.add_argument("--model", help="an images model id, or a model folder / checkpoint path")
    q.add_argument("--arch", default="")
    q.add_argument("--json", action="store_true")
    q.set_defaults(func=run_query)


def run_index(args) -> int:
    from app.core.images.index import ImageIndex, IndexProgress, IndexSummary
    from app.core.models.opening import open_encoder

    encoder, key = open_encoder(args.model, args.arch)
    index = ImageIndex()
    try:
        for d in args.dirs:
            index.add_folder(d, tuple(args.exclude))
        summary = None
        for item in index.index(encoder, key):
            if isinstance(item, IndexProgress):
                print(f"\r  {item.done}/{item.total} images, {item.rate:.1f}/s   ", end="", file=sys.stderr)
            elif isinstance(item, IndexSummary):
                summary = item
    finally:
        index.close()
    print(file=sys.stderr)
    skipped = sum(summary.skipped.values())
    print(f"embedded {summary.embedded}, unchanged {summary.unchanged}, removed {summary.removed}, "
          f"skipped {skipped} in {summary.seconds:.1f}s")
    for reason, n in sorted(summary.skipped.items()):
        print(f"  skipped {n}: {reason}")
    for folder in summary.offline_folders:
        print(f"  offline (kept): {folder}")
    return 0


def run_query(args) -> int:
    from app.core.images.index import ImageIndex
    from app.core.images.query import search_vector
    from app.core.models.opening import open_encoder

    encoder, key = open_encoder(args.model, args.arch)
    index = ImageIndex()
    try:
        vec = search_vector(args.text, encoder, index, key, args.image)
        hits = index.search(vec, key, args.top, args.threshold)
    finally:
        index.close()
    if args.json:
        print(json.dumps([{"path": h.path, "score": round(h.score, 4), "offline": h.offline} for h in hits], indent=2))
    else:
        for h in hits:
            print(f"{h.score:6.3f}  {h.path}{'  (offline)' if h.offline else ''}")
    return 0

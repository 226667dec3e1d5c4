"""`hearth search index DIR...` and `hearth search query [TEXT] [--image PATH] [--after DATE] [--before DATE]
[--place NAME]`."""

from __future__ import annotations

import json
import sys
from contextlib import contextmanager


def add_parser(sub) -> None:
    p = sub.add_parser("search", help="index photo folders and search them")
    ssub = p.add_subparsers(dest="search_command", metavar="ACTION", required=True)
    idx = ssub.add_parser("index", help="add folders to the library and index what is new or changed")
    idx.add_argument("dirs", nargs="+", metavar="DIR")
    idx.add_argument("--model", help="an images model id, or a model folder / checkpoint path")
    idx.add_argument("--arch", default="", help="OpenCLIP architecture, for a bare checkpoint path")
    idx.add_argument("--exclude", action="append", default=[], help="a glob of paths to leave out (repeatable)")
    idx.add_argument("--remove-missing", action="store_true",
                     help="remove the entries of a folder that lost every picture (else kept as offline)")
    idx.add_argument("--rebuild", action="store_true",
                     help="set a damaged photo index aside (kept, not deleted) and build a new one")
    idx.set_defaults(func=run_index)
    q = ssub.add_parser("query", help="search the library by text and/or image")
    q.add_argument("text", nargs="?", default="",
                   help='words; "+term" adds and "-term" subtracts a concept; "2023", "last August", "in Lisbon" '
                        "filter by when and where")
    q.add_argument("--image", action="append", default=[], help="find pictures like this one (repeatable)")
    q.add_argument("--top", type=int, default=20)
    q.add_argument("--threshold", type=float)
    q.add_argument("--model", help="an images model id, or a model folder / checkpoint path")
    q.add_argument("--arch", default="")
    q.add_argument("--after", metavar="DATE", help="taken on or after: 2023, 2023-08 or 2023-08-15")
    q.add_argument("--before", metavar="DATE", help="taken on or before: 2023, 2023-08 or 2023-08-15")
    q.add_argument("--place", metavar="NAME", help="taken in this place, region or country")
    q.add_argument("--json", action="store_true")
    q.set_defaults(func=run_query)
    d = ssub.add_parser("duplicates", help="list groups of near-duplicate photos and bursts, the one to keep first")
    d.add_argument("folder", nargs="?", help="only pictures under this folder (default: the whole library)")
    d.add_argument("--model", help="the images model whose index to use (default: the default images model)")
    d.add_argument("--json", action="store_true", help="a list of groups, each a list of paths, the keeper first")
    d.set_defaults(func=run_duplicates)


REBUILD_HINT = ("  Run `hearth search index --rebuild DIR...` to build a new index; the damaged file is set aside "
                "beside it (kept, not deleted).")


@contextmanager
def _rebuild_hint():
    """A damaged index is the CLI guard's one-line error, followed by how to rebuild it."""
    from app.core.images.index import IndexDamagedError

    try:
        yield
    except IndexDamagedError as exc:
        exc.cli_hint = REBUILD_HINT
        raise


def run_index(args) -> int:
    from app.core.images.index import ImageIndex, IndexProgress, IndexSummary
    from app.core.images.scan import display_path
    from app.core.opening import open_encoder

    encoder, key = open_encoder(args.model, args.arch)
    with _rebuild_hint():
        index = ImageIndex.rebuild() if args.rebuild else ImageIndex()
        try:
            for d in args.dirs:
                index.add_folder(d, tuple(args.exclude))
            summary = None
            for item in index.index(encoder, key, remove_missing=args.remove_missing):
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
        if folder in summary.emptied_folders:
            print(f"  empty or lost every picture, kept as offline: {display_path(folder)}"
                  " (if it is not an unplugged drive, run again with --remove-missing to remove its entries)")
        else:
            print(f"  offline (kept): {display_path(folder)}")
    return 0


def run_query(args) -> int:
    from app.core.images.filters import make_filters
    from app.core.images.index import ImageIndex
    from app.core.images.query import search_photos
    from app.core.images.scan import display_path, path_fields
    from app.core.opening import open_encoder

    filters = make_filters(args.after, args.before, args.place)  # a bad date is said before the model loads
    encoder, key = open_encoder(args.model, args.arch)
    with _rebuild_hint():
        index = ImageIndex()
        try:
            hits = search_photos(index, encoder, key, args.text, images=args.image, top=args.top,
                                 threshold=args.threshold, filters=filters)
        finally:
            index.close()
    if args.json:
        print(json.dumps([{**path_fields(h.path), "score": round(h.score, 4), "offline": h.offline, "taken": h.taken,
                           "taken_source": h.taken_source, "place": h.place} for h in hits], indent=2))
    else:
        for h in hits:
            when = f"  {h.taken[:10]}{'*' if h.taken_source == 'file' else ''}" if h.taken else ""
            score = f"{h.score:6.3f}" if h.ranked else "     -"  # a listing by date or place ranks nothing
            print(f"{score}  {display_path(h.path)}{when}{'  ' + h.place if h.place else ''}"
                  f"{'  (offline)' if h.offline else ''}")
    return 0


def run_duplicates(args) -> int:
    from app.core.images.cleanup import find_duplicates
    from app.core.images.index import ImageIndex
    from app.core.images.scan import display_path, path_fields
    from app.core.opening import encoder_key, resolve

    key = encoder_key(resolve("images", args.model))  # the vectors' key: the model itself is not loaded
    with _rebuild_hint():
        index = ImageIndex()
        try:
            groups = find_duplicates(index, key, args.folder)
        finally:
            index.close()
    if args.json:
        print(json.dumps([[path_fields(p.path)["path"] for p in g] for g in groups], indent=2))
        return 0
    for n, g in enumerate(groups, start=1):
        print(f"group {n}:")
        for k, p in enumerate(g):
            mark = "keep  " if k == 0 else "      "
            print(f"  {mark}{display_path(p.path)}  ({p.pixels / 1e6:.1f} MP, {p.size / 1e6:.1f} MB)")
    if not groups:
        print("no duplicates found")
    return 0

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
    idx.add_argument("--remove-missing", action="store_true",
                     help="remove the entries of a folder that lost every picture (else kept as offline)")
    idx.add_argument("--rebuild", action="store_true",
                     help="set a damaged photo index aside (kept, not deleted) and build a new one")
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


def load_encoder(model: str | None, arch: str = ""):
    """(encoder, model_key) from a store id, a folder or a checkpoint path."""
    from app.core.images.encoder import ImageEncoder
    from app.core.models.store import ModelStore

    store = ModelStore()
    path, entry = store.resolve(model or store.default_for("images"), "images")
    key = f"{entry.id}:{entry.sha256[:12]}" if entry else f"path:{path.resolve()}"
    return ImageEncoder(path, entry.architecture if entry and entry.architecture != "open_clip" else arch,
                        model_id=entry.id if entry else path.name), key


REBUILD_HINT = ("  Run `hearth search index --rebuild DIR...` to build a new index; the damaged file is set aside "
                "beside it (kept, not deleted).")


def run_index(args) -> int:
    from app.core.images.index import ImageIndex, IndexDamagedError, IndexProgress, IndexSummary
    from app.core.images.scan import display_path
    from app.core.jobs import HearthError

    try:
        encoder, key = load_encoder(args.model, args.arch)
        index = ImageIndex.rebuild() if args.rebuild else ImageIndex()
        for d in args.dirs:
            index.add_folder(d, tuple(args.exclude))
        summary = None
        for item in index.index(encoder, key, remove_missing=args.remove_missing):
            if isinstance(item, IndexProgress):
                print(f"\r  {item.done}/{item.total} images, {item.rate:.1f}/s   ", end="", file=sys.stderr)
            elif isinstance(item, IndexSummary):
                summary = item
    except HearthError as exc:
        print(f"error: {exc}", file=sys.stderr)
        if isinstance(exc, IndexDamagedError):
            print(REBUILD_HINT, file=sys.stderr)
        return 1
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
    from pathlib import Path

    from app.core.images.index import ImageIndex, IndexDamagedError
    from app.core.images.query import parse, query_vector
    from app.core.images.scan import SkipImage, display_path, open_image
    from app.core.jobs import HearthError, InputError

    try:
        encoder, key = load_encoder(args.model, args.arch)
        index = ImageIndex()
        vectors = []
        for p in args.image:
            stored = index.vector_of(str(Path(p).resolve()), key)
            if stored is not None:
                vectors.append(stored)
                continue
            try:
                vectors.append(encoder.embed_pil([open_image(p, encoder.image_size)])[0])
            except SkipImage as exc:
                raise InputError(f"{p}: {exc}") from exc
        vec = query_vector(parse(args.text), encoder, vectors)
        hits = index.search(vec, key, args.top, args.threshold)
    except HearthError as exc:
        print(f"error: {exc}", file=sys.stderr)
        if isinstance(exc, IndexDamagedError):
            print(REBUILD_HINT, file=sys.stderr)
        return 1
    if args.json:
        print(json.dumps([{"path": h.path, "score": round(h.score, 4), "offline": h.offline} for h in hits], indent=2))
    else:
        for h in hits:
            print(f"{h.score:6.3f}  {display_path(h.path)}{'  (offline)' if h.offline else ''}")
    return 0

"""`hearth docs add|remove|list|index|search`: the document folders, their index, and search over it."""

from __future__ import annotations

import json
import sys
from contextlib import contextmanager
from pathlib import Path


def add_parser(sub) -> None:
    p = sub.add_parser("docs", help="index document folders and search them")
    dsub = p.add_subparsers(dest="docs_command", metavar="ACTION", required=True)
    add = dsub.add_parser("add", help="add a folder of documents (indexed by `docs index`)")
    add.add_argument("dir", metavar="DIR")
    add.set_defaults(func=run_add)
    rm = dsub.add_parser("remove", help="remove a folder and its entries from the index (the files stay)")
    rm.add_argument("dir", metavar="DIR")
    rm.set_defaults(func=run_remove)
    ls = dsub.add_parser("list", help="the folders, their counts, and skipped files with reasons")
    ls.add_argument("--json", action="store_true")
    ls.set_defaults(func=run_list)
    idx = dsub.add_parser("index", help="read and embed what is new or changed; drop what was deleted")
    idx.add_argument("--model", help="an embedding model id or .gguf path (default: the default embedding model)")
    idx.set_defaults(func=run_index)
    q = dsub.add_parser("search", help="search the documents by words and meaning")
    q.add_argument("query")
    q.add_argument("--limit", type=int, default=10)
    q.add_argument("--model", help="an embedding model id or .gguf path (the one the index was built with)")
    q.add_argument("--json", action="store_true")
    q.set_defaults(func=run_search)


@contextmanager
def _index():
    """The document index; a damaged one is set aside (kept) and rebuilt, said on stderr."""
    from app.core.docs.index import DocsIndex, DocsIndexDamagedError

    try:
        index = DocsIndex()
    except DocsIndexDamagedError as exc:
        print(f"warning: {exc}; it is set aside (kept) and a new one is built: run `hearth docs index`",
              file=sys.stderr)
        index = DocsIndex.rebuild()
    try:
        yield index
    finally:
        index.close()


def run_add(args) -> int:
    from app.core.jobs import InputError

    if not Path(args.dir).expanduser().is_dir():
        raise InputError(f"{args.dir} is not a folder")
    with _index() as index:
        print(f"added {index.add_folder(args.dir)}; run `hearth docs index` to read it")
    return 0


def run_remove(args) -> int:
    from app.core.jobs import InputError

    with _index() as index:
        if not index.remove_folder(args.dir):
            raise InputError(f"{args.dir} is not one of the document folders")
    print(f"removed {args.dir} and its entries")
    return 0


def run_list(args) -> int:
    with _index() as index:
        folders, skipped = index.folders(), index.skipped()
    if args.json:
        print(json.dumps({"folders": folders, "skipped": [{"path": p, "reason": r} for p, r in skipped]}, indent=2))
        return 0
    from app.core.untrusted import printable

    for f in folders:
        print(f"{printable(f['path'])}: {f['files']} files, {f['chunks']} chunks, {f['skipped']} skipped")
    for path, reason in skipped:
        print(f"  skipped {printable(path)}: {reason}")
    return 0


def run_index(args) -> int:
    from app.core.docs.index import DocProgress, DocSummary
    from app.core.opening import open_embedder

    embedder = open_embedder(args.model)
    summary = None
    try:
        with _index() as index:
            for item in index.index(embedder):
                if isinstance(item, DocProgress):
                    print(f"\r  {item.done}/{item.total} files, {item.chunks} chunks   ", end="", file=sys.stderr)
                elif isinstance(item, DocSummary):
                    summary = item
    finally:
        embedder.close()
    print(file=sys.stderr)
    assert summary is not None
    if summary.set_aside:
        print(f"warning: the document index was damaged; it is set aside (kept) as {summary.set_aside} and was "
              "built again", file=sys.stderr)
    print(f"indexed {summary.indexed} ({summary.chunks} chunks), unchanged {summary.unchanged}, removed "
          f"{summary.removed}, skipped {len(summary.skipped)} in {summary.seconds:.1f}s")
    for folder in summary.missing_folders:
        print(f"  not found, entries kept: {folder}")
    return 0


def run_search(args) -> int:
    from app.core.opening import open_embedder
    from app.core.untrusted import printable

    embedder = open_embedder(args.model)
    try:
        with _index() as index:
            hits = index.search(args.query, embedder, max(1, args.limit))
    finally:
        embedder.close()
    if args.json:
        out = []
        for h in hits:
            hit = {"path": h.path, "score": round(h.score, 6), "text": h.text, "start": h.start, "end": h.end}
            if h.page is not None:
                hit["page"] = h.page
            if h.heading:
                hit["heading"] = h.heading
            out.append(hit)
        print(json.dumps(out, indent=2, ensure_ascii=False))
        return 0
    for h in hits:
        where = f" p.{h.page}" if h.page is not None else (f" ({h.heading})" if h.heading else "")
        snippet = " ".join(h.text.split())[:160]
        print(f"{h.score:.4f}  {printable(h.path)}{printable(where)}\n        {printable(snippet)}")
    return 0

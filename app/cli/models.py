"""`hearth models ...`: list, import, remove, verify and provision models."""

from __future__ import annotations

import json
import sys
from dataclasses import asdict

from app.core.jobs import HearthError


def add_parser(sub) -> None:
    p = sub.add_parser("models", help="manage installed models")
    msub = p.add_subparsers(dest="models_command", metavar="ACTION", required=True)

    ls = msub.add_parser("list", help="list installed models")
    ls.add_argument("--kind", choices=("chat", "images", "speech"))
    ls.add_argument("--json", action="store_true")
    ls.set_defaults(func=_list)

    imp = msub.add_parser("import", help="import a local model file or folder")
    imp.add_argument("path")
    imp.add_argument("--kind", required=True, choices=("chat", "images", "speech"))
    imp.add_argument("--id", dest="model_id", help="the id to register it under (default: from the name)")
    imp.add_argument("--mode", default="copy", choices=("copy", "move", "link"))
    imp.add_argument("--arch", default="", help="OpenCLIP architecture (images only), e.g. ViT-B-32")
    imp.set_defaults(func=_import)

    rm = msub.add_parser("remove", help="remove an installed model and its files")
    rm.add_argument("model_id")
    rm.set_defaults(func=_remove)

    ver = msub.add_parser("verify", help="re-hash installed files against the store")
    ver.add_argument("model_id", nargs="?")
    ver.set_defaults(func=_verify)

    prov = msub.add_parser("provision", help="install the offline starter models (idempotent)")
    prov.set_defaults(func=_provision)

    dl = msub.add_parser("download", help="download a model (not in this build yet)")
    dl.add_argument("what")
    dl.add_argument("--kind", choices=("chat", "images", "speech"))
    dl.set_defaults(func=_download)


def _guard(fn):
    def wrapper(args) -> int:
        try:
            return fn(args)
        except HearthError as exc:
            print(f"error: {exc}", file=sys.stderr)
            return 1

    return wrapper


def _store():
    from app.core.models.store import ModelStore

    return ModelStore()


@_guard
def _list(args) -> int:
    store = _store()
    entries = store.list(args.kind)
    if args.json:
        print(json.dumps([asdict(e) | {"abs_path": str(store.path_of(e))} for e in entries], indent=2))
        return 0
    if not entries:
        print("no models installed")
    for e in entries:
        flag = "" if e.verified else "  (unverified)"
        print(f"{e.id:<28} {e.kind:<7} {e.size / 2**20:9.1f} MB  {e.format:<12} {e.source}{flag}")
    return 0


@_guard
def _import(args) -> int:
    entry = _store().import_path(args.path, args.kind, args.model_id, args.mode, architecture=args.arch)
    print(f"imported {entry.id} ({entry.kind}, {entry.size / 2**20:.1f} MB)")
    return 0


@_guard
def _remove(args) -> int:
    _store().remove(args.model_id)
    print(f"removed {args.model_id}")
    return 0


@_guard
def _verify(args) -> int:
    store = _store()
    ids = [args.model_id] if args.model_id else [e.id for e in store.list()]
    bad = [i for i in ids if not store.verify(i)]
    for i in ids:
        print(f"{i}: {'FAILED' if i in bad else 'ok'}")
    return 1 if bad else 0


@_guard
def _provision(args) -> int:
    from app.core.models.starter import provision

    installed = provision(_store())
    print("installed: " + ", ".join(installed) if installed else "starter models already installed")
    return 0


def _download(args) -> int:
    print("error: downloads are not in this build yet", file=sys.stderr)
    return 2

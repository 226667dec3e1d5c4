"""`hearth models ...`: list, import, remove, verify and provision models."""

from __future__ import annotations

import json
import sys
from dataclasses import asdict

from app.core.models.kinds import KINDS
from app.core.models.sizes import human_rate, human_size


def add_parser(sub) -> None:
    p = sub.add_parser("models", help="manage installed models")
    msub = p.add_subparsers(dest="models_command", metavar="ACTION", required=True)

    ls = msub.add_parser("list", help="list installed models")
    ls.add_argument("--kind", choices=KINDS)
    ls.add_argument("--json", action="store_true")
    ls.add_argument("--available", action="store_true",
                    help="the catalog and installed models, with whether each fits this machine")
    ls.set_defaults(func=_list)

    imp = msub.add_parser("import", help="import a local model file or folder")
    imp.add_argument("path")
    imp.add_argument("--kind", choices=KINDS, help="required unless --projector is given")
    imp.add_argument("--projector", metavar="MMPROJ.gguf",
                     help="a vision model's projector (mmproj GGUF), stored with the chat model so it sees")
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
    prov.add_argument("--instruct", action="store_true",
                      help="also download the instruct chat starter where the hub can be reached (offline: "
                           "the base model stays, and the app offers the instruct one)")
    prov.set_defaults(func=_provision)

    dl = msub.add_parser("download", help="download a catalog model by id, or a model file by https URL")
    dl.add_argument("what", help="a catalog id (see: models list --available) or a URL")
    dl.add_argument("--kind", choices=KINDS, help="the kind, for a URL")
    dl.add_argument("--id", dest="model_id", help="the id to register a URL download under")
    dl.add_argument("--arch", default="", help="OpenCLIP architecture, for an images URL")
    dl.add_argument("--endpoint", help="the hub to download from (default: settings, or HF_ENDPOINT)")
    dl.set_defaults(func=_download)


def _store():
    from app.core.models.records import take_notices
    from app.core.models.store import ModelStore

    store = ModelStore()
    store.list()  # reads the registry now: a file set aside is reported before the command's output
    for notice in take_notices():
        print(f"warning: {notice}", file=sys.stderr)
    return store


def _list_available(args) -> int:
    from app.core import hardware
    from app.core.models.overview import load_rows

    _store()  # says first if the registry was set aside
    rows = load_rows(hardware.detect(), args.kind)
    if args.json:
        print(json.dumps([r.as_json() for r in rows], indent=2))
        return 0
    for r in rows:
        state = "" if r.state == "available" else r.state + (f" ({r.note})" if r.note else "") + " "
        mark = state + ("sees pictures" if r.sees else "")
        size = f"{human_size(r.size):>9}"
        print(f"{r.id:<32} {r.kind:<7} {size}  {r.licence:<14} {r.fit_text:<34} {mark}")
    return 0


def _list(args) -> int:
    if args.available:
        return _list_available(args)
    store = _store()
    entries = store.list(args.kind)
    if args.json:
        print(json.dumps([asdict(e) | {"abs_path": str(store.path_of(e)), "sees": e.sees} for e in entries],
                         indent=2))
        return 0
    if not entries:
        print("no models installed")
    for e in entries:
        flag = "" if e.verified else "  (unverified)"
        sees = "  sees pictures" if e.sees else ("  text only" if e.kind == "chat" else "")
        print(f"{e.id:<28} {e.kind:<7} {human_size(e.size):>9}  {e.format:<12} {e.source}{flag}{sees}")
    return 0


def _import(args) -> int:
    kind = args.kind or ("chat" if args.projector else None)
    if kind is None:
        print("error: --kind is needed (chat, images or speech)", file=sys.stderr)
        return 1
    entry = _store().import_path(args.path, kind, args.model_id, args.mode, architecture=args.arch,
                                 projector=args.projector)
    sees = " with its projector: it sees pictures" if entry.sees else ""
    print(f"imported {entry.id} ({entry.kind}, {human_size(entry.size)}){sees}")
    return 0


def _remove(args) -> int:
    _store().remove(args.model_id)
    print(f"removed {args.model_id}")
    return 0


def _verify(args) -> int:
    store = _store()
    ids = [args.model_id] if args.model_id else [e.id for e in store.list()]
    bad = [i for i in ids if not store.verify(i)]
    for i in ids:
        print(f"{i}: {'FAILED' if i in bad else 'ok'}")
    return 1 if bad else 0


def _provision(args) -> int:
    import os

    from app.core.jobs import DownloadError
    from app.core.models.starter import INSTRUCT_STARTER, provision, provision_instruct
    from app.core.settings import load_settings

    store = _store()
    installed = provision(store)
    print("installed: " + ", ".join(installed) if installed else "starter models already installed")
    if getattr(args, "instruct", False):
        endpoint = os.environ.get("HF_ENDPOINT") or load_settings().hf_endpoint
        try:
            status = provision_instruct(store, endpoint, progress=_Printer())
        except DownloadError as exc:  # the base model still works; the app offers the download again
            print(f"\nthe instruct chat model {INSTRUCT_STARTER} could not be downloaded: {exc}", file=sys.stderr)
            return 0
        if status == "removed":
            print(f"{INSTRUCT_STARTER} was removed here, so it is not downloaded again")
        elif status == "offline":
            print(f"offline: chat starts with the base model (it continues text); {INSTRUCT_STARTER}, which "
                  "answers questions, is offered in the app")
        else:
            print(f"\nchat model: {INSTRUCT_STARTER} ({'downloaded' if status == 'installed' else 'already here'})")
    return 0


class _Printer:
    """A one-line progress display on stderr, a few times a second."""

    def __init__(self):
        self.last = 0.0

    def __call__(self, p) -> None:
        import time

        now = time.monotonic()
        if now - self.last < 0.5 and p.eta_s != 0.0:
            return
        self.last = now
        total = f" of {human_size(p.total)}" if p.total else ""
        eta = f", {p.eta_s:.0f}s left" if p.eta_s else ""
        print(f"\r  {human_size(p.done)}{total} at {human_rate(p.rate)}{eta}   ", end="", file=sys.stderr)


def _download(args) -> int:
    import os

    from app.core.models.catalog import find
    from app.core.models.installer import install_entry, install_url
    from app.core.settings import load_settings

    store = _store()
    printer = _Printer()
    endpoint = args.endpoint or os.environ.get("HF_ENDPOINT") or load_settings().hf_endpoint
    if "://" in args.what:
        if not args.kind:
            print("error: --kind is needed for a URL (chat, images or speech)", file=sys.stderr)
            return 1
        # The token goes with a URL only when it points at the configured hub.
        entry = install_url(args.what, args.kind, store, args.model_id, args.arch, progress=printer,
                            endpoint=endpoint)
    else:
        item = find(args.what)
        if item is None:
            print(f"error: no catalog model '{args.what}' (see: models list --available)", file=sys.stderr)
            return 1
        entry = install_entry(item, store, endpoint, progress=printer)
    print(file=sys.stderr)
    note = "" if entry.verified else " (unverified: the server published no hash)"
    print(f"installed {entry.id} ({human_size(entry.size)}){note}")
    return 0

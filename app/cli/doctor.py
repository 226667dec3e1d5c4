"""`hearth doctor`: what hardware Hearth sees and which device each runtime will use."""

from __future__ import annotations

import json


def add_parser(sub) -> None:
    p = sub.add_parser("doctor", help="show the hardware report and device choices")
    p.add_argument("--json", action="store_true", help="machine-readable output")
    p.set_defaults(func=run)


def run(args) -> int:
    from app.core import hardware, paths
    from app.core.settings import load_settings

    machine = hardware.detect()
    folders = paths.all_dirs(load_settings().models_dir)
    if args.json:
        data = machine.to_dict()
        data["paths"] = {k: str(v) for k, v in folders.items()}
        print(json.dumps(data, indent=2))
    else:
        print(machine.to_text())
        print()
        print("Folders:")
        for name, path in folders.items():
            print(f"  {name:<11} {path}")
    return 0

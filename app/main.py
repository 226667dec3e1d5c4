"""Entry point: early init (offline switches, logging, crash capture), then CLI or GUI."""

from __future__ import annotations

import sys

# Arguments that open the window; they skip argparse so the window shows sooner.
GUI_ONLY = ([], ["--self-test"])


def main(argv: list[str] | None = None) -> int:
    if getattr(sys, "frozen", False):
        import multiprocessing

        multiprocessing.freeze_support()  # first: a frozen child process must not re-run main

    from app.core import offline

    offline.apply()
    argv = sys.argv[1:] if argv is None else list(argv)
    from app.core.logs import setup_logging

    if argv in GUI_ONLY:
        setup_logging()
        from app.gui.application import run_gui

        return run_gui(self_test=bool(argv))

    from app.cli import build_parser, run

    args = build_parser().parse_args(argv)
    setup_logging(console=args.command is not None)
    if args.command:
        return run(args)  # its own guard: a message and an exit code, never a traceback

    from app.gui.application import run_gui

    return run_gui(self_test=args.self_test)


if __name__ == "__main__":
    sys.exit(main())

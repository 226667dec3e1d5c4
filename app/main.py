"""Entry point: early init (offline switches, logging, crash capture), then CLI or GUI."""

from __future__ import annotations

import sys

# Arguments that open the window; they skip argparse so the window shows sooner.
GUI_ONLY = ([], ["--self-test"])
# Qt's own command-line options (QApplication/QGuiApplication): they go to Qt, not to argparse.
QT_VALUE_OPTIONS = {
    "style", "stylesheet", "platform", "platformpluginpath", "platformtheme", "plugin", "qmljsdebugger",
    "session", "display", "geometry", "qwindowgeometry", "qwindowicon", "qwindowtitle",
}
QT_DOUBLE_DASH = {"style", "stylesheet", "platform", "platformtheme", "reverse"}  # Hearth has none of these
QT_FLAG_OPTIONS = {"reverse", "nograb", "dograb", "sync", "widgetcount", "qwindowalwaysontop", "visual"}


def split_qt_args(argv: list[str]) -> tuple[list[str], list[str]]:
    """(Hearth's arguments, Qt's arguments): `-style Fusion`, `--style=Fusion`, `-reverse` … go to Qt."""
    ours: list[str] = []
    qt: list[str] = []
    i = 0
    while i < len(argv):
        arg = argv[i]
        name = arg.lstrip("-").split("=", 1)[0]
        single = arg.startswith("-") and not arg.startswith("--")
        if (single or name in QT_DOUBLE_DASH) and (name in QT_VALUE_OPTIONS or name in QT_FLAG_OPTIONS):
            qt.append(arg)
            if name in QT_VALUE_OPTIONS and "=" not in arg and i + 1 < len(argv):
                qt.append(argv[i + 1])
                i += 1
        else:
            ours.append(arg)
        i += 1
    return ours, qt


def main(argv: list[str] | None = None) -> int:
    if getattr(sys, "frozen", False):
        import multiprocessing

        multiprocessing.freeze_support()  # first: a frozen child process must not re-run main

    from app.core import offline

    offline.apply()
    argv = sys.argv[1:] if argv is None else list(argv)
    argv, qt_args = split_qt_args(argv)
    from app.core.logs import setup_logging

    if argv in GUI_ONLY:
        setup_logging(rotate=False)  # run_gui rotates it after the first paint
        from app.gui.application import run_gui

        return run_gui(self_test=bool(argv), qt_args=qt_args)

    from app.cli import build_parser, run

    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command and qt_args:
        parser.error(f"{' '.join(qt_args)} is for the window; commands do not take it")
    setup_logging(console=args.command is not None)
    if args.command:
        return run(args)  # its own guard: a message and an exit code, never a traceback

    from app.gui.application import run_gui

    return run_gui(self_test=args.self_test, qt_args=qt_args)


if __name__ == "__main__":
    sys.exit(main())

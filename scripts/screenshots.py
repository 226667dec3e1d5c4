#!/usr/bin/env python3
"""Renders every pane offscreen, light and dark, at 1024x640 and 1920x1080, into a folder of PNGs.

    QT_QPA_PLATFORM=offscreen python scripts/screenshots.py [OUT_DIR]

It runs in a private, throwaway HEARTH_HOME with a sample conversation (code,
a table, a long line) and the tiny test CLIP installed, so the look can be
reviewed without running the app by hand. Nothing in the user's own folders is read or written.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

SIZES = ((1024, 640), (1920, 1080))
SAMPLE = [
    ("user", "How do I read a CSV file in Python and sum one column? Show me a table of the options too."),
    ("assistant", """Use the standard library's `csv` module:

```python
import csv

with open("sales.csv", newline="", encoding="utf-8") as f:
    total = sum(float(row["amount"]) for row in csv.DictReader(f) if row.get("amount") not in (None, ""))
print(f"Total: {total:.2f}")
```

| Option | Good for | Needs |
| --- | --- | --- |
| `csv` | small files | nothing |
| `pandas` | analysis | pandas |

Both read the file **once**. See https://docs.python.org/3/library/csv.html for details."""),
    ("user", "Thanks! And in the shell?"),
    ("assistant", "```sh\nawk -F, 'NR>1 {s+=$3} END {print s}' sales.csv\n```"),
]


def seed(home: Path) -> None:
    from app.core.chat.history import ChatHistory
    from app.core.models.store import ModelStore

    history = ChatHistory()
    history.create("Trip packing list", "", "", {})
    conv = history.create("Summing a CSV column", "", "", {})
    for role, text in SAMPLE:
        history.add_message(conv.id, role, text)
    history.close()
    tiny = ROOT / "tests" / "fixtures" / "tiny-clip"
    if tiny.exists():
        ModelStore().import_path(tiny, "images", "tiny-clip", mode="link")


def fill_images(window, home: Path) -> None:
    """A small generated photo library, indexed and searched, so the Images pane shows results."""
    from PySide6.QtCore import QEventLoop, QTimer

    from tests.helpers import photo_library

    pane = window.panes["images"]
    if not pane.picker.current():
        return
    photo_library(home / "photos", per_class=1)

    def wait(signal, seconds=120) -> None:
        loop = QEventLoop()
        signal.connect(loop.quit)
        QTimer.singleShot(seconds * 1000, loop.quit)
        loop.exec()

    pane.add_folders([home / "photos"])
    wait(pane.index_finished)
    pane.query.setText("a red circle")
    pane.search()
    wait(pane.results_ready)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("out", nargs="?", default="screenshots", help="folder for the PNGs (made if missing)")
    parser.add_argument("--empty", action="store_true", help="no sample data: what a first run looks like")
    args = parser.parse_args(argv)
    out = Path(args.out).resolve()
    out.mkdir(parents=True, exist_ok=True)
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    home = Path(tempfile.mkdtemp(prefix="hearth-shots-"))
    os.environ["HEARTH_HOME"] = str(home)
    if not args.empty:
        seed(home)

    from PySide6.QtWidgets import QApplication

    from app.core.settings import PANES, Settings
    from app.gui import theme
    from app.gui.application import create_app
    from app.gui.main_window import MainWindow

    app = create_app([sys.argv[0]])
    window = MainWindow(Settings())
    window.show()
    window.build_panes()
    written = []
    if not args.empty:
        fill_images(window, home)

    def settle(rounds: int = 6) -> None:
        for _ in range(rounds):
            QApplication.processEvents()

    for scheme in ("light", "dark"):
        theme.apply(scheme)
        for width, height in SIZES:
            window.resize(width, height)
            for name in PANES:
                window.show_pane(name)
                settle()
                path = out / f"{name}-{scheme}-{width}x{height}.png"
                window.grab().save(str(path))
                written.append(path)
    window.stop_workers()
    window.close()
    app.processEvents()
    for path in written:
        print(path)
    return 0


if __name__ == "__main__":
    sys.exit(main())

#!/usr/bin/env python3
"""Hearth benchmarks: our code against the raw library, side by side in one run.

    python scripts/bench.py startup [--runs N] [--json]
    python scripts/bench.py chat-search     # chat history search at 5,000 and 50,000 chats, no model
    python scripts/bench.py images-memory   # peak RSS indexing six 10,900 x 10,900 PNGs
    python scripts/bench.py images-duplicates   # duplicate finding over 20,000 indexed pictures (HEARTH_BENCH_DUPES=N)
    python scripts/bench.py server     (the OpenAI-compatible API vs the in-app engines)
    python scripts/bench.py docs       # embedding through the index vs bare llama-cpp-python; search at 100k chunks
    python scripts/bench.py speech --only-speakers [--clip-s 180]   # diarization's extra time and accuracy
    python scripts/bench.py tools [--runs N]   # Ask's step grammar vs free decoding; send to first tool result

Each suite prints a table of measurements and ratios; --json prints the same
as machine-readable JSON. Later suites (download, chat, images, speech) join
the SUITES table.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # the app package, when run as scripts/bench.py

MINIMAL_WINDOW = """
import sys
from PySide6.QtCore import QEvent, QObject, QTimer
from PySide6.QtWidgets import QApplication, QLabel, QMainWindow

class Watch(QObject):
    def eventFilter(self, obj, event):
        if event.type() == QEvent.Type.Paint:
            QTimer.singleShot(0, lambda: (print("first paint", flush=True), app.exit(0)))
            obj.removeEventFilter(self)
        return False

app = QApplication(sys.argv[:1])
w = QMainWindow()
w.setCentralWidget(QLabel("hello"))
w.resize(1100, 720)
watch = Watch()
w.installEventFilter(watch)
w.show()
sys.exit(app.exec())
"""


def _time_to_line(cmd: list[str], env: dict, marker: str) -> float:
    """Seconds from spawning the process to the line that reports its first paint."""
    start = time.perf_counter()
    proc = subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    elapsed = None
    for line in proc.stdout:
        if marker in line:
            elapsed = time.perf_counter() - start
            break
    proc.wait(timeout=60)
    if elapsed is None:
        raise RuntimeError(f"{cmd} never reported its first paint")
    return elapsed


def bench_startup(args) -> dict:
    with tempfile.TemporaryDirectory() as home:
        env = dict(os.environ, QT_QPA_PLATFORM=os.environ.get("QT_QPA_PLATFORM", "offscreen"), HEARTH_HOME=home)
        minimal = Path(home) / "minimal_window.py"
        minimal.write_text(MINIMAL_WINDOW)
        hearth_cmd = [sys.executable, "-m", "app", "--self-test"]
        minimal_cmd = [sys.executable, str(minimal)]
        _time_to_line(hearth_cmd, env, "first paint")  # warm the OS file cache for both
        _time_to_line(minimal_cmd, env, "first paint")
        hearth, bare = [], []
        for _ in range(args.runs):  # alternate, so drift on a noisy machine hits both alike
            hearth.append(_time_to_line(hearth_cmd, env, "first paint"))
            bare.append(_time_to_line(minimal_cmd, env, "first paint"))
    h, b = statistics.median(hearth), statistics.median(bare)
    return {
        "suite": "startup",
        "runs": args.runs,
        "hearth_first_paint_ms": round(h * 1000, 1),
        "minimal_pyside6_first_paint_ms": round(b * 1000, 1),
        "ratio": round(h / b, 3),
        "goal": "ratio <= 1.3",
        "met": h / b <= 1.3,
    }


def bench_chat(args) -> dict:
    from bench_chat import bench_chat as run

    return run(args)


def bench_chat_search(args) -> dict:
    from bench_chat_search import bench_chat_search as run

    return run(args)


def bench_frozen(args) -> dict:
    """First paint of the frozen build (scripts/build-installer) against the source tree."""
    frozen = ROOT / "dist" / "pyinstaller" / "hearth" / "hearth"
    if not frozen.exists():
        raise SystemExit("bench.py frozen: build first (scripts/build-installer)")
    with tempfile.TemporaryDirectory() as home:
        env = dict(os.environ, QT_QPA_PLATFORM=os.environ.get("QT_QPA_PLATFORM", "offscreen"), HEARTH_HOME=home)
        source_cmd = [sys.executable, "-m", "app", "--self-test"]
        frozen_cmd = [str(frozen), "--self-test"]
        _time_to_line(frozen_cmd, env, "first paint")  # warm the file cache for both
        _time_to_line(source_cmd, env, "first paint")
        f, src = [], []
        for _ in range(args.runs):
            f.append(_time_to_line(frozen_cmd, env, "first paint"))
            src.append(_time_to_line(source_cmd, env, "first paint"))
    a, b = statistics.median(f), statistics.median(src)
    return {"suite": "frozen", "runs": args.runs, "frozen_first_paint_ms": round(a * 1000, 1),
            "source_first_paint_ms": round(b * 1000, 1), "ratio": round(a / b, 3), "goal": "ratio <= 1.5"}


def bench_download(args) -> dict:
    from bench_download import bench_download as run

    return run(args)


def bench_speech(args) -> dict:
    from bench_speech import bench_speech as run

    return run(args)


def bench_images(args) -> dict:
    from bench_duplicates import duplicates_over_index
    from bench_images import bench_images as run

    return {**run(args), "duplicates": duplicates_over_index()}


def bench_images_duplicates(args) -> dict:
    from bench_duplicates import duplicates_over_index

    return {"suite": "images-duplicates", **duplicates_over_index()}


def bench_images_memory(args) -> dict:
    from bench_images import bench_images_memory as run

    return run(args)


def bench_server(args) -> dict:
    from bench_server import bench_server as run

    return run(args)


def bench_vision(args) -> dict:
    from bench_vision import bench_vision as run

    return run(args)


def bench_docs(args) -> dict:
    from bench_docs import bench_docs as run

    return run(args)


def bench_tools(args) -> dict:
    from bench_tools import bench_tools as run

    return run(args)


def bench_gpu(args) -> dict:
    from bench_gpu import bench_gpu as run

    return run(args)


SUITES = {
    "startup": bench_startup,
    "download": bench_download,
    "chat": bench_chat,
    "chat-search": bench_chat_search,  # the search figure of chat, on its own: no model loaded
    "images": bench_images,
    "images-memory": bench_images_memory,  # the huge-pictures peak RSS of images, on its own
    "images-duplicates": bench_images_duplicates,  # images' duplicate finding, on its own
    "speech": bench_speech,
    "server": bench_server,
    "frozen": bench_frozen,
    "gpu": bench_gpu,
    "vision": bench_vision,
    "docs": bench_docs,
    "tools": bench_tools,
}


def print_table(result: dict, indent: str = "  ") -> None:
    width = max(len(k) for k in result)
    if "suite" in result:
        print(f"== {result['suite']}")
    for key, value in result.items():
        if key == "suite":
            continue
        if isinstance(value, dict):
            print(f"{indent}{key}:")
            print_table(value, indent + "    ")
        else:
            print(f"{indent}{key:<{width}}  {value}")


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("suite", nargs="*", choices=[*SUITES, []], help="suites to run (default: all)")
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--json", action="store_true", help="print machine-readable JSON")
    parser.add_argument("--clip-s", type=float, default=180.0,
                        help="speech: the two-voice clip's length for the speakers figures (seconds)")
    parser.add_argument("--only-speakers", action="store_true", help="speech: only the speakers figures")
    args = parser.parse_args(argv)
    # frozen needs a build, gpu a GPU box; chat-search and images-memory are parts of chat and images
    default = [name for name in SUITES
               if name not in ("frozen", "gpu", "chat-search", "images-memory", "images-duplicates")]
    results = [SUITES[name](args) for name in (args.suite or default)]
    if args.json:
        print(json.dumps(results, indent=2))
    else:
        for r in results:
            print_table(r)
    return 0


if __name__ == "__main__":
    sys.exit(main())

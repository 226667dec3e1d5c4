#!/usr/bin/env python3
"""Renders every pane offscreen, light and dark, at 1024x640, 1920x1080 and 2560x1440, into a folder of PNGs.

    QT_QPA_PLATFORM=offscreen python scripts/screenshots.py [OUT_DIR] [--state all|sample|empty]

It runs in a private, throwaway HEARTH_HOME, so the look can be reviewed without
running the app by hand. Nothing in the user's own folders is read or written.

sample: a conversation with code blocks, a table and a stats line; search results
by words and by picture (the query picture above them); a folder of notes searched by a question
(one file skipped); several transcripts (one
failed, one dictation); a Models page with a failed download selected; Chat settings open;
the Settings dialog. The starter models (HEARTH_STARTER_HOME) and the tiny test
CLIP are registered in place when present.
empty: a first run, nothing installed: what each pane asks the user to do first.
all (the default): both, the empty set named empty-<pane>-....
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

SIZES = ((1024, 640), (1920, 1080), (2560, 1440))
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
    ("assistant", "```sh\nawk -F, 'NR>1 {s+=$3} END {print s}' sales.csv\n```\n\n"
                  "`awk` splits each line at the commas (`-F,`) and skips the header row."),
]
STATS = {"model": "gemma-3-270m-q4_k_m", "completion_tokens": 41, "tokens_per_second": 38.2,
         "time_to_first_token_s": 0.21}
TRANSCRIPTS = [  # (source, kind, status, error, [(start, end, text)])
    ("interview.m4a", "file", "done", "", [
        (0.0, 4.2, "Thanks for coming in today. Could you start by telling us what you work on?"),
        (4.2, 9.8, "Sure. I look after the sensors on the north field: soil moisture, temperature and rain."),
        (9.8, 15.1, "Most of the readings go to a small server in the barn, and from there to the farm office."),
    ]),
    ("garbage.wav", "file", "failed", "this is not an audio or video file Hearth can read", []),
    ("Dictation", "dictation", "done", "", [
        (0.0, 2.6, "Remember to order more seed trays."),
        (2.6, 5.9, "And call the vet about the goats on Thursday."),
    ]),
    ("lecture-week-3.mp4", "file", "done", "", [
        (0.0, 6.0, "Last week we looked at how plants move water from the roots to the leaves."),
        (6.0, 12.5, "Today we look at what happens when there is not enough of it."),
    ]),
]


def starter_entries() -> list:
    """The starter models' registry entries, with absolute paths (used where they lie, never copied)."""
    from app.core.models.store import ModelStore

    home = Path(os.environ.get("HEARTH_STARTER_HOME", ROOT / ".cache" / "starter-home"))
    folder = home / "data" / "models"
    if not (folder / "registry.json").exists():
        return []
    source = ModelStore(folder)
    entries = []
    for entry in source.list():
        entry.path = str(source.path_of(entry))
        entries.append(entry)
    return entries


def sample_words(start: float, end: float, text: str) -> list:
    from app.core.speech.transcriber import Word

    words = text.split(" ")
    step = (end - start) / len(words)
    return [Word(start + i * step, start + (i + 1) * step, (" " if i else "") + w, 0.3 if w == "moisture," else 0.9)
            for i, w in enumerate(words)]


def seed(home: Path) -> None:
    from app.core.chat.history import ChatHistory
    from app.core.models.queue import DownloadQueue, QueuedDownload
    from app.core.models.store import ModelStore
    from app.core.speech.transcriber import Segment
    from app.core.speech.transcripts import TranscriptStore

    history = ChatHistory()
    history.create("Trip packing list", "", "", {})
    history.create("A very long conversation title that does not fit in the list at all", "", "", {})
    conv = history.create("Summing a CSV column", "", "", {})
    for role, text in SAMPLE:
        history.add_message(conv.id, role, text)
    history.close()
    store = ModelStore()
    entries = {e.id: e for e in starter_entries()}
    if entries:
        store._write(entries)
    tiny = ROOT / "tests" / "fixtures" / "tiny-clip"
    if tiny.exists():
        store.import_path(tiny, "images", "tiny-clip", mode="link")
    transcripts = TranscriptStore()
    start = time.time() - 3600
    for i, (source, kind, status, error, segs) in enumerate(TRANSCRIPTS):
        t = transcripts.new(source, kind)
        t.created, t.status, t.error = start + i * 600, status, error
        t.segments = [Segment(a, b, text) for a, b, text in segs]
        if source == "interview.m4a":  # two voices, word timings, one unsure word, one name given
            t.segments = [Segment(a, b, text, sample_words(a, b, text), str(1 + j % 2))
                          for j, (a, b, text) in enumerate(segs)]
            t.speaker_names = {"2": "Ana"}
        transcripts.save(t)
    DownloadQueue().put(QueuedDownload(
        "qwen2.5-0.5b-instruct-q4_k_m", "chat", state="failed",
        error="the download is corrupt: sha256 3f2a9c41d0e7… does not match the expected 9b1e77c2a4f0…; "
              "the file was deleted"))


def wait(signal, seconds: float = 120) -> None:
    from PySide6.QtCore import QEventLoop, QTimer

    loop = QEventLoop()
    signal.connect(loop.quit)
    QTimer.singleShot(int(seconds * 1000), loop.quit)
    loop.exec()


def settle(rounds: int = 6) -> None:
    from PySide6.QtWidgets import QApplication

    for _ in range(rounds):
        QApplication.processEvents()


def thumbnails_ready(window) -> None:
    """Paints once so the grid asks for the thumbnails it shows, then waits for them to arrive."""
    pane = window.panes.get("images")
    if pane is None or not hasattr(pane, "results"):
        return
    for _ in range(3):
        window.grab()
        pane.results.pool.waitForDone(30000)
        settle()


def fill_images(window, home: Path) -> Path | None:
    """A small generated photo library, indexed and searched, so the Images pane shows results (some with
    EXIF dates and GPS, so their cells show when and where)."""
    from tests.helpers import photo_library
    from tests.photo_exif import dated_photos

    pane = window.panes["images"]
    if not pane.picker.current():
        return None
    library = photo_library(home / "photos", per_class=2)
    dated_photos(home / "photos" / "dated")
    pane.add_folders([home / "photos"])
    wait(pane.index_finished)
    pane.query.setText("a red circle")
    pane.search()
    wait(pane.results_ready)
    return next(iter(library.values()))[0]


DOCUMENTS = {
    "field-sensors.md": "# Field sensors\n\n## Soil moisture\n\nThe soil moisture probes on the north field report "
                        "every ten minutes. Replace a probe's battery when its reading drops to zero overnight.\n\n"
                        "## Rain gauge\n\nEmpty the rain gauge after each storm and check the funnel for leaves.",
    "goats.txt": "The goats need their hooves trimmed every six to eight weeks. Call the vet on Thursday about the "
                 "vaccinations, and order more hay before the first frost.",
    "seed-trays.html": "<html><body><h1>Seed trays</h1><p>Sow tomato and pepper seeds in trays on the windowsill "
                       "in March; keep the compost moist but never wet, and move them out after the last frost.</p>"
                       "</body></html>",
    "notes-from-the-barn.txt": "The server in the barn keeps the sensor readings and sends them to the farm office "
                               "each night.",
    "empty.txt": "",
}


def fill_documents(window, home: Path) -> None:
    """A small folder of notes, indexed and searched, so the Documents pane shows passages (and one skipped file)."""
    pane = window.panes.get("documents")
    if pane is None or not hasattr(pane, "add_folders") or not pane.picker.current():
        return
    folder = home / "notes"
    folder.mkdir()
    for name, text in DOCUMENTS.items():
        (folder / name).write_text(text, encoding="utf-8")
    pane.add_folders([folder])
    wait(pane.index_finished)
    pane.query.setText("when should the sensor batteries be changed")
    pane.search()
    wait(pane.results_ready)


def fill_ask(window, home: Path) -> bool:
    """An "Ask Hearth" answer (#26) in its own chat: steps over the sample photos and notes, with citations."""
    from app.core.chat.history import ChatHistory

    photos = sorted(p for p in (home / "photos").rglob("*") if p.is_file())[:5]
    notes = home / "notes" / "field-sensors.md"
    if not photos:
        return False
    found = [{"kind": "photo", "title": p.name, "path": str(p), "score": 0.3, "text": ""} for p in photos]
    passage = {"kind": "document", "title": notes.name, "path": str(notes), "heading": "Soil moisture",
               "text": "Replace a probe's battery when its reading drops to zero overnight."}
    memo = {"kind": "transcript", "title": "interview.m4a", "path": None, "start": 4.2, "end": 9.8,
            "text": "I look after the sensors on the north field: soil moisture, temperature and rain."}
    history = ChatHistory()
    conv = history.create("Sensors on the north field", "", "", {"use_library": True})
    history.add_message(conv.id, "user", "Which photos show the red shapes, and when do the sensor batteries go?")
    reply = history.start_reply(conv.id)
    for step in (
        {"tool": "search_photos", "arguments": {"query": "red shapes"}, "results": found, "error": None,
         "summary": f"Searched photos for 'red shapes': {len(found)} found"},
        {"tool": "search_documents", "arguments": {"query": "sensor batteries"}, "results": [passage],
         "error": None, "summary": "Searched documents for 'sensor batteries': 1 passage"},
        {"tool": "search_recordings", "arguments": {"query": "sensors"}, "results": [memo], "error": None,
         "summary": "Searched recordings for 'sensors': 1 passage"},
    ):
        history.add_step(reply.id, step)
    history.set_citations(reply.id, [{"number": 1, "step": 0, **found[0]}, {"number": 2, "step": 1, **passage},
                                     {"number": 3, "step": 2, **memo}])
    history.finish_reply(reply.id, "The red shapes are in the first photos [1]. Change a probe's battery when its "
                         "reading drops to zero overnight [2]; the sensors are on the north field [3].",
                         {**STATS, "stop_reason": "answered"})
    history.close()
    chat = window.panes["chat"]
    chat.sidebar.refresh(select=conv.id)
    chat.open_conversation(conv.id)
    chat.view.widgets[-1].steps_view.rows[2].header.setChecked(True)  # one row unfolded: its transcript line
    return True


def search_by_picture(window, picture: Path) -> None:
    pane = window.panes["images"]
    pane.query.clear()
    pane.search(images=[str(picture)])
    wait(pane.results_ready)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("out", nargs="?", default="screenshots", help="folder for the PNGs (made if missing)")
    parser.add_argument("--state", choices=("all", "sample", "empty"), default="all",
                        help="sample data, a first run (empty), or both (default)")
    parser.add_argument("--empty", action="store_true", help="the same as --state empty")
    args = parser.parse_args(argv)
    state = "empty" if args.empty else args.state
    out = Path(args.out).resolve()
    out.mkdir(parents=True, exist_ok=True)
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    if state == "all":  # the first run in its own process and home, so nothing of the sample leaks into it
        empty = subprocess.run([sys.executable, __file__, str(out), "--state", "empty"], check=False)
        if empty.returncode:
            return empty.returncode
        state = "sample"
    home = Path(tempfile.mkdtemp(prefix="hearth-shots-"))
    os.environ["HEARTH_HOME"] = str(home)
    if state == "sample":
        seed(home)

    from app.core.settings import PANES, Settings
    from app.gui import theme
    from app.gui.application import create_app
    from app.gui.main_window import MainWindow

    app = create_app([sys.argv[0]])
    window = MainWindow(Settings())
    window.show()
    window.build_panes()
    prefix = "empty-" if state == "empty" else ""
    written: list[Path] = []

    def shoot(name: str, scheme: str, size: tuple[int, int] | None, widget=None) -> None:
        suffix = f"-{size[0]}x{size[1]}" if size else ""
        path = out / f"{prefix}{name}-{scheme}{suffix}.png"
        (widget or window).grab().save(str(path))
        written.append(path)

    def every_size(scheme: str, shots) -> None:
        """``shots``: (file name, pane) pairs, each shown and grabbed at every size."""
        for size in SIZES:
            window.resize(*size)
            for name, pane in shots:
                window.show_pane(pane)
                settle()
                if pane == "images":
                    thumbnails_ready(window)
                shoot(name, scheme, size)

    picture = fill_images(window, home) if state == "sample" else None
    if state == "sample":
        fill_documents(window, home)
    chat = window.panes["chat"]
    if state == "sample" and chat.view.widgets:
        chat.view.widgets[-1].set_stats(STATS)
    models = window.panes["models"]
    if state == "sample" and hasattr(models, "browser"):  # the failed download: its details, Retry and Clear
        models.select("qwen2.5-0.5b-instruct-q4_k_m")
    speech = window.panes["speech"]
    if getattr(speech, "transcript_list", None) is not None and speech.transcript_list.count():
        speech.transcript_list.setCurrentRow(0)
        if state == "sample" and hasattr(speech.transcript, "set_playing"):
            speech.transcript.set_playing(1, 4)  # as while playing: the word heard is lit
    for scheme in ("light", "dark"):
        theme.apply(scheme)
        every_size(scheme, [(name, name) for name in PANES])
        if state == "sample":
            chat.settings_toggle.setChecked(True)
            every_size(scheme, [("chat-settings", "chat")])
            chat.settings_toggle.setChecked(False)
            dialog = window.show_settings()
            settle()
            shoot("settings-dialog", scheme, None, dialog)
            dialog.reject()
    if state == "sample" and fill_ask(window, home):
        for scheme in ("light", "dark"):
            theme.apply(scheme)
            every_size(scheme, [("chat-ask", "chat")])
    if picture is not None:
        search_by_picture(window, picture)
        for scheme in ("light", "dark"):
            theme.apply(scheme)
            every_size(scheme, [("images-picture", "images")])
    window.stop_workers()
    window.close()
    app.processEvents()
    shutil.rmtree(home, ignore_errors=True)  # the throwaway home (its photos, index and chats)
    for path in written:
        print(path)
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""`bench.py speech`: our transcriber and worker against a bare faster-whisper loop."""

from __future__ import annotations

import os
import statistics
import subprocess
import tempfile
import threading
import time
from pathlib import Path

TEXT = (
    "Hearth runs language models, image search and speech recognition on your own computer. "
    "Nothing you say or type leaves the machine unless you decide to download a model. "
    "The weather today is sunny and warm, and the market in the old town is busy. "
    "Please remember to buy milk, bread and a few apples on the way home this evening. "
    "We will meet at the library at seven, and then walk to the harbour to watch the boats. "
    "The committee discussed the budget for next year and agreed to spend more on the school. "
)
UTTERANCES = [
    "Please open the window.", "What time is the meeting tomorrow?", "Add eggs to the shopping list.",
    "Send the report to Anna.", "The train leaves at half past nine.", "Remind me to call my sister.",
]


def _speak(text: str, path: Path) -> Path:
    subprocess.run(["espeak-ng", "-s", "150", "-w", str(path), text], check=True)
    return path


def _model_dir() -> Path:
    from app.core.models.starter import provision
    from app.core.models.store import ModelStore

    store = ModelStore()
    provision(store)
    return store.path_of(store.get("whisper-base"))


def _bare(model_dir: Path, wav: Path, threads: int) -> float:
    from faster_whisper import WhisperModel

    model = WhisperModel(str(model_dir), device="cpu", compute_type="int8", cpu_threads=threads)
    start = time.perf_counter()
    segments, _ = model.transcribe(str(wav), beam_size=5, vad_filter=True, condition_on_previous_text=False)
    for _ in segments:
        pass
    return time.perf_counter() - start


def _ours(wav: Path) -> float:
    from PySide6.QtCore import QEventLoop
    from PySide6.QtWidgets import QApplication

    from app.core.speech.transcriber import TranscribeOptions
    from app.gui.speech.worker import SpeechWorker

    _app = QApplication.instance() or QApplication([])  # noqa: F841 - the worker's signals need it
    worker = SpeechWorker()
    load = worker.load("whisper-base")
    loop = QEventLoop()
    load.finished.connect(loop.quit)
    loop.exec()
    start = time.perf_counter()
    job = worker.transcribe("whisper-base", str(wav), TranscribeOptions(beam_size=5, vad_filter=True))
    loop = QEventLoop()
    job.finished.connect(loop.quit)
    loop.exec()
    elapsed = time.perf_counter() - start
    worker.stop()
    return elapsed


def _live_latency(model_dir: Path, tmp: Path) -> list[float]:
    """Real-time paced feeding; latency from the last voiced frame to the final text."""
    import numpy as np

    from app.core.speech.audio import iter_chunks
    from app.core.speech.live import LiveDictation
    from app.core.speech.transcriber import Transcriber

    transcriber = Transcriber(model_dir)
    parts = []
    for i, text in enumerate(UTTERANCES):
        parts.append(np.concatenate(list(iter_chunks(_speak(text, tmp / f"u{i}.wav")))))
        parts.append(np.zeros(int(1.2 * 16000), dtype=np.float32))
    audio = np.concatenate(parts)
    live = LiveDictation(transcriber, language="en", partials=False)
    latencies = []
    step = 1600  # 100 ms, as the microphone delivers it
    start = time.monotonic()
    for i in range(0, audio.size, step):
        target = start + i / 16000
        delay = target - time.monotonic()
        if delay > 0:
            time.sleep(delay)
        for event in live.feed(audio[i : i + step]):
            if event.kind == "final":
                latencies.append(event.latency_s)
    return latencies


def _gui_lag(wav: Path) -> dict:
    from bench_common import LagProbe, wait_for
    from PySide6.QtWidgets import QApplication

    from app.core.settings import load_settings
    from app.gui.main_window import MainWindow

    app = QApplication.instance() or QApplication([])
    window = MainWindow(load_settings())
    window.show()
    while not window.panes:
        app.processEvents()
    pane = window.panes["speech"]
    window.show_pane("speech")
    probe = LagProbe()
    pane.add_files([str(wav)])
    pane.start_queue()
    probe.start()
    wait_for(pane.job.finished)
    lag = probe.stop()
    window.close()
    window.stop_workers()  # close() does not wait for the workers; join them before exit
    return lag


def bench_speech(args) -> dict:
    with tempfile.TemporaryDirectory() as home:
        os.environ["HEARTH_HOME"] = home
        os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
        from app.core.hardware import physical_cores
        from app.core.speech.audio import probe

        tmp = Path(home)
        wav = _speak(TEXT * 2, tmp / "long.wav")
        duration = probe(wav).duration_s
        model_dir = _model_dir()
        threads = physical_cores()
        ours, bare = [], []
        for _ in range(min(args.runs, 2)):  # alternate; each on a fresh thread
            box: dict = {}

            def run_bare(box=box):
                box["t"] = _bare(model_dir, wav, threads)

            t = threading.Thread(target=run_bare)
            t.start()
            t.join()
            bare.append(box["t"])
            ours.append(_ours(wav))
        o, b = statistics.median(ours), statistics.median(bare)
        latencies = _live_latency(model_dir, tmp)
        lag = _gui_lag(wav)
    return {
        "suite": "speech",
        "clip_s": round(duration, 1),
        "threads": threads,
        "ours_s": round(o, 2),
        "bare_s": round(b, 2),
        "ratio": round(o / b, 3),
        "ratio_goal": "<= 1.05",
        "rtf_ours": round(o / duration, 3),
        "rtf_bare": round(b / duration, 3),
        "live_latency_p50_s": round(statistics.median(latencies), 2) if latencies else None,
        "live_utterances": f"{len(latencies)} of {len(UTTERANCES)}",
        "live_goal": "p50 <= 1.5 s",
        "gui_lag_p99_ms": lag["p99"],
        "gui_lag_max_ms": lag["max"],
        "gui_lag_goal": "p99 <= 16",
    }

"""`bench.py chat`: our engine and worker against bare llama-cpp-python, same model."""

from __future__ import annotations

import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

STORY = "Continue the story of the old lighthouse keeper, the storm and the ship, in great detail. "


def _starter_gguf() -> Path:
    from app.core.models.starter import provision
    from app.core.models.store import ModelStore

    store = ModelStore()
    provision(store)
    return store.path_of(store.get("gemma-3-270m-q4_k_m"))


def _off_main(fn, *args):
    """Runs fn on a fresh thread. llama.cpp's OpenMP team on a thread that has
    decoded keeps spinning afterwards; on 2 cores a decode on any other thread
    then runs at half speed. The app decodes on one worker thread only, so the
    bench keeps every decode off the main thread too."""
    import threading

    box = {}

    def run():
        try:
            box["value"] = fn(*args)
        except BaseException as exc:  # noqa: BLE001 - re-raised below
            box["error"] = exc

    t = threading.Thread(target=run)
    t.start()
    t.join()
    if "error" in box:
        raise box["error"]
    return box["value"]


def bare_generate(path: Path, prompt: str, threads: int, n_ctx: int, max_tokens: int, gpu_layers: int = 0) -> dict:
    """A bare llama-cpp-python loop: decode speed, time to first token, tokens."""
    import llama_cpp

    llm = llama_cpp.Llama(str(path), n_ctx=n_ctx, n_threads=threads, n_threads_batch=threads, n_batch=512,
                          n_gpu_layers=gpu_layers, swa_full=True, verbose=False)
    tokens = llm.tokenize(prompt.encode(), add_bos=True, special=True)
    started = time.perf_counter()
    first, n = None, 0
    for tok in llm.generate(tokens, temp=0.0, top_k=40, top_p=0.95, min_p=0.05, repeat_penalty=1.0):
        if first is None:
            first = time.perf_counter()
        if llm.token_eos() == tok:
            break
        llm.detokenize([tok])
        n += 1
        if n >= max_tokens:
            break
    elapsed = time.perf_counter() - first
    llm.close()
    return {"tok_s": (n - 1) / elapsed, "ttft_s": first - started, "tokens": n}


def _bare_decode(path: Path, prompt: str, threads: int, n_ctx: int, max_tokens: int) -> tuple[float, int]:
    r = bare_generate(path, prompt, threads, n_ctx, max_tokens)
    return r["tok_s"], r["tokens"]


def _ours_decode(path: Path, messages, threads: int, n_ctx: int, max_tokens: int) -> tuple[float, int]:
    """Through ChatWorker's thread and the Job's coalesced signals, as the pane uses them."""
    from PySide6.QtWidgets import QApplication

    from app.core.chat.engine import SamplingParams
    from app.core.chat.history import ChatHistory
    from app.core.models.store import ModelStore
    from app.gui.chat.worker import ChatWorker

    _app = QApplication.instance() or QApplication([])  # noqa: F841 - the worker's signals need it
    store = ModelStore()
    if store.get("bench-gemma") is None:
        store.import_path(path, "chat", "bench-gemma", mode="link")
    worker = ChatWorker()
    history = ChatHistory()
    conv = history.create("bench")
    for m in messages:
        history.add_message(conv.id, m.role, m.content)
    worker.load("bench-gemma", n_ctx)
    params = SamplingParams(temperature=0.0, repeat_penalty=1.0, max_tokens=max_tokens)
    job = worker.generate(conv.id, params)
    result = {}
    job.succeeded.connect(lambda r: result.setdefault("turn", r))
    _wait(job)
    worker.stop()
    stats = result["turn"].stats
    return stats.tokens_per_second, stats.completion_tokens


def _wait(job) -> None:
    """Runs the event loop (not a busy loop) until the job is done."""
    from PySide6.QtCore import QEventLoop

    if job.done:
        return
    loop = QEventLoop()
    job.finished.connect(loop.quit)
    loop.exec()


def bench_chat(args) -> dict:
    with tempfile.TemporaryDirectory() as home:
        os.environ["HEARTH_HOME"] = home
        os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
        from app.core.chat.engine import LoadOptions
        from app.core.chat.loading import load_chat_model
        from app.core.chat.templates import Message
        from app.core.hardware import physical_cores

        path = _starter_gguf()
        n_ctx, max_tokens = 4096, 160
        threads = LoadOptions().n_threads or physical_cores()  # what the app uses
        engine = load_chat_model(path, LoadOptions(n_ctx=n_ctx, n_threads=threads), "gemma")
        messages = [Message("user", STORY)]
        prompt = engine.render(messages)
        engine.close()

        ours_rates, bare_rates = [], []
        for _ in range(args.runs if args.runs <= 3 else 3):  # alternate; both greedy, same tokens
            rate, n_ours = _ours_decode(path, messages, threads, n_ctx, max_tokens)
            ours_rates.append(rate)
            rate, n_bare = _off_main(_bare_decode, path, prompt, threads, n_ctx, max_tokens)
            bare_rates.append(rate)
            print(f"chat decode: ours {ours_rates[-1]:.1f} tok/s, bare {rate:.1f} tok/s", file=sys.stderr, flush=True)
        ours, bare = statistics.median(ours_rates), statistics.median(bare_rates)

        lag = _gui_lag(path, n_ctx)
        first, second, prompt_tokens = _off_main(_ttft_pair, path, n_ctx, threads)
    from bench_chat_search import search_figures

    search = search_figures()
    return {
        "suite": "chat",
        "threads": threads,
        "decode_tok_s_ours": round(ours, 1),
        "decode_tok_s_bare": round(bare, 1),
        "decode_ratio": round(ours / bare, 3),
        "decode_runs_ours_bare": [[round(a, 1), round(b, 1)] for a, b in zip(ours_rates, bare_rates, strict=True)],
        "decode_goal": ">= 0.97",
        "tokens_compared": f"{n_ours} vs {n_bare}",
        "first_turn_tokens": prompt_tokens,
        "ttft_first_turn_s": round(first, 3),
        "ttft_second_turn_s": round(second, 3),
        "ttft_ratio": round(second / first, 3),
        "ttft_goal": "<= 0.3",
        "gui_lag_p99_ms": lag["p99"],
        "gui_lag_max_ms": lag["max"],
        "gui_lag_goal": "p99 <= 16, max <= 50",
        "search": search,
    }


def _ttft_pair(path: Path, n_ctx: int, threads: int) -> tuple[float, float, int]:
    """Time to first token of a 1,500-token conversation, then of its next turn."""
    from app.core.chat.engine import LoadOptions, SamplingParams
    from app.core.chat.events import text_of
    from app.core.chat.loading import load_chat_model
    from app.core.chat.templates import Message

    engine = load_chat_model(path, LoadOptions(n_ctx=n_ctx, n_threads=threads), "gemma")
    convo = []
    para = "The harbour town woke slowly; fishermen mended nets and gulls argued over scraps. "
    while len(engine.tokenize(engine.render(convo + [Message("user", para)]))) < 1500:
        convo += [Message("user", para * 3), Message("assistant", "I see. " + para)]
    convo.append(Message("user", "What happens next?"))
    greedy = SamplingParams(temperature=0.0, max_tokens=16, repeat_penalty=1.0)
    first = _ttft(engine, convo, greedy)
    reply = text_of(engine.stream(convo, greedy))
    convo2 = convo + [Message("assistant", reply), Message("user", "And then?")]
    second = _ttft(engine, convo2, greedy)
    prompt_tokens = len(engine.tokenize(engine.render(convo)))
    engine.close()
    return first, second, prompt_tokens


def _ttft(engine, messages, params) -> float:
    from app.core.chat.events import ChatStats

    for item in engine.stream(messages, params):
        if isinstance(item, ChatStats):
            return item.time_to_first_token_s
    raise RuntimeError("no stats")


def _gui_lag(path: Path, n_ctx: int) -> dict:
    """Streams a long reply into the real Chat pane while a 5 ms timer measures its own lateness."""
    from bench_common import LagProbe, close_window, open_pane

    from app.core.models.store import ModelStore

    store = ModelStore()
    if store.get("bench-gemma") is None:
        store.import_path(path, "chat", "bench-gemma", mode="link")
    window, pane = open_pane("chat", "bench-gemma")
    pane.settings_panel.max_tokens.setValue(400)
    pane.settings_panel.seed.setText("5")
    pane.ensure_model()
    probe = LagProbe()
    pane.input.setPlainText("Write a long story about a storm at sea. " * 3)
    pane.send()  # queued behind the model load on the chat worker
    probe.start()
    _wait(pane.job)
    lag = probe.stop()
    close_window(window)
    return lag

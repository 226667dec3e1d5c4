"""`bench.py tools`: Ask Hearth's step grammar against free decoding, and the time to the first tool result.

Both decodes run in one engine (the starter Gemma in its own process, as `python -m app ask` opens it) on
the same prompt (the step prompt for one question), alternating, so load on the machine hits both alike.
The grammar is the step schema of app/core/ask/prompt.py given through SamplingParams.json_schema, the path
every local step takes. Free decoding is held to the grammar run's token count, so the KV cache grows
alike in both.
"""

from __future__ import annotations

import json
import os
import statistics
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
MODEL = "gemma-3-270m-q4_k_m"
QUESTION = "Which of my photos show a red circle by the sea, in the summer?"
PHOTOS = 24


def _photo_index(home: Path) -> Path:
    """A small folder of coloured shapes indexed with the tiny CLIP, as the Images pane indexes one."""
    import random

    from app.core.images.index import ImageIndex, IndexSummary
    from app.core.models.store import ModelStore
    from app.core.opening import open_encoder
    from app.core.settings import load_settings, save_settings
    from tests.helpers import shapes_module

    ModelStore().import_path(ROOT / "tests" / "fixtures" / "tiny-clip", "images", "tiny-clip", mode="link")
    settings = load_settings()
    settings.default_models["images"] = "tiny-clip"
    save_settings(settings)
    shapes, rng = shapes_module(), random.Random(1)
    folder = home / "photos"
    folder.mkdir()
    for i in range(PHOTOS):
        colour, shape = shapes.classes()[i % len(shapes.classes())]
        shapes.render(colour, shape, rng, size=96).save(folder / f"{colour}-{shape}-{i}.jpg", "JPEG")
    encoder, key = open_encoder(None)
    index = ImageIndex()
    try:
        index.add_folder(folder)
        summary = [s for s in index.index(encoder, key) if isinstance(s, IndexSummary)][0]
        assert summary.embedded == PHOTOS, summary
    finally:
        index.close()
    return folder


def _decode(engine, messages, params) -> tuple[float, int, str]:
    """(tokens per second after the first, tokens, text) of one reply."""
    from app.core.chat.events import ChatStats, TextDelta

    text, stats = "", None
    for event in engine.stream(messages, params):
        if isinstance(event, TextDelta):
            text += event.text
        elif isinstance(event, ChatStats):
            stats = event
    assert stats is not None
    return stats.tokens_per_second, stats.completion_tokens, text


def _grammar_vs_free(engine, runs: int, forced: str | None) -> dict:
    """Tokens per second of one step under its grammar and free, alternating. forced: the step of
    --first-tool (that tool's arguments only; a longer reply) rather than the choice among all tools."""
    from dataclasses import replace

    from app.core.ask import prompt
    from app.core.ask.tools import TOOLS, tools
    from app.core.chat.engine import SamplingParams
    from app.core.chat.templates import Message

    offered = [TOOLS[forced]] if forced else tools()
    system, user = prompt.step_prompt(offered, QUESTION, [], [])
    messages = [Message("system", system), Message("user", user)]
    schema = json.dumps(prompt.step_schema(offered, may_answer=not forced))
    # The loop's step sampling (temperature 0.3 at most); no repeat penalty, so free decoding does not
    # drift into a different kind of text than the grammar run
    base = SamplingParams(temperature=0.3, repeat_penalty=1.0, seed=1, max_tokens=320)
    _decode(engine, messages, replace(base, json_schema=schema))  # warm the prompt cache and the grammar
    grammar_rates, free_rates, grammar_tokens, free_tokens = [], [], [], []
    step_text = ""
    for i in range(runs):
        rate, n, step_text = _decode(engine, messages, replace(base, json_schema=schema, seed=1 + i))
        grammar_rates.append(rate)
        grammar_tokens.append(n)
        rate, m, _ = _decode(engine, messages, replace(base, seed=1 + i, max_tokens=max(n, 16)))
        free_rates.append(rate)
        free_tokens.append(m)
    g, f = statistics.median(grammar_rates), statistics.median(free_rates)
    return {
        "grammar_tok_s": round(g, 1),
        "free_tok_s": round(f, 1),
        "grammar_tokens_median": statistics.median(grammar_tokens),
        "free_tokens_median": statistics.median(free_tokens),
        "ratio": round(g / f, 3) if f else None,
        "goal": "ratio >= 0.85",
        "met": bool(f) and g / f >= 0.85,
        "step": step_text[:160],
    }


def _first_tool_result(engine, runs: int) -> dict:
    """Seconds from ask() to the first StepDone (the step decoded, then search_photos run), median; the
    find engines (CLIP) kept open between questions as the Chat pane keeps them."""
    from app.core.ask.events import StepDone
    from app.core.ask.loop import AskOptions, ask
    from app.core.ask.tools import ToolContext
    from app.core.chat.engine import SamplingParams
    from app.core.find import Engines

    engines = Engines()
    times, found = [], []
    try:
        for i in range(runs + 1):  # the first opens CLIP: reported apart
            ctx = ToolContext.for_user(engines=engines)
            start = time.perf_counter()
            events = ask(engine, QUESTION, ctx, AskOptions(first_tool="search_photos", max_steps=1,
                                                           params=SamplingParams(seed=1 + i, max_tokens=8)))
            for event in events:
                if isinstance(event, StepDone):
                    times.append(time.perf_counter() - start)
                    assert event.error is None, event.error
                    found.append(len(event.results))
                    break
            events.close()  # the answer is not part of this figure
    finally:
        engines.close()
    return {"first_tool_result_s": round(statistics.median(times[1:]), 3),
            "first_tool_result_cold_clip_s": round(times[0], 3),
            "photos_found_median": statistics.median(found)}


def bench_tools(args) -> dict:
    import sys

    sys.path.insert(0, str(ROOT))  # tests.helpers' picture renderer
    with tempfile.TemporaryDirectory() as home:
        os.environ["HEARTH_HOME"] = home
        from app.core.models.starter import provision
        from app.core.models.store import ModelStore
        from app.core.opening import open_chat

        provision(ModelStore())
        _photo_index(Path(home))
        engine = open_chat(MODEL)
        try:
            chosen = _grammar_vs_free(engine, args.runs, None)
            forced = _grammar_vs_free(engine, args.runs, "search_photos")
            first = _first_tool_result(engine, args.runs)
        finally:
            engine.close()
    return {"suite": "tools", "model": MODEL, "runs": args.runs, "photos": PHOTOS,
            "step_choice": chosen, "first_tool_step": forced, **first}

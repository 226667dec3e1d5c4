"""Ask Hearth's loop (#26) with a real local model and a real tiny-CLIP photo index: the step is decided
under the tools' grammar, the tool runs, the answer cites what it found; and the ways a loop ends
early (bad arguments, a failing tool, a path outside the folders, the same call again, Stop) end in
words with the steps kept."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from app.core.ask.events import Answered, AnswerToken, StepDone, StepStarted
from app.core.ask.loop import AskOptions, ask, run
from app.core.ask.tools import ToolContext
from app.core.chat.engine import SamplingParams
from app.core.jobs import CancelToken
from tests.conftest import run_app


@pytest.fixture
def photos(starter_store, clip_store, tmp_path) -> Path:
    """A folder of coloured shapes indexed with the tiny CLIP, as the Images pane indexes one."""
    from app.core.images.index import ImageIndex, IndexSummary
    from app.core.opening import open_encoder
    from tests.helpers import photo_library

    folder = tmp_path / "photos"
    photo_library(folder, per_class=2)
    encoder, key = open_encoder(None)
    index = ImageIndex()
    try:
        index.add_folder(folder)
        assert [x for x in index.index(encoder, key) if isinstance(x, IndexSummary)][0].embedded
    finally:
        index.close()
    return folder


def _files_in(folder: Path) -> set[str]:
    return {str(p.resolve()) for p in folder.rglob("*") if p.is_file()}


@pytest.mark.slow
def test_a_question_calls_search_photos_under_the_grammar_and_the_answer_cites_the_files(gemma, photos):
    ctx = ToolContext.for_user()
    assert photos.resolve() in [f.resolve() for f in ctx.folders]
    events = list(ask(gemma, "Which of my photos show a red circle?", ctx,
                      AskOptions(first_tool="search_photos", max_steps=1,
                                 params=SamplingParams(seed=1, max_tokens=48))))
    started = [e for e in events if isinstance(e, StepStarted)]
    done = [e for e in events if isinstance(e, StepDone)]
    answered = events[-1]
    assert isinstance(answered, Answered) and sum(isinstance(e, Answered) for e in events) == 1
    assert started[0].tool == "search_photos" and done[0].error is None, done
    args = started[0].arguments
    assert set(args) == {"query", "limit"} and args["query"].strip() and 1 <= args["limit"] <= 20
    paths = [r["path"] for r in done[0].results]
    assert paths and set(paths) <= _files_in(photos)
    assert done[0].summary.startswith("Searched photos for '") and f": {len(paths)} found" in done[0].summary
    assert answered.answer == "".join(e.text for e in events if isinstance(e, AnswerToken))
    assert answered.steps[0].to_json()["results"] == done[0].results
    assert answered.sources and {c.result["path"] for c in answered.sources} <= _files_in(photos)
    assert answered.citations, answered.answer  # the answer cites at least one numbered source …
    for c in answered.citations:  # … each a file the search found
        assert f"[{c.number}]" in answered.answer and c.result["path"] in paths


@pytest.mark.slow
def test_without_a_first_tool_the_step_is_a_valid_call_or_answer_now(gemma, photos):
    from app.core.ask.tools import TOOLS
    from app.core.ask.validate import check

    answered = run(gemma, "Find my photos of a red circle", ToolContext.for_user(),
                   AskOptions(max_steps=1, params=SamplingParams(seed=3, max_tokens=8)))
    for step in answered.steps:  # the grammar allows nothing else: a known tool, its arguments valid
        assert step.tool in TOOLS and check(step.arguments, TOOLS[step.tool].parameters) is None, step
    assert answered.stop_reason in ("answered", "step limit") and answered.error is None


@pytest.mark.slow
def test_the_ask_cli_prints_the_steps_and_the_answer_as_json(photos):
    result = run_app("ask", "Which of my photos show a red circle?", "--first-tool", "search_photos", "--json",
                     "--max-steps", "1", "--max-tokens", "40", "--seed", "1", timeout=600)
    assert result.returncode == 0, result.stderr
    out = json.loads(result.stdout)
    step = out["steps"][0]
    assert step["tool"] == "search_photos" and step["arguments"]["query"] and step["error"] is None
    assert step["results"] and {r["path"] for r in step["results"]} <= _files_in(photos)
    assert isinstance(out["answer"], str) and out["answer"].strip()
    assert {c["path"] for c in out["citations"]} <= {r["path"] for r in step["results"]}


def test_the_ask_cli_refuses_an_unknown_first_tool_in_words():
    result = run_app("ask", "anything", "--first-tool", "rm_rf")
    assert result.returncode == 2 and "invalid choice: 'rm_rf'" in result.stderr and "Traceback" not in result.stderr


@pytest.mark.slow
def test_stop_during_a_step_keeps_the_step_and_says_so(gemma, photos):
    cancel = CancelToken()
    events = []
    for event in ask(gemma, "Which photos show a red circle?", ToolContext.for_user(cancel=cancel),
                     AskOptions(first_tool="search_photos", params=SamplingParams(seed=1, max_tokens=40))):
        events.append(event)
        if isinstance(event, StepStarted):
            cancel.cancel()  # Stop while the search runs
    answered = events[-1]
    assert isinstance(answered, Answered) and answered.stop_reason == "cancelled" and answered.error == "stopped"
    assert [(s.tool, s.error) for s in answered.steps] == [("search_photos", "stopped")]
    assert not any(isinstance(e, AnswerToken) for e in events)


@pytest.mark.slow
def test_a_failing_tool_ends_its_step_in_words_and_the_model_still_answers(gemma, photos):
    from app.core.images.index import default_path

    default_path().write_bytes(b"not a database" * 200)  # the photo index is damaged after the folders were read
    answered = run(gemma, "Which photos show a red circle?", ToolContext(folders=[photos]),
                   AskOptions(first_tool="search_photos", max_steps=1, params=SamplingParams(seed=1, max_tokens=16)))
    step = answered.steps[0]
    assert step.error and step.error.startswith("photos could not be searched: ") and step.results == []
    assert answered.stop_reason in ("answered", "step limit") and answered.error is None

"""search_photos as Ask's tool (#26) takes the date and place filters photos-meta built: `after`,
`before` and `place` in its schema, checked like its other arguments; results carry `taken` and
`place`; and time and place words in the query ("last summer", "in Lisbon") filter as the Images pane's
search line does. Photos with EXIF dates and GPS written by Pillow, indexed with the tiny CLIP."""

from __future__ import annotations

import json
import os
from datetime import date
from pathlib import Path

import pytest

from app.core.ask import prompt
from app.core.ask.tools import TOOLS, ToolContext, call_tool
from tests.conftest import run_app


def _last_summer() -> str:
    today = date.today()
    year = today.year if today > date(today.year, 8, 31) else today.year - 1
    return f"{year}:07:10 12:00:00"


@pytest.fixture
def dated(starter_store, clip_store, tmp_path, monkeypatch) -> Path:
    # Seasons follow the locale's hemisphere: these photos are dated by the northern one's months
    monkeypatch.delenv("LC_ALL", raising=False)
    monkeypatch.setenv("LC_TIME", "en_GB.UTF-8")
    from app.core.images.index import ImageIndex, IndexSummary
    from app.core.opening import open_encoder
    from tests.photo_exif import LISBON, SHOTS, Shot, dated_photos

    folder = tmp_path / "photos"
    dated_photos(folder, [*SHOTS, Shot("lisbon-last-summer.jpg", _last_summer(), LISBON)])
    encoder, key = open_encoder(None)
    index = ImageIndex()
    try:
        index.add_folder(folder)
        assert [x for x in index.index(encoder, key) if isinstance(x, IndexSummary)][0].embedded == len(SHOTS) + 1
    finally:
        index.close()
    return folder


def _names(result) -> set[str]:
    assert result.error is None, result.error
    return {os.path.basename(r["path"]) for r in result.results}


@pytest.mark.parametrize("arguments,said", [
    ({"query": "x", "after": "last week"},
     "'after' must be a year, month or day (2023, 2023-08 or 2023-08-15) the photos were taken on or after"),
    ({"query": "x", "before": 2023}, "'before' must be text, not a whole number"),
    ({"query": "x", "after": "2023-13"}, "'2023-13' is not a date"),
    ({"query": "x", "after": "2024", "before": "2023"}, "the start date is after the end date"),
    ({"query": "x", "place": ""}, "'place' is empty"),
    ({"query": "x", "place": "L" * 101}, "'place' is longer than 100 characters"),
])
def test_bad_dates_and_places_are_said_as_bad_arguments(arguments, said):
    result = call_tool("search_photos", arguments, ToolContext(folders=[]))
    assert result.error and said in result.error and result.results == [], result.error
    assert result.summary.startswith("search_photos: bad arguments")


def test_the_filters_are_offered_to_api_and_mcp_callers_and_left_to_the_querys_words_under_the_grammar():
    from llama_cpp.llama_grammar import LlamaGrammar, json_schema_to_gbnf

    offered = TOOLS["search_photos"].openai()["function"]["parameters"]
    assert list(offered["properties"]) == ["query", "limit", "after", "before", "place"]
    assert offered["required"] == ["query"]
    # A local model's step: the query (whose words say when and where) and the limit only; the starter
    # Gemma given the fields invented a date and a place for every question
    schema = prompt.step_schema([TOOLS["search_photos"]], False)
    assert list(schema["properties"]["arguments"]["properties"]) == ["query", "limit"]
    assert LlamaGrammar.from_string(json_schema_to_gbnf(json.dumps(schema)), verbose=False) is not None
    assert "search_photos(query: string, limit: integer)" in prompt.tools_in_words([TOOLS["search_photos"]])
    assert "'last summer' or 'in Lisbon'" in offered["properties"]["query"]["description"]


@pytest.mark.slow
def test_the_filters_and_the_query_words_narrow_the_photos_and_results_say_when_and_where(dated):
    ctx = ToolContext.for_user()
    lisbon = call_tool("search_photos", {"query": "a shape", "limit": 20, "place": "Lisbon"}, ctx)
    assert _names(lisbon) == {"lisbon-aug-2023.jpg", "lisbon-dec-2021.jpg", "lisbon-last-summer.jpg"}
    assert lisbon.summary == "Searched photos for 'a shape' (in Lisbon): 3 found"
    august = call_tool("search_photos", {"query": "a shape", "limit": 20, "after": "2023-08", "before": "2023-08"}, ctx)
    assert _names(august) == {"lisbon-aug-2023.jpg", "no-gps-aug-2023.jpg"}
    both = call_tool("search_photos", {"query": "a shape", "limit": 20, "after": "2023", "place": "portugal"}, ctx)
    assert _names(both) == {"lisbon-aug-2023.jpg", "porto-jul-2023.jpg", "lisbon-last-summer.jpg"}
    by_name = {os.path.basename(r["path"]): r for r in lisbon.results + august.results}
    assert by_name["lisbon-aug-2023.jpg"]["taken"].startswith("2023-08-15T10:00:00")
    assert by_name["lisbon-aug-2023.jpg"]["place"] == "Lisbon, Portugal"
    assert "taken" in by_name["no-gps-aug-2023.jpg"] and by_name["no-gps-aug-2023.jpg"]["place"] is None
    # The words of the query, as the Images pane reads them
    assert _names(call_tool("search_photos", {"query": "a shape in Lisbon", "limit": 20}, ctx)) == \
        {"lisbon-aug-2023.jpg", "lisbon-dec-2021.jpg", "lisbon-last-summer.jpg"}
    assert _names(call_tool("search_photos", {"query": "a shape last summer", "limit": 20}, ctx)) == \
        {"lisbon-last-summer.jpg"}
    assert _names(call_tool("search_photos", {"query": "photos from last summer in Tokyo", "limit": 20}, ctx)) == set()


@pytest.mark.slow
def test_the_ask_cli_passes_the_models_filters_and_its_results_say_when_and_where(dated):
    result = run_app("ask", "Which photos did I take in Lisbon last summer?", "--first-tool", "search_photos",
                     "--json", "--max-steps", "1", "--max-tokens", "24", "--seed", "1", timeout=600)
    assert result.returncode == 0, result.stderr
    step = json.loads(result.stdout)["steps"][0]
    assert step["tool"] == "search_photos" and step["error"] is None, step
    assert set(step["arguments"]) == {"query", "limit"}  # when and where: in the query's words
    assert all({"taken", "place", "path"} <= set(r) for r in step["results"]), step["results"]
    # what the model wrote (its query's words and any filter it chose) gives what the tool gives here
    same = call_tool("search_photos", step["arguments"], ToolContext.for_user())
    assert [r["path"] for r in step["results"]] == [r["path"] for r in same.results]

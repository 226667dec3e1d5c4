"""Hearth's tools for Ask (#26), without a model: every schema becomes a grammar llama.cpp accepts,
arguments are checked against the schema in words, a path must lie in a folder the user added (symlinks
and .. resolved), and a step's JSON survives the history as it is stored."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from app.core.ask import prompt
from app.core.ask.events import Step
from app.core.ask.tools import TOOLS, ToolContext, call_tool, inside, tools


def test_every_tool_and_the_step_choice_become_a_grammar_llama_cpp_accepts():
    from llama_cpp.llama_grammar import LlamaGrammar, json_schema_to_gbnf

    for schema in [prompt.step_schema(tools()), *(prompt.step_schema([t], False) for t in tools())]:
        gbnf = json_schema_to_gbnf(json.dumps(schema))
        assert LlamaGrammar.from_string(gbnf, verbose=False) is not None
    every = prompt.step_schema(tools())
    assert [c["properties"]["tool"]["const"] for c in every["oneOf"]] == [*TOOLS, prompt.ANSWER]


def test_the_grammar_keeps_an_integer_bound_the_converter_would_drop():
    limit = prompt.step_schema([TOOLS["search_photos"]], False)["properties"]["arguments"]["properties"]["limit"]
    assert limit == {"enum": list(range(1, 21))}


@pytest.mark.parametrize("arguments,said", [
    ({"query": 7}, "'query' must be text, not a whole number"),
    ({"query": "   "}, "'query' is empty"),
    ({"query": "x", "limit": 0}, "'limit' must be at least 1"),
    ({"query": "x", "limit": True}, "'limit' must be a whole number, not true or false"),
    ({"query": "x", "limit": 2.5}, "'limit' must be a whole number"),
    ({}, "'query' is missing"),
    ({"query": "x", "where": "/"}, "there is no argument 'where'"),
    (["x"], "the arguments must be an object"),
    ("x" * 10, "the arguments must be an object"),
])
def test_bad_arguments_are_said_in_words_not_raised(arguments, said):
    result = call_tool("search_photos", arguments, ToolContext(folders=[]))
    assert result.error and said in result.error and result.results == [], result.error
    assert result.summary.startswith("search_photos: bad arguments")


def test_an_unknown_tool_is_said_with_the_tools_there_are():
    result = call_tool("delete_everything", {}, ToolContext(folders=[]))
    assert "there is no tool 'delete_everything'" in result.error and "search_photos" in result.error


def test_a_path_must_lie_in_an_added_folder(tmp_path):
    added, other = tmp_path / "added", tmp_path / "other"
    added.mkdir()
    other.mkdir()
    (added / "in.jpg").write_bytes(b"x")
    (other / "out.jpg").write_bytes(b"x")
    (added / "link.jpg").symlink_to(other / "out.jpg")
    (added / "dir-link").symlink_to(other)
    assert inside(str(added / "in.jpg"), [added]) == (added / "in.jpg").resolve()
    for path in [other / "out.jpg", added / ".." / "other" / "out.jpg", added / "link.jpg",
                 added / "dir-link" / "out.jpg"]:
        said = inside(str(path), [added])
        assert isinstance(said, str) and "outside the folders you added" in said, path
    assert "not a full path" in inside("in.jpg", [added])
    assert "there is no file" in inside(str(added / "gone.jpg"), [added])
    assert "not a file" in inside(str(added), [added])


def test_look_at_photos_refuses_an_outside_path_before_it_looks(tmp_path):
    seen = []
    ctx = ToolContext(folders=[tmp_path], vision=lambda path, question, cancel: seen.append(path) or "a lake")
    result = call_tool("look_at_photos", {"paths": ["/etc/hostname"], "question": "what is it?"}, ctx)
    assert "outside the folders you added" in result.error and seen == []
    (tmp_path / "lake.jpg").write_bytes(b"x")
    result = call_tool("look_at_photos", {"paths": [str(tmp_path / "lake.jpg")], "question": "what?"}, ctx)
    assert result.error is None and result.results[0]["path"] == str((tmp_path / "lake.jpg").resolve())
    assert result.results[0]["text"] == "a lake" and result.summary == "Looked at 1 photo"


def test_a_tool_that_raises_ends_in_words(tmp_path):
    def broken(path: Path, question: str, cancel) -> str:
        raise RuntimeError("the vision model fell over")

    (tmp_path / "a.jpg").write_bytes(b"x")
    result = call_tool("look_at_photos", {"paths": [str(tmp_path / "a.jpg")], "question": "?"},
                       ToolContext(folders=[tmp_path], vision=broken))
    assert result.error.startswith("look_at_photos failed") and result.summary == "look_at_photos failed"
    said = result.error + result.summary  # the model, the pane and the MCP host read it: words, not the exception
    assert "RuntimeError" not in said and "fell over" not in said


def test_a_step_survives_its_json_and_a_damaged_one_is_refused():
    step = Step("search_photos", {"query": "kayak"}, [{"kind": "photo", "path": "/p/a.jpg"}], None, "Searched")
    stored = json.loads(json.dumps(step.to_json()))
    assert set(stored) == {"tool", "arguments", "results", "error", "summary"}
    assert Step.from_json(stored) == step
    assert Step.from_json({"tool": 3}) is None and Step.from_json("x") is None
    assert Step.from_json({"tool": "t", "results": ["x", {"path": "/a"}]}).results == [{"path": "/a"}]


def test_a_big_first_search_leaves_the_next_steps_results_citable():
    """Sources were the first 12 results in step order: a search_photos with limit 20 took them all, and
    the memo the next step found never reached the answer's prompt. Each step now gives its best few."""
    photos = Step("search_photos", {"query": "kayak", "limit": 20},
                  [{"kind": "photo", "title": f"lake-{i}.jpg", "path": f"/p/lake-{i}.jpg"} for i in range(20)])
    memo = Step("search_recordings", {"query": "kayak"},
                [{"kind": "transcript", "title": "Voice memo", "text": "the kayak leaks", "start": 65.0}])
    sources = prompt.number_sources([photos, memo])
    assert [c.number for c in sources] == list(range(1, len(sources) + 1))
    assert sources[-1].step == 1 and sources[-1].result["title"] == "Voice memo"
    _system, user = prompt.answer_prompt("Kayak?", [photos, memo], sources)
    assert f"[{sources[-1].number}] transcript Voice memo | at 65 s | the kayak leaks" in user
    assert prompt.number_sources([photos])[:3] == sources[:3], "a step's numbers stay when the next one comes"

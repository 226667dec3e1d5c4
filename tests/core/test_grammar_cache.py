"""The step grammar built once per tool set (#26's tools bench): each request built its grammar again (the
converter's GBNF, then llama.cpp's parse twice), ~3.5 ms for six tools. Now a model keeps its recent
grammars by schema, and each generation samples with its own copy of the parse: the same replies, and
nothing of one generation's grammar state left for the next."""

from __future__ import annotations

import json

import pytest

from app.core.ask import prompt
from app.core.ask.tools import TOOLS, tools
from app.core.chat.engine import SamplingParams
from app.core.chat.events import ChatStats, TextDelta
from app.core.chat.grammar_cache import MAX_CHARS, MAX_GRAMMARS, ParsedGrammar
from app.core.chat.templates import Message
from app.core.jobs import InputError

QUESTION = "Which of my photos show a red circle by the sea, in the summer?"
ALL = json.dumps(prompt.step_schema(tools()))
ONE = json.dumps(prompt.step_schema([TOOLS["search_photos"]], False))


def _step(engine, schema: str) -> str:
    """A greedy step under ``schema``, with the step prompt for the tools it offers."""
    offered = tools() if schema == ALL else [TOOLS["search_photos"]]
    system, user = prompt.step_prompt(offered, QUESTION, [], [])
    text, stats = "", None
    for event in engine.stream([Message("system", system), Message("user", user)],
                               SamplingParams(temperature=0.0, repeat_penalty=1.0, max_tokens=96, json_schema=schema)):
        if isinstance(event, TextDelta):
            text += event.text
        elif isinstance(event, ChatStats):
            stats = event
    assert stats is not None and stats.stop_reason == "eos", (stats, text)
    return text


@pytest.mark.slow
def test_a_second_step_with_the_same_tools_reuses_their_grammar_and_other_tools_get_their_own(gemma):
    gemma.grammars.clear()
    before = gemma.grammars.info()
    _step(gemma, ALL)
    _step(gemma, ALL)
    _step(gemma, ONE)
    after = gemma.grammars.info()
    assert (after.hits - before.hits, after.misses - before.misses, after.size) == (1, 2, 2)
    assert gemma._grammar(ALL) is gemma._grammar(ALL)
    assert gemma._grammar(ONE) is not gemma._grammar(ALL)
    assert gemma._grammar(ONE, or_text=True) is not gemma._grammar(ONE)  # another root: another grammar


@pytest.mark.slow
def test_greedy_steps_under_a_cached_grammar_are_those_under_a_grammar_built_afresh(gemma):
    """Two steps with the same tools, one with others, then the first tools again: had one generation's
    grammar state (a step's JSON, closed) been left in the cached parse, the next would be refused its
    first token."""
    requests = [ALL, ALL, ONE, ALL]

    def replies(fresh: bool) -> list[str]:
        gemma.grammars.clear()
        out = []
        for schema in requests:
            if fresh:
                gemma.grammars.clear()
            out.append(_step(gemma, schema))
        return out

    cached = replies(fresh=False)
    assert gemma.grammars.info().size == 2
    assert cached == replies(fresh=True)
    assert [json.loads(text)["tool"] for text in cached[2:3]] == ["search_photos"]


@pytest.mark.slow
def test_the_cache_keeps_the_latest_grammars_and_builds_an_evicted_one_again(gemma):
    gemma.grammars.clear()
    schemas = [json.dumps({"enum": [f"v{i}"]}) for i in range(MAX_GRAMMARS + 1)]
    first = gemma._grammar(schemas[0])
    for schema in schemas[1:]:
        gemma._grammar(schema)
    assert gemma.grammars.info().size == MAX_GRAMMARS
    latest = gemma._grammar(schemas[-1])
    misses = gemma.grammars.info().misses
    assert gemma._grammar(schemas[-1]) is latest
    assert gemma._grammar(schemas[0]) is not first  # the oldest went: built again
    assert gemma.grammars.info().misses == misses + 1


@pytest.mark.slow
def test_a_grammar_llama_cpp_cannot_read_is_refused_in_words(gemma):
    with pytest.raises(InputError, match="cannot read"):
        ParsedGrammar(gemma._vocab, "root ::= (", "root")


@pytest.mark.slow
def test_a_grammar_too_large_to_keep_is_built_for_its_request_and_not_kept(gemma):
    """A client's schema may give megabytes of grammar: kept, 32 of them would hold gigabytes."""
    gemma.grammars.clear()
    gemma._grammar(ALL)
    large = json.dumps({"enum": [f"{i:06d}-" + "x" * 30 for i in range(30_000)]})  # 1.4 MB of GBNF
    grammar = gemma._grammar(large)
    assert len(grammar._grammar) > MAX_CHARS
    assert gemma._grammar(large) is not grammar
    info = gemma.grammars.info()
    assert (info.size, info.chars) == (1, len(gemma._grammar(ALL)._grammar))

"""The step grammar applied lazily (#26's tools bench): llama-cpp-python ran the grammar over every one
of Gemma's 262,144 candidates for each token, so a JSON step decoded at a third of the free speed. Now
the grammar is asked about the drawn token only, and filters the candidates only when it refuses that
one: the same replies, valid JSON, and a full pass over the vocabulary only where nothing likely fits."""

from __future__ import annotations

import json

import pytest

from app.core.ask import prompt
from app.core.ask.tools import TOOLS, tools
from app.core.ask.validate import check
from app.core.chat.engine import SamplingParams
from app.core.chat.events import ChatStats, TextDelta
from app.core.chat.templates import Message
from app.core.jobs import CancelToken

QUESTION = [Message("user", "Find my photos of a red circle at the beach. Reply with JSON.")]


def _reply(engine, params) -> tuple[str, ChatStats]:
    text, stats = "", None
    for event in engine.stream(QUESTION, params):
        if isinstance(event, TextDelta):
            text += event.text
        elif isinstance(event, ChatStats):
            stats = event
    return text, stats


@pytest.mark.slow
def test_a_step_decodes_with_the_grammar_asked_about_one_token_not_the_whole_vocabulary(gemma):
    schema = json.dumps(prompt.step_schema([TOOLS["search_photos"]], False))
    text, stats = _reply(gemma, SamplingParams(temperature=0.0, repeat_penalty=1.0, max_tokens=80,
                                               json_schema=schema))
    data = json.loads(text)
    assert data["tool"] == "search_photos" and check(data["arguments"], TOOLS["search_photos"].parameters) is None
    sampler = gemma.llm._sampler  # the sampler the engine's last decode used
    decoded = stats.completion_tokens + (stats.stop_reason == "eos")
    assert sampler.checked == decoded, (sampler.checked, stats)  # every token went through the grammar
    # a pass over all 262,144 candidates only where none of the likeliest fit: the eager way made one per token
    assert sampler.wide_missed <= decoded // 4, (sampler.wide_missed, decoded)


@pytest.mark.slow
def test_the_lazy_grammar_gives_the_reply_the_eager_grammar_gives(gemma, gemma_path):
    """Greedy decoding picks the likeliest token the grammar allows either way: the same text."""
    import llama_cpp
    from llama_cpp.llama_grammar import LlamaGrammar, json_schema_to_gbnf

    schema = json.dumps(prompt.step_schema(tools()))
    text, _ = _reply(gemma, SamplingParams(temperature=0.0, repeat_penalty=1.0, max_tokens=48, json_schema=schema))
    eager = llama_cpp.Llama(str(gemma_path), n_ctx=2048, n_threads=2, swa_full=True, verbose=False)
    try:
        tokens = gemma.plan(QUESTION, 48, CancelToken()).tokens  # the very prompt the engine decoded
        out: list[int] = []
        grammar = LlamaGrammar.from_string(json_schema_to_gbnf(schema), verbose=False)
        for token in eager.generate(tokens, temp=0.0, repeat_penalty=1.0, grammar=grammar):
            if llama_cpp.llama_vocab_is_eog(eager._model.vocab, token) or len(out) >= 48:
                break
            out.append(token)
        assert eager.detokenize(out).decode() == text
    finally:
        eager.close()


@pytest.mark.slow
def test_a_step_whose_first_drawn_token_is_refused_is_drawn_again_among_the_allowed(gemma):
    """The step prompt as the loop writes it: the model's likeliest first word ("You") is no JSON. The
    draw again among the likeliest candidates once took a refused one ("How"): llama.cpp stopped the
    model's process on the grammar's assertion."""
    offered = tools()
    system, user = prompt.step_prompt(offered, "Which of my photos show a red circle by the sea, in the summer?",
                                      [], [])
    messages = [Message("system", system), Message("user", user)]
    schema = json.dumps(prompt.step_schema(offered))
    refused = 0
    for seed in range(1, 4):
        text, stats = "", None
        for event in gemma.stream(messages, SamplingParams(temperature=0.3, repeat_penalty=1.0, seed=seed,
                                                           max_tokens=320, json_schema=schema)):
            if isinstance(event, TextDelta):
                text += event.text
            elif isinstance(event, ChatStats):
                stats = event
        refused += gemma.llm._sampler.refused
        if stats.stop_reason != "length":
            data = json.loads(text)
            assert data["tool"] == prompt.ANSWER or check(data["arguments"], TOOLS[data["tool"]].parameters) is None
    assert refused  # the grammar did refuse drawn tokens: the draw again was tried


@pytest.mark.slow
def test_sampled_steps_under_the_lazy_grammar_are_each_a_valid_call_or_answer(gemma):
    schema = json.dumps(prompt.step_schema(tools()))
    for seed in range(4):
        text, stats = _reply(gemma, SamplingParams(temperature=0.9, seed=seed, max_tokens=320, json_schema=schema))
        if stats.stop_reason == "length":
            continue  # a string argument still open at the limit: the loop says so in words
        data = json.loads(text)
        tool = data["tool"]
        assert tool == prompt.ANSWER or check(data["arguments"], TOOLS[tool].parameters) is None, text

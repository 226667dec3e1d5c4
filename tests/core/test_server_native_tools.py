"""`serve`'s tools through a model's own tool template (#26): a model whose template has tool-call tokens
(Qwen2.5/Hermes here) is shown the request's tools by that template, an agent's earlier calls and results
are the template's own turns, and the reply is decoded in the template's call form and read back into
OpenAI's tool_calls. The model: the starter Gemma with a Qwen2.5 template spliced in."""

from __future__ import annotations

import json

import pytest

from app.core.chat.templates import choose_format
from app.core.chat.tool_format import STYLES
from app.server.chat import parse_messages
from app.server.tool_calls import ToolReply
from tests.conftest import ROOT

QWEN = (ROOT / "tests" / "fixtures" / "templates" / "qwen2.5-instruct.jinja").read_text()
WEATHER = {"type": "function", "function": {
    "name": "get_weather", "description": "The weather in a city now.",
    "parameters": {"type": "object", "properties": {"city": {"type": "string", "maxLength": 40}},
                   "required": ["city"]}}}
AGENT_TURNS = [
    {"role": "user", "content": "Weather in Oslo?"},
    {"role": "assistant", "content": None, "tool_calls": [
        {"id": "call_1", "type": "function", "function": {"name": "get_weather", "arguments": '{"city": "Oslo"}'}}]},
    {"role": "tool", "tool_call_id": "call_1", "content": "4 C and rain"},
]


@pytest.mark.parametrize("pieces", [1, 3, 1000])
def test_a_hermes_call_reads_back_as_tool_calls_in_any_pieces(pieces):
    text = '<tool_call>\n{"name": "get_weather", "arguments": {"city": "Oslo"}}\n</tool_call>'
    reader = ToolReply(STYLES["hermes"])
    size = max(1, len(text) // pieces)
    for i in range(0, len(text), size):
        reader.feed(text[i:i + size])
    reader.finish()
    assert reader.complete() and reader.content is None
    assert [c["function"]["name"] for c in reader.calls] == ["get_weather"]
    assert json.loads(reader.calls[0]["function"]["arguments"]) == {"city": "Oslo"}


def test_words_and_llama3_calls_read_back():
    words = ToolReply(STYLES["hermes"])
    words.feed("It is cold.")
    assert words.content == "It is cold." and not words.calls
    llama = ToolReply(STYLES["llama3"])
    llama.feed('{"name": "get_weather", "parameters": {"city": "Oslo"}}')
    assert llama.complete() and json.loads(llama.calls[0]["function"]["arguments"]) == {"city": "Oslo"}


def test_an_agents_turns_reach_a_tool_template_as_its_own_turns():
    messages = parse_messages(AGENT_TURNS, native=True)
    assert [m.role for m in messages] == ["user", "assistant", "tool"]
    text = choose_format(QWEN, "qwen2").render(messages, None, json.dumps([WEATHER]))
    assert '<tools>\n{"type": "function", "function": {"name": "get_weather"' in text
    assert '<tool_call>\n{"name": "get_weather", "arguments": {"city": "Oslo"}}\n</tool_call>' in text
    assert "<tool_response>\n4 C and rain\n</tool_response>" in text
    # without a tool template, the same turns are words, as before
    assert [m.role for m in parse_messages(AGENT_TURNS)] == ["user", "assistant", "user"]


@pytest.fixture(scope="module")
def served(starter_home, tmp_path_factory):
    import openai

    from app.core.models.store import ModelStore
    from app.core.settings import Settings
    from app.server.backends import LocalBackends
    from app.server.run import HearthServer
    from tests.helpers import gguf_with_template

    source = ModelStore(starter_home / "data" / "models", Settings())
    gemma = source.path_of(source.get("gemma-3-270m-q4_k_m"))
    folder = tmp_path_factory.mktemp("qwen-served")
    store = ModelStore(folder / "models", Settings())
    store.import_path(gguf_with_template(gemma, folder / "qwen-tools.gguf", QWEN), "chat", "qwen-tools", mode="link")
    store.import_path(gemma, "chat", "gemma", mode="link")
    backends = LocalBackends(store=store)
    server = HearthServer(backends, "127.0.0.1", 0).start()
    yield backends, openai.OpenAI(base_url=server.url, api_key="unused", max_retries=0, timeout=600)
    server.stop()
    backends.close()


@pytest.mark.slow
def test_the_server_knows_a_models_tool_template_from_its_file(served):
    backends, _ = served
    assert backends.tool_style("qwen-tools") == "hermes"
    assert backends.tool_style("gemma") == "" and backends.tool_style("no-such-model") == ""


@pytest.mark.slow
def test_a_tool_template_model_returns_tool_calls_the_openai_client_parses(served):
    _, client = served
    ask = {"model": "qwen-tools", "messages": [*AGENT_TURNS, {"role": "user", "content": "And in Bergen?"}],
           "tools": [WEATHER], "tool_choice": "required", "max_tokens": 60, "seed": 1}
    reply = client.chat.completions.create(**ask)
    choice = reply.choices[0]
    assert choice.finish_reason == "tool_calls" and not choice.message.content, choice
    call = choice.message.tool_calls[0]
    assert call.function.name == "get_weather" and set(json.loads(call.function.arguments)) == {"city"}
    streamed = {"name": None, "arguments": ""}
    for chunk in client.chat.completions.create(stream=True, **ask):
        for piece in (chunk.choices[0].delta.tool_calls or []) if chunk.choices else []:
            streamed["name"] = streamed["name"] or piece.function.name
            streamed["arguments"] += piece.function.arguments or ""
    assert streamed == {"name": "get_weather", "arguments": call.function.arguments}

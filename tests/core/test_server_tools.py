"""`tools` and `tool_choice` on `serve`'s /v1/chat/completions with the starter model, driven by the official
openai client: tool_calls it parses (strict pydantic tools too), streamed as deltas and not; `auto` valid
either way; a hostile `tools` is a 400 in words. Then the reader of a reply decoded under the tools'
grammar, on its own."""

from __future__ import annotations

import json

import pytest
from pydantic import BaseModel, Field

GEMMA = "gemma-3-270m-q4_k_m"


class GetWeather(BaseModel):
    """The weather in a city now."""

    city: str = Field(max_length=40)
    celsius: bool


class Place(BaseModel):
    city: str = Field(max_length=40)
    country: str = Field(max_length=40)


class BookTrip(BaseModel):
    """Book a trip between two places (nested models: their schema has $defs and $refs)."""

    start: Place
    end: Place


WEATHER = {"type": "function", "function": {
    "name": "get_weather", "description": "The weather in a city now.",
    "parameters": {"type": "object", "properties": {"city": {"type": "string", "maxLength": 40}},
                   "required": ["city"]}}}
TIME = {"type": "function", "function": {
    "name": "get_time", "description": "The time in a time zone.",
    "parameters": {"type": "object", "properties": {"zone": {"type": "string", "maxLength": 40}},
                   "required": ["zone"]}}}


@pytest.fixture(scope="module")
def client(starter_home, tmp_path_factory):
    import openai

    from app.core.models.store import ModelStore
    from app.core.settings import Settings
    from app.server.backends import LocalBackends
    from app.server.run import HearthServer

    source = ModelStore(starter_home / "data" / "models", Settings())
    store = ModelStore(tmp_path_factory.mktemp("served-models"), Settings())
    entries = {}
    for entry in source.list("chat"):
        entry.path = str(source.path_of(entry))
        entries[entry.id] = entry
    store._write(entries)
    backends = LocalBackends(store=store)
    server = HearthServer(backends, "127.0.0.1", 0).start()
    yield openai.OpenAI(base_url=server.url, api_key="unused", max_retries=0, timeout=600)
    server.stop()
    backends.close()


def _ask(text: str) -> list[dict]:
    return [{"role": "user", "content": text}]


def _arguments_fit(call) -> None:
    """A call of WEATHER or TIME whose arguments parse as JSON and match that tool's parameters."""
    args = json.loads(call.function.arguments)
    key = {"get_weather": "city", "get_time": "zone"}[call.function.name]
    assert set(args) == {key} and isinstance(args[key], str) and len(args[key]) <= 40, args
    assert call.type == "function" and call.id.startswith("call_")


def _streamed(client, **ask) -> tuple[dict, str | None, str]:
    """The deltas of a streamed reply put together as a client does: calls by index, content, finish reason."""
    calls: dict[int, dict] = {}
    content, finish = "", None
    for chunk in client.chat.completions.create(model=GEMMA, stream=True, **ask):
        if not chunk.choices:
            continue
        choice = chunk.choices[0]
        finish = choice.finish_reason or finish
        content += choice.delta.content or ""
        for piece in choice.delta.tool_calls or []:
            call = calls.setdefault(piece.index, {"id": None, "name": None, "arguments": ""})
            if piece.id:
                assert call["id"] is None, "an id comes once, with the call's first delta"
                call["id"], call["name"] = piece.id, piece.function.name
            call["arguments"] += piece.function.arguments or ""
    return calls, finish, content


@pytest.mark.slow
def test_required_gives_a_tool_call_that_parses_streamed_and_not(client):
    ask = {"messages": _ask("What is the weather in Oslo?"), "tools": [WEATHER, TIME], "tool_choice": "required",
           "max_tokens": 80, "temperature": 0, "seed": 5}
    whole = client.chat.completions.create(model=GEMMA, **ask)
    choice = whole.choices[0]
    assert choice.finish_reason == "tool_calls" and len(choice.message.tool_calls) == 1
    _arguments_fit(choice.message.tool_calls[0])
    calls, finish, content = _streamed(client, **ask)
    assert finish == "tool_calls" and not content and list(calls) == [0]
    call = calls[0]
    assert call["id"].startswith("call_") and call["name"] == choice.message.tool_calls[0].function.name
    assert json.loads(call["arguments"]) == json.loads(choice.message.tool_calls[0].function.arguments)


@pytest.mark.slow
def test_a_named_function_is_the_one_called_and_strict_pydantic_tools_parse(client):
    import openai

    named = {"type": "function", "function": {"name": "get_time"}}
    calls, finish, _ = _streamed(client, messages=_ask("What is the weather in Oslo?"), tools=[WEATHER, TIME],
                                 tool_choice=named, max_tokens=80, temperature=0, seed=5)
    assert finish == "tool_calls" and calls[0]["name"] == "get_time"
    assert isinstance(json.loads(calls[0]["arguments"])["zone"], str)
    # The SDK's strict tools: it parses the arguments into the pydantic model, or raises.
    for tool, text in ((GetWeather, "Is it warm in Rome, in celsius?"),
                       (BookTrip, "Book a trip from Oslo, Norway to Rome, Italy.")):
        spec = openai.pydantic_function_tool(tool)
        choice = {"type": "function", "function": {"name": spec["function"]["name"]}}
        reply = client.chat.completions.parse(model=GEMMA, messages=_ask(text), tools=[spec], tool_choice=choice,
                                              max_tokens=120, temperature=0, seed=5)
        assert reply.choices[0].finish_reason == "tool_calls"
        assert isinstance(reply.choices[0].message.tool_calls[0].function.parsed_arguments, tool)
        with client.chat.completions.stream(model=GEMMA, messages=_ask(text), tools=[spec], tool_choice=choice,
                                            max_tokens=120, temperature=0, seed=5) as stream:
            final = stream.get_final_completion()
        assert isinstance(final.choices[0].message.tool_calls[0].function.parsed_arguments, tool)


@pytest.mark.slow
@pytest.mark.parametrize("seed", [1, 2])
def test_auto_answers_in_words_or_calls_and_either_parses(client, seed):
    ask = {"messages": _ask("What is the weather in Oslo?"), "tools": [WEATHER, TIME], "max_tokens": 80,
           "temperature": 1.0, "seed": seed}
    for stream in (False, True):
        if stream:
            calls, finish, content = _streamed(client, **ask)
        else:
            choice = client.chat.completions.create(model=GEMMA, **ask).choices[0]
            finish, content = choice.finish_reason, choice.message.content or ""
            calls = {i: {"name": c.function.name, "arguments": c.function.arguments}
                     for i, c in enumerate(choice.message.tool_calls or [])}
        if finish == "tool_calls":
            assert list(calls) == [0] and not content and calls[0]["name"] in ("get_weather", "get_time")
            assert isinstance(json.loads(calls[0]["arguments"]), dict)
        else:
            # Words, as words: not a JSON object around them.
            assert finish in ("stop", "length") and not calls and not content.lstrip().startswith("{")


@pytest.mark.slow
def test_tool_choice_none_answers_in_words(client):
    reply = client.chat.completions.create(model=GEMMA, messages=_ask("Say hello."), tools=[WEATHER],
                                           tool_choice="none", max_tokens=12, temperature=0, seed=1)
    assert reply.choices[0].message.tool_calls is None and reply.choices[0].message.content


def _fn(name="f", parameters=None, **more) -> dict:
    return {"type": "function", "function": {"name": name, "parameters": parameters or {"type": "object"}, **more}}


BAD = [
    ({"tools": "get_weather"}, "list"),
    ({"tools": [{"type": "function"}]}, "function"),
    ({"tools": [{"type": "retrieval", "function": {"name": "f"}}]}, "function"),
    ({"tools": [_fn("get weather")]}, "name"),
    ({"tools": [_fn("x" * 65)]}, "name"),
    ({"tools": [_fn("f"), _fn("f")]}, "twice"),
    ({"tools": [_fn(parameters={"type": "string"})]}, "object"),
    ({"tools": [_fn(description=7)]}, "description"),
    ({"tools": [_fn(str(i)) for i in range(129)]}, "at most 128"),
    ({"tools": [_fn(parameters={"type": "object", "properties": {"x": {"type": "string", "minLength": 10**9}}})]},
     "too much"),
    ({"tools": [_fn(parameters={"type": "object", "properties": {"x": {"$ref": "https://example.invalid/s"}}})]},
     "refer only"),
    ({"tools": [_fn(parameters={"type": "object", "properties": {"x": {"$ref": "#/$defs/missing"}}})]}, "grammar"),
    ({"tools": [_fn()], "tool_choice": "sometimes"}, "tool_choice"),
    ({"tools": [_fn()], "tool_choice": {"type": "function", "function": {"name": "g"}}}, "not among"),
    ({"tool_choice": "required"}, "needs 'tools'"),
    ({"tools": [_fn()], "response_format": {"type": "json_object"}}, "response_format"),
    ({"functions": [{"name": "f", "parameters": {"type": "object"}}]}, "send 'tools'"),
]


@pytest.mark.slow
@pytest.mark.parametrize("stream", [False, True])
def test_bad_tools_are_a_400_in_words(client, stream, caplog):
    import openai

    caplog.set_level("INFO", "app.server.tools")
    for extra, words in BAD:
        with pytest.raises(openai.BadRequestError, match=words) as caught:
            client.chat.completions.create(model=GEMMA, messages=_ask("Hi"), max_tokens=4, stream=stream,
                                           extra_body=extra)
        assert "Traceback" not in caught.value.message
    assert sum("tools were refused" in r.getMessage() for r in caplog.records) >= len(BAD) - 1  # less the engine's


@pytest.mark.slow
def test_or_text_leaves_the_grammar_after_a_first_token_that_is_not_json(gemma):
    """auto's words are decoded freely after their first token: greedily, the same words as with no grammar
    at all (a grammar would have kept them inside its rule, and cost every token a pass over the vocabulary);
    without or_text the same schema gives the call."""
    from app.core.chat.engine import SamplingParams
    from app.core.chat.events import text_of
    from app.core.chat.templates import Message
    from app.server.tools import parse_tools

    schema = parse_tools({"tools": [WEATHER]}).schema()
    ask = [Message("user", "Name three colours.")]
    plain = SamplingParams(temperature=0, max_tokens=24, seed=1, repeat_penalty=1.0)
    list(gemma.stream(ask, plain))  # the prompt cached, as it is for the runs compared (a fresh one decodes apart)
    free = text_of(gemma.stream(ask, plain))
    assert free.strip() and not free.lstrip().startswith("{")
    words = text_of(gemma.stream(ask, SamplingParams(temperature=0, max_tokens=24, seed=1, repeat_penalty=1.0,
                                                     json_schema=schema, or_text=True)))
    assert words == free
    call = text_of(gemma.stream(ask, SamplingParams(temperature=0, max_tokens=40, seed=1, json_schema=schema)))
    assert json.loads(call)["name"] == "get_weather"


# --- the reader, without a model ---------------------------------------------------------------------------


def _read(text: str, step: int):
    from app.server.tool_calls import ToolReply

    reader = ToolReply()
    deltas = []
    for i in range(0, len(text), step):
        deltas += reader.feed(text[i:i + step])
    return reader, deltas + reader.finish()


@pytest.mark.parametrize("step", [1, 2, 7, 10_000])
def test_a_call_reads_the_same_in_any_pieces_and_its_arguments_parse_strictly(step):
    # The grammar lets control characters into strings; a strict JSON reader refuses them unescaped.
    text = '{ "name" : "get_weather", "arguments": {"city": "Os\nlo", "n": [1, {"a": "}\\""}]} }  '
    reader, deltas = _read(text, step)
    assert reader.complete() and reader.content is None
    [call] = reader.calls
    assert call["function"]["name"] == "get_weather"
    assert json.loads(call["function"]["arguments"]) == {"city": "Os\nlo", "n": [1, {"a": '}"'}]}
    first, *rest = deltas
    assert first["tool_calls"][0]["id"] == call["id"] and first["tool_calls"][0]["function"]["arguments"] == ""
    assert "".join(d["tool_calls"][0]["function"]["arguments"] for d in rest) == call["function"]["arguments"]
    assert all("id" not in d["tool_calls"][0] for d in rest)


@pytest.mark.parametrize("step", [1, 3, 10_000])
def test_words_pass_through_as_they_come(step):
    text = 'Hi "you" {not a call} \U0001F600 end'
    reader, deltas = _read(text, step)
    assert reader.content == text == "".join(d["content"] for d in deltas) and not reader.calls
    if step == 1:
        assert len(deltas) == len(text)  # not held back: each piece is sent on as it comes


def test_a_reply_cut_before_it_decided_is_its_text():
    reader, deltas = _read('{"name": "get_wea', 4)
    assert not reader.calls and reader.content == '{"name": "get_wea' and deltas == [{"content": reader.content}]

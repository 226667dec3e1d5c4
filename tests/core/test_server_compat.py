"""`serve` as other programs expect it, driven by the official openai client in strict mode: structured
output under a grammar, an agent's tool turns, refused logprobs, a prompt that does not fit, exact stop
strings, GET /v1/models/{id}, /v1/completions, and streams that end in words when the server stops."""

from __future__ import annotations

import http.client
import json
import threading

import pytest

GEMMA = "gemma-3-270m-q4_k_m"


@pytest.fixture(scope="module")
def store(starter_home, tmp_path_factory):
    from app.core.models.store import ModelStore
    from app.core.settings import Settings

    source = ModelStore(starter_home / "data" / "models", Settings())  # module scope: before HEARTH_HOME is set
    store = ModelStore(tmp_path_factory.mktemp("served-models"), Settings())
    entries = {}
    for entry in source.list("chat"):
        entry.path = str(source.path_of(entry))
        entries[entry.id] = entry
    store._write(entries)
    return store


@pytest.fixture(scope="module")
def served(store):
    from app.server.backends import LocalBackends
    from app.server.run import HearthServer

    backends = LocalBackends(store=store)
    server = HearthServer(backends, "127.0.0.1", 0).start()
    yield server
    server.stop()
    backends.close()


@pytest.fixture(scope="module")
def client(served):
    import openai

    return openai.OpenAI(base_url=served.url, api_key="unused", max_retries=0, timeout=600)


@pytest.fixture(scope="module")
def tokens(gemma_path):
    """The starter model's own tokenizer, in a process of its own, as the server's engine has it."""
    from app.core.chat.engine import LoadOptions
    from app.core.chat.remote import open_chat_engine

    engine = open_chat_engine(gemma_path, LoadOptions(n_ctx=512), GEMMA)
    yield lambda text: len(engine.tokenize(text)) - 1  # less the BOS it adds
    engine.close()


def _ask(text: str) -> list[dict]:
    return [{"role": "user", "content": text}]


@pytest.mark.slow
def test_parse_with_a_pydantic_model_gets_json_that_matches_it(client):
    from pydantic import BaseModel

    class Person(BaseModel):
        name: str
        age: int

    reply = client.chat.completions.parse(
        model=GEMMA, messages=_ask("Alice is 30 years old. Reply with her name and age."), response_format=Person,
        max_tokens=60, temperature=0, seed=3)
    person = reply.choices[0].message.parsed
    assert isinstance(person, Person) and person.name.strip()
    loose = client.chat.completions.create(model=GEMMA, messages=_ask("Describe a cat."), max_tokens=60,
                                           temperature=0, seed=3, response_format={"type": "json_object"})
    assert isinstance(json.loads(loose.choices[0].message.content), dict)


@pytest.mark.slow
def test_a_schema_no_grammar_can_follow_is_a_400_before_any_stream(client):
    import openai

    bad = {"type": "json_schema", "json_schema": {"name": "x", "schema": {"$ref": "https://example.invalid/s"}}}
    for stream in (False, True):
        with pytest.raises(openai.BadRequestError, match="grammar"):
            client.chat.completions.create(model=GEMMA, messages=_ask("Hi"), max_tokens=8, response_format=bad,
                                           stream=stream)


@pytest.mark.slow
def test_an_agents_second_turn_with_tool_calls_and_results_is_answered(client):
    def turn(result: str) -> list[dict]:
        return [
            {"role": "system", "content": "You answer with the help of tools."},
            {"role": "user", "content": "What is the weather in Oslo?"},
            {"role": "assistant", "content": None, "tool_calls": [
                {"id": "call_1", "type": "function",
                 "function": {"name": "get_weather", "arguments": json.dumps({"city": "Oslo"})}}]},
            {"role": "tool", "tool_call_id": "call_1", "content": result},
        ]

    short = client.chat.completions.create(model=GEMMA, messages=turn("Sunny, 21 C."), max_tokens=16,
                                           temperature=0, seed=1)
    assert short.choices[0].finish_reason in ("stop", "length")
    # The result reaches the prompt: a longer one costs its tokens there.
    long = client.chat.completions.create(model=GEMMA, messages=turn("Sunny, 21 C. " * 20), max_tokens=4,
                                          temperature=0, seed=1)
    assert long.usage.prompt_tokens >= short.usage.prompt_tokens + 20 * 5


@pytest.mark.slow
def test_logprobs_are_refused_in_words_not_ignored(client):
    import openai

    for ask in ({"logprobs": True}, {"logprobs": True, "top_logprobs": 3}):
        with pytest.raises(openai.BadRequestError) as caught:
            client.chat.completions.create(model=GEMMA, messages=_ask("Hi"), max_tokens=4, **ask)
        assert caught.value.code == "unsupported_parameter" and "logprobs" in caught.value.message
    fine = client.chat.completions.create(model=GEMMA, messages=_ask("Hi"), max_tokens=2, logprobs=False)
    assert fine.choices[0].message.content is not None


@pytest.mark.slow
def test_a_conversation_that_does_not_fit_is_a_400_not_turns_dropped(client):
    import openai

    long_turn = "The quick brown fox jumps over the lazy dog. " * 90  # ~900 tokens; the context is 4096
    history = []
    for _ in range(6):
        history += [{"role": "user", "content": long_turn}, {"role": "assistant", "content": "Noted."}]
    history.append({"role": "user", "content": "How many foxes were there?"})
    for stream in (False, True):
        with pytest.raises(openai.BadRequestError) as caught:
            client.chat.completions.create(model=GEMMA, messages=history, max_tokens=16, stream=stream)
        assert caught.value.code == "context_length_exceeded" and "4096" in caught.value.message


@pytest.mark.slow
def test_a_stop_string_ends_decoding_with_exact_completion_tokens(client, tokens):
    messages = _ask("Count from 1 to 30, separated by commas: 1, 2, 3,")
    free = client.chat.completions.create(model=GEMMA, messages=messages, max_tokens=60, temperature=0,
                                          seed=2).choices[0].message.content
    for stop in (free[len(free) // 3: len(free) // 3 + 3], free[2 * len(free) // 3: 2 * len(free) // 3 + 2]):
        whole = client.chat.completions.create(model=GEMMA, messages=messages, max_tokens=200, temperature=0,
                                               seed=2, stop=[stop])
        text = whole.choices[0].message.content
        assert text == free[: free.index(stop)] and whole.choices[0].finish_reason == "stop"
        assert whole.usage.completion_tokens == tokens(text), (stop, text)
    stream = client.chat.completions.create(model=GEMMA, messages=messages, max_tokens=200, temperature=0, seed=2,
                                            stop=[stop], stream=True, stream_options={"include_usage": True})
    pieces, usage = [], None
    for chunk in stream:
        pieces += [c.delta.content or "" for c in chunk.choices]
        usage = chunk.usage or usage
    assert usage.completion_tokens == tokens("".join(pieces))


@pytest.mark.slow
def test_one_model_by_id(client):
    import openai

    model = client.models.retrieve(GEMMA)
    assert model.id == GEMMA and model.object == "model" and model.owned_by == "hearth"
    with pytest.raises(openai.NotFoundError) as caught:
        client.models.retrieve("no-such-model")
    assert caught.value.code == "model_not_found"


@pytest.mark.slow
def test_completions_continue_a_prompt_streamed_and_not(client):
    prompt = "The three primary colours are red,"
    whole = client.completions.create(model=GEMMA, prompt=prompt, max_tokens=12, temperature=0, seed=4)
    choice = whole.choices[0]
    assert whole.object == "text_completion" and choice.text.strip() and choice.finish_reason in ("stop", "length")
    assert 0 < whole.usage.completion_tokens <= 12 and whole.usage.prompt_tokens >= 7
    pieces = [c.choices[0].text for c in client.completions.create(
        model=GEMMA, prompt=prompt, max_tokens=12, temperature=0, seed=4, stream=True) if c.choices]
    assert "".join(pieces) == choice.text
    # No chat template: the prompt is continued as it is, so its tokens are the prompt's own.
    chat = client.chat.completions.create(model=GEMMA, messages=_ask(prompt), max_tokens=1)
    assert whole.usage.prompt_tokens < chat.usage.prompt_tokens


@pytest.mark.slow
def test_a_server_that_stops_ends_its_open_streams_with_an_error_event(store):
    from app.server.backends import LocalBackends
    from app.server.run import HearthServer

    backends = LocalBackends(store=store)
    server = HearthServer(backends, "127.0.0.1", 0).start()
    try:
        conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=120)
        body = {"model": GEMMA, "stream": True, "max_tokens": 3000, "temperature": 0,
                "messages": _ask("Count from one to one thousand: 1, 2, 3, 4, 5,")}
        conn.request("POST", "/v1/chat/completions", json.dumps(body), {"Content-Type": "application/json"})
        resp = conn.getresponse()
        assert resp.status == 200
        _first_words_then(resp)
        stopper = threading.Thread(target=server.stop)
        stopper.start()
        rest = resp.read().decode()  # to the end of the response
        stopper.join(30)
    finally:
        server.stop()
        backends.close()
    error = _shutdown_error(rest)
    assert error["code"] == "server_shutdown" and "shutting down" in error["message"]


def _first_words_then(resp) -> None:
    """Reads a streamed reply until its first words have come."""
    events: list[str] = []
    while not any('"content": "' in e and '"content": ""' not in e for e in events):
        line = resp.readline().decode()
        assert line, "the stream ended before its first words"
        events.append(line)


def _shutdown_error(rest: str) -> dict:
    last = [line for line in rest.splitlines() if line.startswith("data: ")][-1]
    return json.loads(last[len("data: "):])["error"]


@pytest.mark.slow
def test_serve_interrupted_ends_its_open_streams_with_an_error_event(starter_home, tmp_path):
    """`python -m app serve` and Ctrl+C: uvicorn's own signal handling, not HearthServer.stop()."""
    import signal

    from app.core.models.store import ModelStore
    from app.core.settings import Settings
    from tests.core.test_server_remote import KEY, start_hearth

    source = ModelStore(starter_home / "data" / "models", Settings())
    entries = {}
    for entry in source.list("chat"):
        entry.path = str(source.path_of(entry))
        entries[entry.id] = entry
    ModelStore(tmp_path / "data" / "models", Settings())._write(entries)
    served = start_hearth(tmp_path)
    try:
        port = int(served.base_url.rsplit(":", 1)[1].split("/")[0])
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=120)
        body = {"model": GEMMA, "stream": True, "max_tokens": 900, "temperature": 0,
                "messages": _ask("Count from one to one thousand: 1, 2, 3, 4, 5,")}
        conn.request("POST", "/v1/chat/completions", json.dumps(body),
                     {"Content-Type": "application/json", "Authorization": f"Bearer {KEY}"})
        resp = conn.getresponse()
        assert resp.status == 200
        _first_words_then(resp)
        served.proc.send_signal(signal.SIGINT)
        rest = resp.read().decode()
        assert served.proc.wait(60) == 130  # the CLI's exit for Ctrl+C
    finally:
        served.stop()
    error = _shutdown_error(rest)
    assert error["code"] == "server_shutdown" and "shutting down" in error["message"]


def test_a_requests_constraints_are_never_saved_with_a_chats_settings():
    """A saved chat is hostile input: it cannot switch on a grammar, raw prompts or extra stops."""
    from app.core.chat.engine import SamplingParams

    params = SamplingParams(stop=("x",), json_schema='{"type": "object"}', whole_prompt=True, raw=True,
                            or_text=True)
    assert set(params.to_dict()) == {"temperature", "top_p", "top_k", "min_p", "repeat_penalty", "max_tokens",
                                     "seed"}
    loaded = SamplingParams.from_dict({"raw": 1, "whole_prompt": 1, "json_schema": "{}", "stop": ["x"], "or_text": 1,
                                       "max_tokens": 9})
    assert loaded == SamplingParams(max_tokens=9)


@pytest.mark.slow
def test_a_schema_whose_counts_would_make_a_huge_grammar_is_a_400(client):
    """llama.cpp's converter spells counts out (minItems 100000000 is a 1.8 GB grammar, more exhausts the
    model's process): a request's schema is refused in words before any grammar is built. The counts here
    are small enough that the old code merely built a 36 MB grammar and answered."""
    import openai

    wide = {"type": "array", "minItems": 2_000_000, "items": {"type": "integer"}}
    spread = {"type": "object", "properties": {f"p{i}": {"type": "string", "pattern": "^a{900}b{900}$"}
                                               for i in range(60)}}
    # "At most 20,000" is 20,000 nested optionals, which llama.cpp's recursive parser overflowed its
    # stack on: the model's process died (signal 11), for a count well under the sum's bound.
    deep = {"type": "array", "maxItems": 20_000, "items": {"type": "integer"}}
    long = {"type": "object", "properties": {"s": {"type": "string", "pattern": "^a{0,20000}$"}}}
    for schema in (wide, spread, deep, long):
        fmt = {"type": "json_schema", "json_schema": {"name": "x", "schema": schema}}
        with pytest.raises(openai.BadRequestError, match="counts"):
            client.chat.completions.create(model=GEMMA, messages=_ask("Hi"), max_tokens=4, response_format=fmt)
    fine = {"type": "object", "properties": {"name": {"type": "string", "maxLength": 200}}}
    reply = client.chat.completions.create(model=GEMMA, messages=_ask("Name a cat."), max_tokens=8,
                                           response_format={"type": "json_schema",
                                                            "json_schema": {"name": "x", "schema": fine}})
    assert reply.choices[0].message.content is not None


@pytest.mark.slow
def test_optional_fields_sent_as_null_mean_their_defaults(client):
    """OpenAI's spec has n and best_of nullable (null: 1), and clients that fill every field send them so
    (the official client sends null for an argument given as None): answered, not refused."""
    import openai

    nulls = {"n": None, "stop": None, "seed": None, "temperature": None, "logprobs": None}
    chat = client.chat.completions.create(model=GEMMA, messages=_ask("Hi"), max_tokens=4, **nulls)
    assert chat.choices[0].message.content is not None
    text = client.completions.create(model=GEMMA, prompt="Once upon a time", max_tokens=4, best_of=None, **nulls)
    assert text.choices[0].text
    with pytest.raises(openai.BadRequestError, match="n=1"):
        client.chat.completions.create(model=GEMMA, messages=_ask("Hi"), max_tokens=4, n=2)


@pytest.mark.slow
def test_completions_honour_response_format(client):
    """/v1/completions dropped response_format silently: a 200 with free text where JSON was asked."""
    import openai

    fmt = {"type": "json_schema", "json_schema": {"name": "colour", "schema": {
        "type": "object", "properties": {"colour": {"type": "string", "maxLength": 12}}, "required": ["colour"]}}}
    for stream in (False, True):
        got = client.completions.create(model=GEMMA, prompt="My favourite colour is", max_tokens=40, temperature=0,
                                        seed=4, stream=stream, extra_body={"response_format": fmt})
        text = got.choices[0].text if not stream else "".join(c.choices[0].text for c in got if c.choices)
        assert isinstance(json.loads(text)["colour"], str), text
    with pytest.raises(openai.BadRequestError, match="response_format"):
        client.completions.create(model=GEMMA, prompt="Hi", max_tokens=4,
                                  extra_body={"response_format": {"type": "yaml"}})

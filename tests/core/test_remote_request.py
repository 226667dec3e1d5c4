"""What the remote chat engine asks a server for: the request's stop strings and JSON schema travel with it
(they were left out, so a remote model ran past a stop and answered in free text where JSON was asked)."""

from __future__ import annotations

import json

from tests.helpers import HostileServer

SSE = (b"HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nConnection: close\r\n\r\n"
       b'data: {"choices": [{"index": 0, "delta": {"content": "{}"}, "finish_reason": "stop"}]}\n\n'
       b"data: [DONE]\n\n")


def _sent(params) -> dict:
    """The JSON body the engine posted to a loopback server that records it."""
    from app.core.chat.openai_remote import OpenAIChatEngine
    from app.core.chat.servers import ServerList
    from app.core.chat.templates import Message

    with HostileServer(lambda srv, conn, path: srv.send(conn, SSE)) as srv:
        engine = OpenAIChatEngine(ServerList().add("loop", srv.url), "m")
        list(engine.stream([Message("user", "hi")], params))
    assert srv.requests == ["/v1/chat/completions"]
    return json.loads(srv.bodies[0])


def test_stop_strings_and_a_json_schema_are_forwarded(hearth_home):
    from app.core.chat.engine import SamplingParams

    schema = {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]}
    body = _sent(SamplingParams(max_tokens=8, stop=("\n\n", "END"), json_schema=json.dumps(schema)))
    assert body["stop"] == ["\n\n", "END"]
    assert body["response_format"]["type"] == "json_schema"
    assert body["response_format"]["json_schema"]["schema"] == schema
    assert body["response_format"]["json_schema"]["name"]


def test_a_plain_request_sends_neither(hearth_home):
    from app.core.chat.engine import SamplingParams

    body = _sent(SamplingParams(max_tokens=8))
    assert "stop" not in body and "response_format" not in body

"""Ask Hearth (#26) with a model on a remote OpenAI-compatible server: a loopback server written here
answers with ``tool_calls`` (streamed as deltas, as OpenAI streams them), the loop runs Hearth's own
tools and sends the results back as ``role: tool`` messages. The ways a loop ends early (bad arguments,
a failing tool, a path outside the folders, the same call again, Stop during a step) end in words."""

from __future__ import annotations

import http.server
import json
import threading
from pathlib import Path

import pytest

from app.core.ask.events import Answered, AnswerToken, StepDone, StepStarted
from app.core.ask.loop import AskOptions, ask, run
from app.core.ask.tools import ToolContext, call_tool
from app.core.jobs import CancelToken


class Scripted:
    """An OpenAI-compatible server that answers each POST with the next scripted reply: a list of tool
    calls (name, arguments text) or the answer's text. It keeps every request body."""

    def __init__(self, replies: list):
        self.replies, self.requests = list(replies), []
        outer = self

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args):
                pass

            def do_POST(self):  # noqa: N802
                outer.requests.append(json.loads(self.rfile.read(int(self.headers.get("Content-Length", 0)))))
                reply = outer.replies.pop(0) if outer.replies else "out of script"
                if reply is None:  # the server falls over: the connection ends with no answer
                    self.close_connection = True
                    return
                self.send_response(200)
                self.send_header("Content-Type", "text/event-stream")
                self.send_header("Connection", "close")
                self.end_headers()
                for chunk in _chunks(reply):
                    self.wfile.write(f"data: {json.dumps(chunk)}\n\n".encode())
                    self.wfile.flush()
                self.wfile.write(b"data: [DONE]\n\n")
                self.wfile.flush()
                self.close_connection = True

        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}/v1"

    def close(self):
        self.httpd.shutdown()
        self.httpd.server_close()


def _chunks(reply) -> list[dict]:
    def chunk(delta, finish=None):
        return {"object": "chat.completion.chunk", "choices": [{"index": 0, "delta": delta, "finish_reason": finish}]}

    if isinstance(reply, dict):  # chunks as given
        return reply["chunks"]
    if isinstance(reply, str):
        words = reply.split(" ")
        return [chunk({"content": w + (" " if i < len(words) - 1 else "")}) for i, w in enumerate(words)] + [
            chunk({}, "stop")]
    out = []
    for i, (name, arguments) in enumerate(reply):  # OpenAI's shape: the name first, the arguments in pieces
        out.append(chunk({"tool_calls": [{"index": i, "id": f"call_{i}", "type": "function",
                                          "function": {"name": name, "arguments": ""}}]}))
        for at in range(0, len(arguments), 7):
            out.append(chunk({"tool_calls": [{"index": i, "function": {"arguments": arguments[at:at + 7]}}]}))
    return out + [chunk({}, "tool_calls")]


@pytest.fixture
def served():
    from app.core.chat.openai_remote import OpenAIChatEngine
    from app.core.chat.servers import ServerList

    made = []

    def make(replies):
        server = Scripted(replies)
        made.append(server)
        entry = ServerList().add(f"s{len(made)}", server.url, "")
        return server, OpenAIChatEngine(entry, "m")

    yield make
    for server in made:
        server.close()


@pytest.fixture
def folder(tmp_path) -> Path:
    """A folder the user added to Documents (a real index row), with a document in it."""
    from app.core.docs.index import DocsIndex

    folder = tmp_path / "added"
    folder.mkdir()
    (folder / "manual.txt").write_text("The kayak is red.", encoding="utf-8")
    index = DocsIndex()
    try:
        index.add_folder(folder)
    finally:
        index.close()
    return folder


def _broken_photo_index() -> None:
    from app.core.images.index import default_path

    default_path().parent.mkdir(parents=True, exist_ok=True)
    default_path().write_bytes(b"this is not a database" * 100)


def test_tool_calls_streamed_as_deltas_drive_hearths_tools_and_the_results_go_back(served, folder):
    from app.core.chat.history import ChatHistory

    history = ChatHistory()
    chat = history.create("Lake trip")
    history.add_message(chat.id, "user", "We hired a red kayak at the lake")
    history.close()
    server, engine = served([[("search_chats", json.dumps({"query": "kayak", "limit": 3}))],
                             "You spoke about the red kayak in Lake trip [1]."])
    ctx = ToolContext.for_user()
    assert folder.resolve() in [f.resolve() for f in ctx.folders]
    events = list(ask(engine, "What did we say about the kayak?", ctx))
    started, done, answered = events[0], events[1], events[-1]
    assert isinstance(started, StepStarted) and started.tool == "search_chats"
    assert started.arguments == {"query": "kayak", "limit": 3}
    assert isinstance(done, StepDone) and done.error is None and done.results[0]["title"] == "Lake trip"
    assert isinstance(answered, Answered) and answered.stop_reason == "answered"
    assert answered.answer == "".join(e.text for e in events if isinstance(e, AnswerToken))
    assert [c.result["title"] for c in answered.citations] == ["Lake trip"]
    first, second = server.requests
    assert {t["function"]["name"] for t in first["tools"]} >= {"search_photos", "search_documents", "transcribe"}
    assert first["tool_choice"] == "auto" and first["stream"] is True
    call = second["messages"][2]
    assert call["role"] == "assistant" and call["tool_calls"][0]["function"]["name"] == "search_chats"
    sent = second["messages"][3]
    assert sent["role"] == "tool" and sent["tool_call_id"] == call["tool_calls"][0]["id"]
    assert json.loads(sent["content"])["results"][0]["n"] == 1


def test_first_tool_names_the_function_the_server_must_call(served, folder):
    server, engine = served([[("search_documents", '{"query": "kayak colour"}')], "Red."])
    from app.core.chat.templates import Message

    earlier = (Message("user", "We went to the lake."), Message("assistant", "How was it?"))
    answered = run(engine, "What colour is the kayak?", ToolContext.for_user(),
                   AskOptions(first_tool="search_documents", history=earlier))
    assert server.requests[0]["tool_choice"] == {"type": "function", "function": {"name": "search_documents"}}
    assert [(m["role"], m["content"]) for m in server.requests[0]["messages"][1:4]] == [
        ("user", "We went to the lake."), ("assistant", "How was it?"), ("user", "What colour is the kayak?")]
    assert answered.steps[0].tool == "search_documents" and answered.answer == "Red."


def test_bad_arguments_end_the_step_in_words_and_the_model_is_told(served, folder):
    server, engine = served([[("search_photos", '{"query": 7}')], "I could not search."])
    answered = run(engine, "Photos of kayaks?", ToolContext.for_user())
    step = answered.steps[0]
    assert step.error and "bad arguments" in step.error and "'query' must be text" in step.error
    assert step.results == [] and answered.answer == "I could not search."
    assert "bad arguments" in json.loads(server.requests[1]["messages"][3]["content"])["error"]


def test_arguments_that_are_not_json_are_refused_in_words(served, folder):
    server, engine = served([[("search_photos", '{"query": "kay')], "Sorry."])
    answered = run(engine, "Photos of kayaks?", ToolContext.for_user())
    assert "bad arguments" in answered.steps[0].error and answered.stop_reason == "answered"


def test_a_failing_tool_ends_its_step_in_words_and_the_answer_still_comes(served, folder):
    _broken_photo_index()
    server, engine = served([[("search_photos", '{"query": "kayak"}')], "No photos could be searched."])
    answered = run(engine, "Photos of kayaks?", ToolContext.for_user())
    assert answered.steps[0].error.startswith("photos could not be searched: ") and "damaged" in answered.steps[0].error
    assert answered.answer == "No photos could be searched."


@pytest.mark.parametrize("path", ["/etc/passwd", "{folder}/../outside.txt", "{folder}/link.txt", "manual.txt"])
def test_a_path_outside_the_added_folders_is_refused_in_words(served, folder, path):
    (folder.parent / "outside.txt").write_text("secret", encoding="utf-8")
    (folder / "link.txt").symlink_to(folder.parent / "outside.txt")
    path = path.format(folder=folder)
    server, engine = served([[("transcribe", json.dumps({"path": path}))], "I cannot read that file."])
    answered = run(engine, "Transcribe it", ToolContext.for_user())
    error = answered.steps[0].error
    assert error and ("outside the folders you added" in error or "not a full path" in error), error
    assert "secret" not in json.dumps(server.requests[1])


def test_a_file_inside_the_folders_passes_the_folder_rule(folder):
    result = call_tool("look_at_photos", {"paths": [str(folder / "manual.txt")], "question": "what is it?"},
                       ToolContext.for_user())
    assert result.error and "vision model" in result.error  # past the folder rule, stopped by the next one


def test_the_same_call_again_ends_the_steps_and_the_answer_comes(served, folder):
    same = [("search_documents", '{"query": "kayak"}')]
    server, engine = served([same, same, "The kayak is red [1]."])
    answered = run(engine, "What colour is the kayak?", ToolContext.for_user(), AskOptions(max_steps=4))
    assert [s.tool for s in answered.steps] == ["search_documents"]  # run once, not again
    assert answered.stop_reason == "repeated call" and answered.answer == "The kayak is red [1]."
    assert len(server.requests) == 3 and server.requests[-1]["tool_choice"] == "none"


def test_a_server_that_keeps_calling_after_it_was_told_to_answer_ends_in_words(served, folder):
    same = [("search_documents", '{"query": "kayak"}')]
    server, engine = served([same, same, same, same])
    answered = run(engine, "What colour is the kayak?", ToolContext.for_user(), AskOptions(max_steps=4))
    assert answered.stop_reason == "error" and "kept asking for tools" in answered.error
    assert len(answered.steps) == 1 and len(server.requests) == 3


def test_the_step_limit_ends_the_steps_and_the_answer_comes(served, folder):
    server, engine = served([[("search_documents", f'{{"query": "kayak {i}"}}')] for i in range(2)] + ["Done."])
    answered = run(engine, "Kayak?", ToolContext.for_user(), AskOptions(max_steps=2))
    assert len(answered.steps) == 2 and answered.stop_reason == "step limit" and answered.answer == "Done."
    assert server.requests[-1]["tool_choice"] == "none"


def test_stop_during_a_step_keeps_the_steps_so_far_and_says_so(served, folder):
    server, engine = served([[("search_chats", '{"query": "kayak"}'), ("search_documents", '{"query": "kayak"}')],
                             "never sent"])
    cancel = CancelToken()
    events = []
    for event in ask(engine, "Kayak?", ToolContext.for_user(cancel=cancel)):
        events.append(event)
        if isinstance(event, StepStarted) and event.index == 1:
            cancel.cancel()  # Stop while the second tool runs
    answered = events[-1]
    assert isinstance(answered, Answered) and answered.stop_reason == "cancelled" and answered.error == "stopped"
    assert [s.tool for s in answered.steps] == ["search_chats", "search_documents"]
    assert answered.steps[1].error == "stopped" and len(server.requests) == 1


def test_a_server_that_breaks_off_ends_in_words_with_the_steps_kept(served, folder):
    server, engine = served([[("search_chats", '{"query": "kayak"}')], None])
    answered = run(engine, "Kayak?", ToolContext.for_user())
    assert answered.stop_reason == "error" and f"the server '{engine.server.name}'" in answered.error
    assert [s.tool for s in answered.steps] == ["search_chats"]


@pytest.mark.slow  # a subprocess of the app
def test_the_ask_cli_prints_each_step_then_the_answer_with_a_remote_model(served, folder):
    from tests.conftest import run_app

    server, engine = served([[("search_documents", '{"query": "kayak"}')], "The kayak is red."])
    result = run_app("ask", "--model", engine.model_id, "What colour is the kayak?")
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[0].startswith("• Searched documents for 'kayak': not searched (no documents are indexed yet")
    assert lines[1] == "The kayak is red." and "Traceback" not in result.stderr

    server, engine = served([[("search_documents", '{"query": "kayak"}')], None])
    result = run_app("ask", "--model", engine.model_id, "What colour is the kayak?", "--json")
    assert result.returncode == 1 and "error:" in result.stderr and "Traceback" not in result.stderr
    out = json.loads(result.stdout)  # the steps that ran are printed all the same
    assert [s["tool"] for s in out["steps"]] == ["search_documents"] and out["answer"] == ""


def test_stop_during_the_answer_keeps_what_came(served, folder):
    server, engine = served(["The kayak is red and the lake was calm."])
    cancel = CancelToken()
    events = []
    for event in ask(engine, "Kayak?", ToolContext.for_user(cancel=cancel)):
        events.append(event)
        if isinstance(event, AnswerToken):
            cancel.cancel()
    answered = events[-1]
    assert isinstance(answered, Answered) and answered.stop_reason == "cancelled"
    assert answered.answer == "".join(e.text for e in events if isinstance(e, AnswerToken))
    assert answered.answer.startswith("The ") and answered.answer != "The kayak is red and the lake was calm."


def test_a_file_name_that_is_not_utf8_is_stored_and_printed_with_its_bytes_kept(served, folder):
    """A non-UTF-8 name reaches Python as lone surrogates; SQLite refused the step ("surrogates not
    allowed") and the reply broke off. Now the step is stored with a readable path and the exact bytes."""
    import base64
    import os

    from app.core.ask.chat_reply import run_ask_reply
    from app.core.chat.history import ChatHistory

    raw = os.fsencode(folder) + b"/kayak-\xff.jpg"
    with open(raw, "wb") as f:
        f.write(b"not looked at: the vision function below answers")
    name = os.fsdecode(raw)
    server, engine = served([[("look_at_photos", json.dumps({"paths": [name], "question": "a kayak?"})),
                              ("transcribe", json.dumps({"path": name + "\udcfe.wav"}))], "A red kayak [1]."])
    ctx = ToolContext.for_user(vision=lambda path, question, cancel: f"a red kayak in {path.name}")
    history = ChatHistory()
    chat = history.create("Kayak")
    history.add_message(chat.id, "user", "Is there a kayak?")
    reply = run_ask_reply(ask(engine, "Is there a kayak?", ctx), history, chat.id)
    assert reply.stop_reason == "answered" and reply.text == "A red kayak [1]."
    stored = history.messages(chat.id)[-1]
    looked, transcribed = stored.steps
    assert not stored.damaged and looked.error is None and "\ufffd" in looked.results[0]["path"]
    assert base64.b64decode(looked.results[0]["path_base64"]) == raw
    assert "there is no file" in transcribed.error and "\ufffd" in transcribed.error
    assert "\ufffd" in stored.citations[0]["path"]
    history.export_markdown(chat.id).encode("utf-8")  # the exports are text that can be written
    json.loads(history.export_json(chat.id).encode("utf-8"))
    history.close()


def test_arguments_nested_too_deeply_for_the_json_reader_are_refused_in_words(served, folder):
    server, engine = served([[("search_photos", '{"query": ' + "[" * 50_000)], "Sorry."])
    answered = run(engine, "Photos of kayaks?", ToolContext.for_user())  # was a RecursionError out of the loop
    assert "bad arguments" in answered.steps[0].error and answered.answer == "Sorry."


def test_the_step_limit_counts_each_call_not_each_reply(served, folder):
    """A reply may ask for several calls; each is a step. Three calls in one reply under a limit of two
    ran all three (eight a reply, four replies: 32 tool runs under a limit of 4)."""
    calls = [("search_documents", f'{{"query": "kayak {i}"}}') for i in range(3)]
    server, engine = served([calls, "Done."])
    answered = run(engine, "Kayak?", ToolContext.for_user(), AskOptions(max_steps=2))
    assert len(answered.steps) == 2 and answered.stop_reason == "step limit" and answered.answer == "Done."
    last = server.requests[-1]
    assert last["tool_choice"] == "none" and len(server.requests) == 2
    told = [m for m in last["messages"] if m["role"] == "tool"]  # every call id is answered, as OpenAI requires
    assert len(told) == 3 and "step limit" in json.loads(told[2]["content"])["error"]


def test_a_server_streaming_tool_call_text_without_end_is_cut_off_in_words(served, folder):
    """Tool-call deltas were kept to 64 KiB a call and eight calls, but the text past those bounds (or
    for a ninth call) was read on without limit: a server that never ends a call kept the loop reading
    for ever. Now what a reply sends in calls is counted, kept or not, and the reply ends in words."""
    from app.core.ask import openai_tools

    def chunk(index, **fn):
        return {"choices": [{"index": 0, "delta": {"tool_calls": [{"index": index, "function": fn}]},
                             "finish_reason": None}]}

    piece = "x" * 65_000
    chunks = [chunk(0, name="search_documents", arguments='{"query": "')]
    chunks += [chunk(i % 12, arguments=piece) for i in range(openai_tools.MAX_CALL_CHARS // len(piece) + 2)]
    server, engine = served([{"chunks": chunks}, "never asked"])
    answered = run(engine, "Kayak?", ToolContext.for_user())
    assert answered.stop_reason == "error" and "tool calls" in answered.error and "too long" in answered.error
    assert answered.steps == [] and len(server.requests) == 1


def test_an_empty_answer_is_said_not_shown_as_a_blank_reply(served, folder):
    """A model that answers nothing after its steps ended "answered" with no error: a blank message in
    the pane, nothing printed and exit 0 from ask. Now it ends in words, the steps kept."""
    server, engine = served([[("search_documents", '{"query": "kayak"}')], "  "])
    answered = run(engine, "Kayak?", ToolContext.for_user())
    assert answered.stop_reason == "error" and answered.error == "the model wrote no answer"
    assert [s.tool for s in answered.steps] == ["search_documents"]


def test_a_server_that_ignores_max_tokens_is_held_to_it(served, folder):
    """The plain remote chat holds a server to max_tokens (#22); the ask loop kept only a 4-million-character
    bound, so the pane stored whatever a server sent. Now the answer is cut at the limit, in words."""
    from app.core.chat.engine import SamplingParams

    server, engine = served([" ".join(["word"] * 200)])
    answered = run(engine, "Kayak?", ToolContext.for_user(), AskOptions(params=SamplingParams(max_tokens=8)))
    assert answered.stop_reason == "error" and "8-token limit" in answered.error
    assert answered.answer == "word " * 8


def test_a_server_that_repeats_the_name_in_each_delta_calls_that_tool(served, folder):
    """OpenAI names a call in its first delta only; a server that repeats the name in every delta had
    it joined ("search_documentssearch_documents…"), a tool that does not exist."""
    def chunk(arguments):
        return {"choices": [{"index": 0, "finish_reason": None, "delta": {"tool_calls": [
            {"index": 0, "id": "call_0", "type": "function",
             "function": {"name": "search_documents", "arguments": arguments}}]}}]}

    chunks = [chunk('{"query": '), chunk('"kayak"}'), {"choices": [{"index": 0, "delta": {},
                                                                 "finish_reason": "tool_calls"}]}]
    server, engine = served([{"chunks": chunks}, "Red."])
    answered = run(engine, "Kayak?", ToolContext.for_user())
    assert answered.steps[0].tool == "search_documents" and answered.steps[0].arguments == {"query": "kayak"}
    assert "no tool" not in (answered.steps[0].error or "")

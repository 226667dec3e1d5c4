"""Ask Hearth through a model's own tool template (#26): a template with tool-call tokens (Qwen2.5/Hermes,
Llama 3.x) shows the tools, the calls and their results in its own form, the step is decoded in its own
call form, and the loop runs on it. The model: the starter Gemma's weights and tokenizer with a Qwen2.5
template spliced in (the real templates' text is in tests/fixtures/templates)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from app.core.ask import native
from app.core.ask.events import Step
from app.core.ask.tools import TOOLS
from app.core.ask.validate import check
from app.core.chat.templates import Message, ToolCall, choose_format
from app.core.chat.tool_format import STYLES
from tests.conftest import ROOT, run_app
from tests.core import test_ask_loop

TEMPLATES = ROOT / "tests" / "fixtures" / "templates"
QWEN = (TEMPLATES / "qwen2.5-instruct.jinja").read_text()
LLAMA = (TEMPLATES / "llama-3.2-instruct.jinja").read_text()
photos = test_ask_loop.photos  # the indexed photo folder, as the loop's tests use it
FOUND = {"kind": "photo", "title": "kayak.jpg", "path": "/photos/kayak.jpg"}


def _one_step() -> list[Step]:
    return [Step("search_photos", {"query": "red kayak", "limit": 3}, [FOUND], None, "Searched photos: 1 found")]


def _tools_json(*names: str) -> str:
    return json.dumps([TOOLS[n].openai() for n in names])


def test_a_qwen_template_shows_the_tools_the_calls_and_the_results_in_its_own_form():
    fmt = choose_format(QWEN, "qwen2")
    assert fmt.tool_style == "hermes"
    text = fmt.render(native.conversation("Where is the kayak?", _one_step(), []), None,
                      _tools_json("search_photos", "search_documents"))
    tools = text.split("<tools>\n", 1)[1].split("\n</tools>", 1)[0].splitlines()
    assert [json.loads(t)["function"]["name"] for t in tools] == ["search_photos", "search_documents"]
    assert json.loads(tools[0]) == TOOLS["search_photos"].openai()
    call = text.split("<|im_start|>assistant\n<tool_call>\n", 1)[1].split("\n</tool_call><|im_end|>", 1)[0]
    assert json.loads(call) == {"name": "search_photos", "arguments": {"query": "red kayak", "limit": 3}}
    result = text.split("<|im_start|>user\n<tool_response>\n", 1)[1].split("\n</tool_response><|im_end|>", 1)[0]
    assert json.loads(result)["results"][0] == {"n": 1, **FOUND}
    assert text.endswith("<|im_start|>assistant\n")


def test_a_llama3_template_shows_the_tools_and_reads_calls_as_name_and_parameters():
    fmt = choose_format(LLAMA, "llama", "<|begin_of_text|>")
    assert fmt.tool_style == "llama3"
    text = fmt.render(native.conversation("Where is the kayak?", _one_step(), []), None, _tools_json("search_photos"))
    assert '"name": "search_photos"' in text.split("<|eot_id|>")[1]  # the tools, in the first user turn
    call = text.split("<|start_header_id|>assistant<|end_header_id|>\n\n", 1)[1].split("<|eot_id|>", 1)[0]
    assert json.loads(call) == {"name": "search_photos", "parameters": {"query": "red kayak", "limit": 3}}
    assert "<|start_header_id|>ipython<|end_header_id|>" in text
    assert STYLES["llama3"].parse(call) == ("search_photos", {"query": "red kayak", "limit": 3})


def test_templates_without_tools_keep_words():
    ignores = QWEN.replace("{%- if tools %}", "{%- if false %}")  # mentions <tool_call>, never shows the tools
    assert choose_format(ignores, "qwen2").tool_style == ""
    plain = "{% for m in messages %}<|im_start|>{{ m.role }}\n{{ m.content }}<|im_end|>\n{% endfor %}"
    assert choose_format(plain, "qwen2").tool_style == ""
    assert choose_format(None, "qwen2").tool_style == ""
    # and a tool list given to a template without tools changes nothing
    fmt = choose_format(plain, "qwen2")
    hi = [Message("user", "hi")]
    assert fmt.render(hi, None, _tools_json("search_photos")) == fmt.render(hi)


def test_a_hermes_call_is_read_back_with_or_without_its_tokens():
    style = STYLES["hermes"]
    call = '{"name": "search_photos", "arguments": {"query": "kayak", "limit": 2}}'
    for text in (f"<tool_call>\n{call}\n</tool_call>", call, f"  <tool_call>{call}</tool_call>\n"):
        assert style.parse(text) == ("search_photos", {"query": "kayak", "limit": 2})
    assert "not complete JSON" in style.parse("<tool_call>\n{\"name\": \"search_ph")
    assert style.is_words("The kayak is red") and not style.is_words("<tool") and style.is_words("  ") is None


def test_a_tool_turn_reaches_the_template_as_a_tool_turn():
    fmt = choose_format(QWEN, "qwen2")
    call = Message("assistant", "", tool_calls=(ToolCall("transcribe", {"path": "/a.wav"}),))
    text = fmt.render([Message("user", "q"), call, Message("tool", "RESULT")])
    assert '<tool_call>\n{"name": "transcribe", "arguments": {"path": "/a.wav"}}\n</tool_call>' in text
    assert "<tool_response>\nRESULT\n</tool_response>" in text


# --- with a model ---------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def qwen_gguf(gemma_path, tmp_path_factory) -> Path:
    from tests.helpers import gguf_with_template

    return gguf_with_template(gemma_path, tmp_path_factory.mktemp("qwen-tools") / "qwen-tools.gguf", QWEN)


@pytest.fixture(scope="module")
def qwen_engine(qwen_gguf):
    """The model in a process of its own, as the app runs it (Message and the tools cross the pipe)."""
    from app.core.chat.engine import LoadOptions
    from app.core.chat.remote import RemoteChatEngine

    engine = RemoteChatEngine(qwen_gguf, LoadOptions(n_ctx=4096), "qwen-tools")  # as the app loads it
    yield engine
    engine.close()


@pytest.mark.slow
def test_the_step_is_decoded_in_the_templates_own_call_form(qwen_engine):
    from app.core.ask.steps import AskOptions
    from app.core.chat.engine import SamplingParams
    from app.core.chat.events import ChatStats, TextDelta

    assert qwen_engine.format.tool_style == "hermes"
    style = STYLES["hermes"]
    tools = [TOOLS["search_photos"], TOOLS["search_documents"]]
    params = native.params_for_step(style, tools, False, AskOptions(params=SamplingParams(seed=2)).params, 320)
    messages = native.conversation("Which photos show the red kayak?", [], [])
    text = "".join(e.text for e in qwen_engine.stream(messages, params) if isinstance(e, TextDelta))
    assert text.startswith("<tool_call>\n{") and text.rstrip().endswith("}\n</tool_call>"), text
    tool, arguments = style.parse(text)
    assert tool in {t.name for t in tools} and check(arguments, TOOLS[tool].parameters) is None, text
    # The answer shows the same tools after the call and its result: what came before is not read again.
    step = Step(tool, arguments, [FOUND], None, "found 1")
    answer = native.params_for_answer(style, tools, SamplingParams(seed=2, max_tokens=4))
    stats = [e for e in qwen_engine.stream(native.conversation("Which photos show the red kayak?", [step], []),
                                           answer) if isinstance(e, ChatStats)][0]
    assert stats.reused_tokens > stats.prompt_tokens // 2, stats


@pytest.mark.slow
def test_the_loop_runs_search_photos_through_the_template(qwen_engine, photos):
    from app.core.ask.events import Answered, StepDone
    from app.core.ask.loop import AskOptions, ask
    from app.core.ask.tools import ToolContext
    from app.core.chat.engine import SamplingParams

    events = list(ask(qwen_engine, "Which of my photos show a red circle?", ToolContext.for_user(),
                      AskOptions(first_tool="search_photos", max_steps=2,
                                 params=SamplingParams(seed=1, max_tokens=24))))
    done = [e for e in events if isinstance(e, StepDone)]
    answered = events[-1]
    assert isinstance(answered, Answered) and answered.error is None, answered
    assert done[0].tool == "search_photos" and done[0].error is None, done
    assert check(done[0].arguments, TOOLS["search_photos"].parameters) is None
    files = {str(p.resolve()) for p in photos.rglob("*") if p.is_file()}
    assert done[0].results and {r["path"] for r in done[0].results} <= files
    for step in answered.steps[1:]:  # a second step, if the model chose one, is a valid call too
        assert step.tool in TOOLS and check(step.arguments, TOOLS[step.tool].parameters) is None


@pytest.mark.slow
def test_the_ask_cli_runs_with_a_tool_template_model(qwen_gguf, photos):
    from app.core.models.store import ModelStore

    ModelStore().import_path(qwen_gguf, "chat", "qwen-tools", mode="link")
    result = run_app("ask", "Which of my photos show a red circle?", "--model", "qwen-tools", "--first-tool",
                     "search_photos", "--json", "--max-steps", "1", "--max-tokens", "16", "--seed", "1", timeout=600)
    assert result.returncode == 0, result.stderr
    step = json.loads(result.stdout)["steps"][0]
    assert step["tool"] == "search_photos" and step["error"] is None
    assert check(step["arguments"], TOOLS["search_photos"].parameters) is None
    assert step["results"] and {r["path"] for r in step["results"]} <= {str(p.resolve()) for p in photos.rglob("*")}


def test_a_requests_tools_and_call_tokens_are_never_saved_with_a_chats_settings():
    from app.core.chat.engine import SamplingParams

    params = SamplingParams(tools=_tools_json("search_photos"), call_wrap=("<tool_call>\n", "\n</tool_call>"))
    assert "tools" not in params.to_dict() and "call_wrap" not in params.to_dict()
    assert SamplingParams.from_dict({"tools": "[]", "call_wrap": ["<", ">"]}) == SamplingParams()

import subprocess
import sys

import pytest

from app.core.chat.engine import SamplingParams
from app.core.chat.events import ChatStats
from app.core.chat.loading import load_chat_model
from app.core.chat.templates import JinjaTemplate, Message, TemplateError, choose_format
from app.core.models.gguf_header import read_gguf
from tests.conftest import ROOT
from tests.helpers import gguf_with_template, make_gguf


def hostile_templates(marker):
    cmd = f"touch {marker}"
    return {
        "mro": "{{ ''.__class__.__mro__[1].__subclasses__() }}",
        "lipsum": "{{ lipsum.__globals__['os'].system('" + cmd + "') }}",
        "cycler": "{{ cycler.__init__.__globals__.os.popen('" + cmd + "').read() }}",
        "attr": "{{ (''|attr('__class__')|attr('__base__')|attr('__subclasses__'))() }}",
        "joiner": "{% set x = joiner.__init__.__globals__ %}{{ x.os.system('" + cmd + "') }}",
        "format": "{{ '{0.__class__.__init__.__globals__}'.format(namespace) }}",
    }


@pytest.mark.parametrize("name", list(hostile_templates("x")))
def test_hostile_gguf_templates_run_nothing_and_say_so(tmp_path, name):
    marker = tmp_path / "pwned"
    template = hostile_templates(marker)[name]
    path = make_gguf(tmp_path / "hostile.gguf", arch="llama", chat_template=template)
    info = read_gguf(path)
    assert info.chat_template == template
    fmt = choose_format(info.chat_template, info.architecture)
    with pytest.raises(TemplateError, match="unsafe|failed"):
        fmt.render([Message("user", "hi")])
    assert not marker.exists()


def test_a_template_that_raises_gives_a_clear_error():
    t = JinjaTemplate("{{ raise_exception('Only user and assistant roles are supported!') }}")
    with pytest.raises(TemplateError, match="refused the conversation: Only user"):
        t.render([Message("user", "hi")])
    with pytest.raises(TemplateError, match="does not parse"):
        JinjaTemplate("{% for %}")


def test_a_good_template_renders_and_adds_its_stop_string():
    src = (
        "{% for m in messages %}<|im_start|>{{ m.role }}\n{{ m.content }}<|im_end|>\n{% endfor %}"
        "{% if add_generation_prompt %}<|im_start|>assistant\n{% endif %}"
    )
    fmt = choose_format(src, "qwen2")
    assert fmt.name == "template" and "<|im_end|>" in fmt.stop
    assert fmt.render([Message("user", "hi")]) == "<|im_start|>user\nhi<|im_end|>\n<|im_start|>assistant\n"


@pytest.mark.slow
def test_hostile_template_in_a_real_model_fails_the_reply_not_the_app(tmp_path, gemma_path):
    marker = tmp_path / "pwned"
    path = gguf_with_template(gemma_path, tmp_path / "hostile-gemma.gguf", hostile_templates(marker)["cycler"])
    engine = load_chat_model(path)
    try:
        with pytest.raises(TemplateError):
            list(engine.stream([Message("user", "hi")], SamplingParams(max_tokens=4)))
        assert not marker.exists()
        # The same model with a built-in format override still answers.
        engine.format = choose_format(None, "gemma3", override="gemma")
        out = list(engine.stream([Message("user", "hi")], SamplingParams(max_tokens=4, seed=1)))
        assert isinstance(out[-1], ChatStats) and out[-1].completion_tokens > 0
    finally:
        engine.close()


@pytest.mark.slow
def test_cli_chat_reports_a_hostile_template_in_one_line(tmp_path, gemma_path):
    marker = tmp_path / "pwned"
    path = gguf_with_template(gemma_path, tmp_path / "hostile-gemma.gguf", hostile_templates(marker)["lipsum"])
    result = subprocess.run(
        [sys.executable, "-m", "app", "chat", "--model", str(path), "--max-tokens", "4", "hi"],
        cwd=ROOT, capture_output=True, text=True, timeout=120,
    )
    assert result.returncode == 1
    assert "error:" in result.stderr and "unsafe" in result.stderr
    assert not marker.exists()


NESTED_LOOPS = "{% for a in range(100000) %}{% for b in range(100000) %}{{ a }}{% endfor %}{% endfor %}"
RUNAWAY = {
    "nested loops": NESTED_LOOPS,
    "silent nested loops": "{% for a in range(100000) %}{% for b in range(100000) %}{% endfor %}{% endfor %}",
    "exponential macro": "{% macro f(n) %}{% if n %}{{ f(n-1) }}{{ f(n-1) }}{% endif %}{% endmacro %}{{ f(60) }}",
    "endless recursion": "{% macro f() %}{{ f() }}{% endmacro %}{{ f() }}",
    "recursive loop": "{% for m in messages recursive %}{{ loop(messages) }}{% endfor %}",
    "huge string": "{{ 'x' * 10**10 }}",
    "huge power": "{{ (10**1000)**1000000 }}",
}


@pytest.mark.slow
@pytest.mark.parametrize("name", list(RUNAWAY))
def test_a_template_that_runs_for_ever_is_stopped_with_a_clear_error(name):
    template = JinjaTemplate(RUNAWAY[name])
    with pytest.raises(TemplateError, match="too long|too deeply|too large"):
        template.render([Message("user", "hi")])
    # the same template object renders again from a fresh budget (and is stopped again)
    with pytest.raises(TemplateError, match="too long|too deeply|too large"):
        template.render([Message("user", "hi")])


def test_the_budget_leaves_a_long_real_conversation_alone():
    src = (
        "{% for m in messages %}{% if m.role == 'user' %}<start_of_turn>user\n{{ m.content | trim }}"
        "{% else %}<start_of_turn>model\n{{ m.content | trim }}{% endif %}<end_of_turn>\n{% endfor %}"
        "{% if add_generation_prompt %}<start_of_turn>model\n{% endif %}"
    )
    messages = [Message("user" if i % 2 == 0 else "assistant", f"turn {i}") for i in range(2001)]
    text = JinjaTemplate(src).render(messages)
    assert text.count("<start_of_turn>") == 2002 and "turn 2000" in text


def test_stop_interrupts_a_template_while_it_renders(monkeypatch):
    import threading

    from app.core.chat import templates
    from app.core.jobs import Cancelled, CancelToken

    monkeypatch.setattr(templates, "MAX_STEPS", 10**15)  # no budget: only Stop ends this one
    monkeypatch.setattr(templates, "MAX_SECONDS", 10**9)
    cancel = CancelToken()
    template = JinjaTemplate("{% for a in range(100000) %}{% for b in range(100000) %}{% if a == 0 and b == 0 %}"
                             "{{ started() }}{% endif %}{% endfor %}{% endfor %}")
    started = threading.Event()
    template.template.globals["started"] = lambda: started.set() or ""
    outcome = {}

    def render():
        try:
            template.render([Message("user", "hi")], cancel)
        except BaseException as exc:  # noqa: BLE001 - recorded for the assertion
            outcome["exc"] = exc

    t = threading.Thread(target=render)
    t.start()
    assert started.wait(30)
    cancel.cancel()
    t.join(30)
    assert isinstance(outcome.get("exc"), Cancelled)


@pytest.mark.slow
def test_a_looping_template_in_a_real_model_fails_the_reply_and_the_model_still_answers(tmp_path, gemma_path):
    path = gguf_with_template(gemma_path, tmp_path / "looping-gemma.gguf", NESTED_LOOPS)
    engine = load_chat_model(path)
    try:
        with pytest.raises(TemplateError, match="ran too long"):
            list(engine.stream([Message("user", "hi")], SamplingParams(max_tokens=4)))
        engine.format = choose_format(None, "gemma3", override="gemma")
        out = list(engine.stream([Message("user", "hi")], SamplingParams(max_tokens=4, seed=1)))
        assert isinstance(out[-1], ChatStats) and out[-1].completion_tokens > 0
    finally:
        engine.close()


# --- #22.9: filters, `~` and the clock are inside the budget ---------------------------------
AMPLIFIERS = {
    "replace loop": "{% set ns = namespace(s='ab' * 1000) %}{% for i in range(200) %}"
                    "{% set ns.s = ns.s|replace('a', 'aa') %}{% endfor %}{{ ns.s|length }}",
    "doubling through a namespace": "{% set ns = namespace(s='x') %}{% for i in range(100) %}"
                                    "{% set ns.s = ns.s ~ ns.s %}{% endfor %}{{ ns.s|length }}",
    "join bomb": "{% set big = 'y' * 3000000 %}{{ [big, big, big, big, big]|join(big) }}",
    "str.join bomb": "{% set big = 'y' * 3000000 %}{{ big.join([big, big, big]) }}",
    "wide format": "{{ '%09999999999d' % 1 }}",
    "wide pad": "{{ 'x'.center(10**9) }}",
    "one big output many times": "{% set big = 'z' * 3000000 %}{% for i in range(100) %}{{ big }}{% endfor %}",
    "doubling by +": "{% set a = 'x' * 3000000 %}{% set b = a + a %}{% set c = b + b %}{{ c|length }}",
    "a list doubled by +": "{% set a = ['x'] * 3000000 %}{% set b = a + a %}{{ b|length }}",
    "a width passed to %": "{{ '%*s' % (2000000000, '') }}",
    "a nested width passed to format": "{{ '{:{}}'.format('', 2000000000) }}",
    "a width passed to the format filter": "{{ '%*s'|format(2000000000, '') }}",
}


@pytest.mark.parametrize("name", list(AMPLIFIERS))
def test_a_template_that_amplifies_text_is_stopped_in_words(name):
    with pytest.raises(TemplateError, match="too large") as err:
        JinjaTemplate(AMPLIFIERS[name]).render([Message("user", "hi")])
    assert str(err.value).strip().endswith("too large"), "a sentence, never a blank error"


def test_filter_calls_cost_steps(monkeypatch):
    from app.core.chat import templates

    monkeypatch.setattr(templates, "MAX_STEPS", 1000)
    # 10 loop iterations, 1,000 filter calls: the old budget counted 10 steps
    source = "{% for i in range(10) %}" + "{{ 'a'|upper|lower }}" * 50 + "{% endfor %}"
    with pytest.raises(TemplateError, match="ran too long"):
        JinjaTemplate(source).render([Message("user", "hi")])


def test_the_clock_is_read_every_few_steps():
    from app.core.chat import templates

    budget = templates._Budget(None)
    budget.deadline = 0.0  # already past
    with pytest.raises(TemplateError, match="ran too long"):
        for _ in range(templates.CLOCK_EVERY):
            budget.step()  # the old budget read the clock once per 256 steps
    late = templates._Budget(None)
    late.deadline = 0.0
    with pytest.raises(TemplateError, match="ran too long"):
        late.step(templates.CALL_STEPS)  # a call or a filter reads it at once


def test_real_templates_render_unchanged_within_the_new_bounds():
    src = ("{% for m in messages %}{{ '<|im_start|>' ~ m.role ~ '\\n' ~ m.content|trim ~ '<|im_end|>\\n' }}"
           "{% endfor %}{% if add_generation_prompt %}{{ '<|im_start|>assistant\\n' }}{% endif %}")
    messages = [Message("user" if i % 2 == 0 else "assistant", f"turn {i} " + "word " * 50) for i in range(1001)]
    text = JinjaTemplate(src).render(messages)
    assert text.count("<|im_start|>") == 1002 and text.endswith("<|im_start|>assistant\n")

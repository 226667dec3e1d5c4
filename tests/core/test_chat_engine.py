import os

import pytest

from app.core.chat.engine import LoadOptions, SamplingParams
from app.core.chat.events import ChatStats, TextDelta
from app.core.chat.loading import load_chat_model
from app.core.chat.templates import Message
from app.core.jobs import CancelToken, InputError, ModelError
from tests.helpers import make_gguf

GREEDY = SamplingParams(temperature=0.0, max_tokens=24, seed=7)


def _run(engine, messages, params=GREEDY, cancel=None):
    pieces, stats = [], None
    for item in engine.stream(messages, params, cancel):
        assert stats is None, "ChatStats ends the stream"
        if isinstance(item, ChatStats):
            stats = item
        else:
            assert isinstance(item, TextDelta), item
            pieces.append(item.text)
    return pieces, stats


@pytest.mark.slow
def test_template_fallback_gives_a_non_empty_answer(gemma):
    # The starter GGUF has no chat template: the gemma3 architecture picks Gemma turns.
    assert gemma.info.chat_template is None
    assert gemma.format.name == "gemma"
    assert any("no chat template" in n for n in gemma.notices)
    prompt = gemma.render([Message("system", "Be brief."), Message("user", "Name a colour.")])
    assert prompt.startswith("<start_of_turn>user\nBe brief.\n\nName a colour.<end_of_turn>")
    assert prompt.endswith("<start_of_turn>model\n")
    pieces, stats = _run(gemma, [Message("user", "Name a colour.")])
    assert "".join(pieces).strip()
    assert stats.completion_tokens > 0 and stats.tokens_per_second > 0


@pytest.mark.slow
def test_the_speed_counts_every_token_drawn_after_the_first_the_end_token_too(gemma):
    """A reply that ends on its end token drew it after its last word: the time from the first token to
    the end holds as many draws as the reply has tokens. Counting one fewer put a 7-token tool step's
    speed 14% below free decoding's for no slower decoding at all (bench.py tools)."""
    schema = '{"type": "object", "properties": {"tool": {"enum": ["answer"]}}, "required": ["tool"]}'
    _, stats = _run(gemma, [Message("user", "Pick a tool.")], SamplingParams(temperature=0.0, max_tokens=40,
                                                                             json_schema=schema))
    assert stats.stop_reason == "eos" and stats.completion_tokens >= 3
    decode_s = stats.total_s - stats.time_to_first_token_s
    assert stats.tokens_per_second * decode_s == pytest.approx(stats.completion_tokens, abs=1e-6)
    _, free = _run(gemma, [Message("user", "Tell me about the sea.")], SamplingParams(temperature=0.0, max_tokens=9))
    assert free.stop_reason == "length" and free.completion_tokens == 9
    assert free.tokens_per_second * (free.total_s - free.time_to_first_token_s) == pytest.approx(8, abs=1e-6)


@pytest.mark.slow
def test_streaming_is_deterministic_with_a_seed(gemma):
    params = SamplingParams(temperature=0.9, max_tokens=20, seed=1234)
    first, _ = _run(gemma, [Message("user", "Tell me about the sea.")], params)
    second, _ = _run(gemma, [Message("user", "Tell me about the sea.")], params)
    assert "".join(first) == "".join(second)
    assert len(first) > 1, "the reply arrives in several pieces"


@pytest.mark.slow
def test_follow_up_turn_reuses_the_evaluated_prefix(gemma):
    history = [Message("user", "Describe a forest in detail. " * 20)]
    pieces, first = _run(gemma, history)
    history += [Message("assistant", "".join(pieces)), Message("user", "And a desert?")]
    _, second = _run(gemma, history)
    assert second.reused_tokens >= first.prompt_tokens - 2
    assert second.prompt_tokens > first.prompt_tokens


class _CancelAfterFirstBatch(CancelToken):
    """A cancel that arrives while the prompt is being evaluated: it is asked for at the
    engine's second check, after the first prompt batch."""

    def __init__(self) -> None:
        super().__init__()
        self.checks = 0

    def raise_if_cancelled(self) -> None:
        self.checks += 1
        if self.checks == 2:
            self.cancel()
        super().raise_if_cancelled()


@pytest.mark.slow
def test_cancel_during_a_long_prompt_stops_the_prompt(gemma):
    cancel = _CancelAfterFirstBatch()
    _, stats = _run(gemma, [Message("user", "word " * 1800)], SamplingParams(max_tokens=8), cancel)
    assert cancel.checks == 2, "the prompt was evaluated in batches, with a check before each"
    assert stats.stop_reason == "cancelled" and stats.completion_tokens == 0


def test_empty_prompt_and_too_long_prompt(gemma):
    with pytest.raises(InputError, match="empty"):
        _run(gemma, [Message("user", "   ")])
    with pytest.raises(InputError, match="too long"):
        _run(gemma, [Message("user", "lorem ipsum " * 3000)])


@pytest.mark.slow
def test_old_turns_are_left_out_not_lost(gemma):
    long = "This is an old message about the weather. " * 60
    history = []
    for i in range(8):
        history += [Message("user", f"{i}: {long}"), Message("assistant", "Noted.")]
    history.append(Message("user", "Summarise."))
    pieces, stats = _run(gemma, history, SamplingParams(max_tokens=8, temperature=0))
    assert stats.dropped_messages > 0
    assert len(history) == 17, "the caller's list is never modified"


def test_not_a_gguf_truncated_and_corrupt_files_are_refused(tmp_path, gemma_path):
    text = tmp_path / "notes.gguf"
    text.write_text("hello")
    with pytest.raises(ModelError, match="not a GGUF"):
        load_chat_model(text)
    cut = tmp_path / "cut.gguf"
    with open(gemma_path, "rb") as src, open(cut, "wb") as dst:
        dst.write(src.read(50_000_000))
    with pytest.raises(ModelError, match="truncated"):
        load_chat_model(cut)
    garbage = tmp_path / "garbage.gguf"
    garbage.write_bytes(b"GGUF" + os.urandom(4096))
    with pytest.raises(ModelError):
        load_chat_model(garbage)


def test_a_model_too_large_for_memory_is_refused_before_loading(tmp_path):
    path = make_gguf(tmp_path / "huge.gguf", arch="llama", context=4096)
    with open(path, "r+b") as fh:  # sparse: claims 200 GB, takes no disk
        fh.truncate(200 * 1024**3)
    with pytest.raises(ModelError, match="too large: needs"):
        load_chat_model(path, LoadOptions(n_ctx=2048))


def _old_fit(engine, messages, max_tokens):
    """The loop plan() replaced: one layout per dropped turn. The reference for which turns are kept."""
    budget = engine.n_ctx - max(16, min(max_tokens, engine.n_ctx // 2))
    system = [m for m in messages if m.role == "system"]
    rest = [m for m in messages if m.role != "system"]
    for dropped in range(len(rest)):
        ids = engine.tokenize(engine.render(system + rest[dropped:]))
        if len(ids) <= budget:
            return dropped, ids
    return None, None


def _conversation(n: int, seed: int, system: bool) -> list[Message]:
    import random

    rng = random.Random(seed)
    words = ("the", "weather", "is", "mild", "and", "the", "river", "runs", "fast", "past", "old", "mill", "under",
             "grey", "skies")
    out = [Message("system", "You are terse.")] if system else []
    for i in range(n):
        text = " ".join(rng.choice(words) for _ in range(rng.choice([3, 20, 80, 300])))
        out.append(Message("user" if i % 2 == 0 else "assistant", f"{i}: {text}"))
    if out[-1].role != "user":
        out.append(Message("user", "And now?"))
    return out


@pytest.mark.parametrize(("n", "seed", "system", "max_tokens"), [
    (3, 1, False, 64), (12, 2, True, 512), (25, 3, False, 200), (40, 4, True, 900), (60, 5, False, 16),
])
def test_fitting_the_context_keeps_the_same_turns_as_dropping_them_one_by_one(gemma, n, seed, system, max_tokens):
    messages = _conversation(n, seed, system)
    dropped, ids = _old_fit(gemma, messages, max_tokens)
    plan = gemma.plan(messages, max_tokens)
    assert (plan.dropped, plan.tokens) == (dropped, ids)
    assert plan.messages[-1] == messages[-1] and (not system or plan.messages[0].role == "system")


def test_999_turns_are_fitted_with_a_few_layouts_not_one_per_dropped_turn(gemma):
    """An 8 MB request of 999 turns was laid out (rendered and tokenised) once per dropped turn,
    holding the model for the whole request timeout."""
    messages = _conversation(999, 9, True)
    before = gemma.layouts
    plan = gemma.plan(messages, 512)
    assert plan.dropped > 900 and len(plan.tokens) <= gemma.n_ctx - 512
    assert gemma.layouts - before <= 2 * 10 + 2  # gallop and bisect: about 2 log2(999); one per turn was 900+
    # And a single message too long for the context is refused in words, after a single layout.
    before = gemma.layouts
    with pytest.raises(InputError, match="too long"):
        gemma.plan([Message("user", "lorem ipsum " * 200_000)], 512)
    assert gemma.layouts - before == 1

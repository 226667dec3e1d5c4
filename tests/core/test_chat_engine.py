import os

import pytest

from app.core.chat.engine import ChatStats, LoadOptions, SamplingParams, load_chat_model
from app.core.chat.templates import Message
from app.core.jobs import CancelToken, InputError, ModelError
from tests.helpers import make_gguf

GREEDY = SamplingParams(temperature=0.0, max_tokens=24, seed=7)


def _run(engine, messages, params=GREEDY, cancel=None):
    pieces, stats = [], None
    for item in engine.stream(messages, params, cancel):
        if isinstance(item, ChatStats):
            stats = item
        else:
            pieces.append(item)
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

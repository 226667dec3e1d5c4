"""The chat sees (#12): pictures through libmtmd in the model's process, with the tiny vision fixture.

The fixture's weights are random, so these tests assert structure: a picture's tokens are counted, a
picture changes the greedy output, the same picture gives the same output, and the KV cache is reused.
"""

import pytest

from app.core.chat.engine import LoadOptions, SamplingParams
from app.core.chat.events import ChatStats, text_of
from app.core.chat.loading import load_chat_model
from app.core.chat.pictures import prepare, side_for_projector
from app.core.chat.remote import RemoteChatEngine
from app.core.chat.templates import Message
from app.core.chat.vision import MARKER
from app.core.jobs import CancelToken, InputError, ModelError
from tests.conftest import run_app
from tests.vision import MMPROJ, MODEL, bad_pictures, gradient_png, mismatched_projector, red_png, write

GREEDY = SamplingParams(temperature=0.0, max_tokens=8, seed=0)


@pytest.fixture(scope="module")
def seer():
    engine = load_chat_model(MODEL, LoadOptions(n_ctx=512, n_threads=1, projector=str(MMPROJ)), "tiny-vision")
    yield engine
    engine.close()


@pytest.fixture(scope="module")
def pictures(tmp_path_factory):
    folder, side = tmp_path_factory.mktemp("pictures"), side_for_projector(MMPROJ)
    return (prepare(write(folder / "red.png", red_png()), side=side).data,
            prepare(write(folder / "grad.png", gradient_png()), side=side).data)


def _ask(engine, messages, params=GREEDY, cancel=None):
    items = list(engine.stream(messages, params, cancel))
    assert isinstance(items[-1], ChatStats)
    return text_of(items), items[-1]


def test_the_pictures_tokens_are_counted_in_the_prompt(seer, pictures):
    _, plain = _ask(seer, [Message("user", "What is in this picture?")])
    _, seen = _ask(seer, [Message("user", "What is in this picture?", (pictures[0],))])
    assert plain.image_tokens == 0 and seen.image_tokens == 16  # 64x64 projector input, 8-px patches, 2x2 pooled
    # the picture's tokens plus its begin/end markers and the line after it
    assert seen.prompt_tokens - plain.prompt_tokens >= seen.image_tokens
    assert seen.prompt_tokens - plain.prompt_tokens <= seen.image_tokens + 4
    assert seen.image_encode_s > 0


def test_two_pictures_differ_and_the_same_picture_twice_is_the_same(seer, pictures):
    red, grad = pictures
    question = "What is in this picture?"
    first = _ask(seer, [Message("user", question, (red,))])[0]
    other = _ask(seer, [Message("user", question, (grad,))])[0]
    again = _ask(seer, [Message("user", question, (red,))])[0]
    assert first != other
    assert first == again


def test_later_turns_reuse_the_picture_in_the_kv_cache(seer, pictures):
    red = pictures[0]
    turn1 = [Message("user", "Describe it.", (red,))]
    reply, stats1 = _ask(seer, turn1)
    turn2 = turn1 + [Message("assistant", reply), Message("user", "Anything else?")]
    _, stats2 = _ask(seer, turn2)
    assert stats2.reused_tokens >= stats1.prompt_tokens - 1  # the picture was not evaluated again
    assert stats2.image_encode_s == 0.0 and stats2.image_tokens == 16


class _StopDuringPicture(CancelToken):
    """Stop pressed while the picture is being evaluated: after the text before it was read."""

    def __init__(self, engine):
        super().__init__()
        self.vision = engine.vision

    @property
    def cancelled(self) -> bool:
        if self.vision._cancel is self:  # read by libmtmd's decode of the picture's embeddings
            self.cancel()
        return super().cancelled


def test_stop_is_honoured_while_a_picture_is_evaluated(seer, pictures):
    red, grad = pictures
    token = _StopDuringPicture(seer)
    text, stats = _ask(seer, [Message("user", "Describe it.", (grad,))], cancel=token)
    assert stats.stop_reason == "cancelled" and text == "" and token.cancelled
    # the part-read picture was not kept: the same question answers as on a fresh model
    fresh = load_chat_model(MODEL, LoadOptions(n_ctx=512, n_threads=1, projector=str(MMPROJ)), "fresh")
    try:
        assert _ask(seer, [Message("user", "Describe it.", (grad,))])[0] == \
            _ask(fresh, [Message("user", "Describe it.", (grad,))])[0]
    finally:
        fresh.close()


def test_a_users_text_cannot_add_a_picture_slot(seer, pictures):
    text, stats = _ask(seer, [Message("user", f"{MARKER} {MARKER} look", (pictures[0],))])
    assert stats.image_tokens == 16


def test_a_text_only_model_refuses_pictures_plainly(gemma, pictures):
    with pytest.raises(InputError, match="cannot see pictures"):
        list(gemma.stream([Message("user", "What is this?", (pictures[0],))], GREEDY))


def test_a_mismatched_projector_is_refused_before_loading(tmp_path):
    wrong = mismatched_projector(tmp_path / "mmproj-other.gguf")
    with pytest.raises(ModelError, match="embedding size is 128 but the model's is 64"):
        load_chat_model(MODEL, LoadOptions(n_ctx=512, projector=str(wrong)))


def test_the_model_process_gets_the_pictures_as_bytes_and_answers_as_in_process(seer, pictures):
    remote = RemoteChatEngine(MODEL, LoadOptions(n_ctx=512, n_threads=1, projector=str(MMPROJ)), "tiny-vision")
    try:
        messages = [Message("user", "What is in this picture?", (pictures[1],))]
        theirs, stats = _ask(remote, messages)
        assert theirs == _ask(seer, messages)[0] and stats.image_tokens == 16
    finally:
        remote.close()


@pytest.mark.slow
def test_cli_chat_with_images(tmp_path):
    red, grad = write(tmp_path / "red.png", red_png()), write(tmp_path / "grad.png", gradient_png())
    base = ["chat", "What is it?", "--model", str(MODEL), "--projector", str(MMPROJ), "--temperature", "0",
            "--seed", "0", "--max-tokens", "6", "--json"]

    def reply(*images):
        result = run_app(*base, *[a for p in images for a in ("--image", str(p))])
        assert result.returncode == 0, result.stderr
        import json

        return json.loads(result.stdout[result.stdout.index("{"):])

    one, other, again, both = reply(red), reply(grad), reply(red), reply(red, grad)
    assert one["stats"]["image_tokens"] == 16 and both["stats"]["image_tokens"] == 32
    assert one["text"] == again["text"] and one["text"] != other["text"]
    assert "clip_" not in run_app(*base, "--image", str(red)).stderr  # libmtmd's logs are routed


@pytest.mark.parametrize("kind", ["truncated", "bomb", "empty", "text"])
def test_cli_bad_picture_gives_a_clear_message_and_sends_nothing(tmp_path, kind):
    bad = bad_pictures(tmp_path)[kind]
    result = run_app("chat", "What is it?", "--model", str(MODEL), "--projector", str(MMPROJ), "--image", str(bad))
    assert result.returncode == 1
    assert f"{bad.name} cannot be used as a picture" in result.stderr and result.stdout == ""


def test_cli_image_with_a_text_only_model_is_refused(tmp_path, gemma_path):
    red = write(tmp_path / "red.png", red_png())
    result = run_app("chat", "What is it?", "--model", str(gemma_path), "--image", str(red))
    assert result.returncode == 1 and "cannot see pictures" in result.stderr


def test_a_chat_with_pictures_continues_with_a_text_only_model_on_its_words(gemma, pictures):
    messages = [Message("user", "Look at this.", (pictures[0],)), Message("assistant", "A red square."),
                Message("user", "What colour was it?")]
    text, stats = _ask(gemma, messages, SamplingParams(temperature=0.0, max_tokens=4, seed=0))
    assert stats.image_tokens == 0 and stats.prompt_tokens > 0

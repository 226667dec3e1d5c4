"""`serve` with the tiny vision fixture: pictures as data URIs in `image_url` parts, through the official
openai client, decoded by the chat pane's decoder and seen by the model."""

from __future__ import annotations

import base64

import pytest

from tests.vision import MMPROJ, MODEL, bad_pictures, gradient_png, red_png

GEMMA = "gemma-3-270m-q4_k_m"
SEER = "tiny-vision"
QUESTION = "What is in this picture?"


@pytest.fixture(scope="module")
def served(starter_home, tmp_path_factory):
    from app.core.models.store import ModelStore
    from app.core.settings import Settings
    from app.server.backends import LocalBackends
    from app.server.run import HearthServer

    source = ModelStore(starter_home / "data" / "models", Settings())  # module scope: before HEARTH_HOME is set
    store = ModelStore(tmp_path_factory.mktemp("served-vision"), Settings())
    gemma = source.get(GEMMA)
    gemma.path = str(source.path_of(gemma))
    store._write({GEMMA: gemma})
    store.import_path(MODEL, "chat", SEER, projector=MMPROJ)
    backends = LocalBackends(store=store, n_ctx=512)
    server = HearthServer(backends, "127.0.0.1", 0).start()
    yield server
    server.stop()
    backends.close()


@pytest.fixture(scope="module")
def client(served):
    import openai

    return openai.OpenAI(base_url=served.url, api_key="unused", max_retries=0, timeout=600)


def _uri(data: bytes, mime: str = "image/png") -> str:
    return f"data:{mime};base64,{base64.b64encode(data).decode()}"


def _ask(client, picture: str | None, model: str = SEER, **kw):
    content = [{"type": "text", "text": QUESTION}]
    if picture is not None:
        content.insert(0, {"type": "image_url", "image_url": {"url": picture}})
    return client.chat.completions.create(model=model, messages=[{"role": "user", "content": content}],
                                          max_tokens=6, temperature=0, seed=0, **kw)


@pytest.mark.slow
def test_a_picture_as_a_data_uri_is_seen_and_its_tokens_are_counted(client):
    plain = _ask(client, None)
    seen = _ask(client, _uri(red_png()))
    assert isinstance(seen.choices[0].message.content, str)
    # the fixture's projector gives 16 tokens a picture, plus its begin/end markers
    assert seen.usage.prompt_tokens - plain.usage.prompt_tokens >= 16
    assert seen.usage.total_tokens == seen.usage.prompt_tokens + seen.usage.completion_tokens


def test_two_pictures_give_different_greedy_replies_streamed_or_not(client):
    red = _ask(client, _uri(red_png())).choices[0].message.content
    grad = _ask(client, _uri(gradient_png())).choices[0].message.content
    assert red != grad
    assert _ask(client, _uri(red_png())).choices[0].message.content == red
    stream = _ask(client, _uri(gradient_png()), stream=True, stream_options={"include_usage": True})
    pieces, usage = [], None
    for chunk in stream:
        usage = chunk.usage or usage
        pieces += [c.delta.content or "" for c in chunk.choices]
    assert "".join(pieces) == grad
    assert usage.prompt_tokens == _ask(client, _uri(gradient_png())).usage.prompt_tokens


@pytest.mark.parametrize(("url", "says"), [
    ("https://example.com/cat.png", "does not fetch remote URLs"),
    ("file:///etc/passwd", "reads no file path"),
    ("/home/someone/cat.png", "reads no file path"),
    ("data:text/plain;base64,aGVsbG8=", "PNG, JPEG or WebP"),
    ("data:image/png;base64,not*base64", "base64 is damaged"),
])
def test_a_picture_that_is_not_a_data_uri_is_refused_saying_why(client, url, says):
    import openai

    with pytest.raises(openai.BadRequestError) as err:
        _ask(client, url)
    assert err.value.status_code == 400 and says in err.value.body["message"]


@pytest.mark.parametrize("kind", ["truncated", "bomb", "text", "empty"])
def test_a_damaged_picture_is_refused_with_400(client, tmp_path, kind):
    import openai

    bad = bad_pictures(tmp_path)[kind]
    mime = "image/jpeg" if bad.suffix == ".jpg" else "image/png"
    with pytest.raises(openai.BadRequestError) as err:
        _ask(client, _uri(bad.read_bytes(), mime))
    assert "messages[0] picture 1 cannot be used as a picture" in err.value.body["message"]
    with pytest.raises(openai.BadRequestError):  # streamed: refused before the stream starts
        _ask(client, _uri(bad.read_bytes(), mime), stream=True)


def test_a_text_only_model_refuses_a_picture(client):
    import openai

    with pytest.raises(openai.BadRequestError) as err:
        _ask(client, _uri(red_png()), model=GEMMA)
    assert "this model cannot see pictures" in err.value.body["message"]
    assert err.value.body["code"] == "model_cannot_see"


def test_a_message_full_of_near_limit_bombs_is_refused_by_the_request_budget(client):
    import io

    import openai
    from PIL import Image

    buf = io.BytesIO()
    Image.new("1", (10_000, 10_000)).save(buf, "PNG")  # 100 megapixels, under the limit for one picture
    bombs = [{"type": "image_url", "image_url": {"url": _uri(buf.getvalue())}}] * 12
    with pytest.raises(openai.BadRequestError) as err:
        client.chat.completions.create(model=SEER, max_tokens=2, messages=[
            {"role": "user", "content": [*bombs, {"type": "text", "text": QUESTION}]}])
    assert "too large together" in err.value.body["message"]

"""`serve` on loopback with the real starter models and tiny CLIP, driven by the official openai client
and, for the SSE framing, a plain HTTP client."""

from __future__ import annotations

import base64
import http.client
import io
import json
import random
import socket
import threading

import numpy as np
import pytest

from tests.conftest import TINY_CLIP
from tests.helpers import SPEECH_TEXT, photo_library, shapes_module, word_error_rate

GEMMA = "gemma-3-270m-q4_k_m"
COUNTING = [{"role": "user", "content": "Count from one to one thousand: 1, 2, 3, 4, 5, 6, 7, 8,"}]


class RecordingBackends:
    """The standalone backends, with each chat job's final stats kept (what the engine did)."""

    def __init__(self, store):
        from app.server.backends import LocalBackends

        self.inner = LocalBackends(store=store)
        self.stats: list = []
        self.chat_done = threading.Semaphore(0)

    def __getattr__(self, name):
        return getattr(self.inner, name)

    def chat(self, model, messages, params, cancel, emit):
        from app.core.chat.events import ChatStats

        def recording(item):
            if isinstance(item, ChatStats):
                self.stats.append(item)
            emit(item)

        fut = self.inner.chat(model, messages, params, cancel, recording)
        fut.add_done_callback(lambda f: self.chat_done.release())
        return fut


@pytest.fixture(scope="module")
def store(starter_home, tmp_path_factory):
    from app.core.models.store import ModelStore
    from app.core.settings import Settings

    source = ModelStore(starter_home / "data" / "models", Settings())  # module scope: before HEARTH_HOME is set
    store = ModelStore(tmp_path_factory.mktemp("served-models"), Settings())
    entries = {}
    for entry in source.list():
        entry.path = str(source.path_of(entry))
        entries[entry.id] = entry
    store._write(entries)
    store.import_path(TINY_CLIP, "images", "tiny-clip", mode="link")
    return store


@pytest.fixture(scope="module")
def served(store):
    from app.server.run import HearthServer

    backends = RecordingBackends(store)
    server = HearthServer(backends, "127.0.0.1", 0).start()
    server.recorder = backends
    yield server
    server.stop()
    backends.inner.close()


@pytest.fixture(scope="module")
def client(served):
    import openai

    return openai.OpenAI(base_url=served.url, api_key="unused", max_retries=0, timeout=600)


@pytest.mark.slow
def test_models_lists_every_installed_model_with_its_kind(client):
    models = {m.id: m.kind for m in client.models.list()}
    assert models == {GEMMA: "chat", "whisper-base": "speech", "tiny-clip": "images", "all-minilm-l6-v2": "embedding",
                      "resemblyzer-voice-encoder": "speaker"}


@pytest.mark.slow
def test_chat_through_the_api_is_the_in_app_engine_reply(client, gemma_path):
    from app.core.chat.engine import LoadOptions, SamplingParams
    from app.core.chat.events import text_of
    from app.core.chat.remote import open_chat_engine
    from app.core.chat.templates import Message

    reply = client.chat.completions.create(model=GEMMA, messages=[{"role": "user", "content": "Name three colours."}],
                                           max_tokens=16, temperature=0, seed=5)
    engine = open_chat_engine(gemma_path, LoadOptions(n_ctx=4096), GEMMA)
    try:
        items = list(engine.stream([Message("user", "Name three colours.")],
                                   SamplingParams(temperature=0, max_tokens=16, seed=5)))
    finally:
        engine.close()
    local = text_of(items)
    assert reply.choices[0].message.content == local and local.strip()
    assert reply.choices[0].finish_reason in ("stop", "length")
    assert reply.usage.prompt_tokens == items[-1].prompt_tokens
    assert reply.usage.completion_tokens == items[-1].completion_tokens
    assert reply.model == GEMMA and reply.object == "chat.completion"


@pytest.mark.slow
def test_streamed_chat_gives_the_same_reply_piece_by_piece_with_usage(client):
    messages = [{"role": "user", "content": "Write one sentence about the sea."}]
    whole = client.chat.completions.create(model=GEMMA, messages=messages, max_tokens=20, temperature=0, seed=9)
    stream = client.chat.completions.create(model=GEMMA, messages=messages, max_tokens=20, temperature=0, seed=9,
                                            stream=True, stream_options={"include_usage": True})
    pieces, finish, usage = [], None, None
    for chunk in stream:
        if chunk.usage:
            usage = chunk.usage
        for choice in chunk.choices:
            if choice.delta.content:
                pieces.append(choice.delta.content)
            finish = choice.finish_reason or finish
    assert len(pieces) > 3 and "".join(pieces) == whole.choices[0].message.content
    assert finish == whole.choices[0].finish_reason
    assert usage.completion_tokens == whole.usage.completion_tokens


@pytest.mark.slow
def test_a_stop_string_cuts_the_reply_where_it_begins(client):
    messages = COUNTING
    whole = client.chat.completions.create(model=GEMMA, messages=messages, max_tokens=24, temperature=0, seed=1)
    text = whole.choices[0].message.content
    stop = text[len(text) // 2 : len(text) // 2 + 2]
    cut = client.chat.completions.create(model=GEMMA, messages=messages, max_tokens=24, temperature=0, seed=1,
                                         stop=[stop])
    assert cut.choices[0].message.content == text[: text.index(stop)]
    assert cut.choices[0].finish_reason == "stop"


@pytest.mark.slow
def test_sse_framing_with_a_plain_http_client(served):
    conn = http.client.HTTPConnection("127.0.0.1", served.port, timeout=300)
    body = {"model": GEMMA, "messages": COUNTING, "max_tokens": 8, "stream": True, "seed": 3}
    conn.request("POST", "/v1/chat/completions", json.dumps(body), {"Content-Type": "application/json"})
    resp = conn.getresponse()
    assert resp.status == 200 and resp.getheader("Content-Type").startswith("text/event-stream")
    raw = resp.read().decode()
    conn.close()
    assert raw.endswith("\n\n")
    events = raw[:-2].split("\n\n")
    assert all(e.startswith("data: ") and "\n" not in e for e in events)
    assert events[-1] == "data: [DONE]"
    chunks = [json.loads(e[6:]) for e in events[:-1]]
    assert chunks[0]["choices"][0]["delta"]["role"] == "assistant"
    assert all(c["object"] == "chat.completion.chunk" and c["id"] == chunks[0]["id"] for c in chunks)
    assert chunks[-1]["choices"][0]["finish_reason"] == "length"
    assert sum(bool(c["choices"][0]["delta"].get("content")) for c in chunks) >= 2


@pytest.mark.slow
def test_four_clients_at_once_are_all_answered_by_one_loaded_model(served):
    import openai

    answers: dict[int, str] = {}

    def ask(i: int) -> None:
        c = openai.OpenAI(base_url=served.url, api_key="unused", max_retries=0, timeout=600)
        text = ""
        for chunk in c.chat.completions.create(model=GEMMA, max_tokens=10, seed=i, stream=True, messages=[
                {"role": "user", "content": f"Say something about the number {i}."}]):
            text += "".join(ch.delta.content or "" for ch in chunk.choices)
        answers[i] = text

    threads = [threading.Thread(target=ask, args=(i,)) for i in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(600)
    assert sorted(answers) == [0, 1, 2, 3] and all(answers[i].strip() for i in answers)
    assert served.recorder.loaded()[GEMMA] == 1  # one copy, one worker: the requests queued


@pytest.mark.slow
def test_a_client_leaving_mid_stream_stops_the_generation(served):
    recorder = served.recorder
    while recorder.chat_done.acquire(blocking=False):  # earlier tests' jobs
        pass
    before = len(recorder.stats)
    conn = http.client.HTTPConnection("127.0.0.1", served.port, timeout=300)
    body = {"model": GEMMA, "messages": COUNTING, "max_tokens": 3000, "stream": True, "temperature": 0}
    conn.request("POST", "/v1/chat/completions", json.dumps(body), {"Content-Type": "application/json"})
    resp = conn.getresponse()
    seen = b""
    while b'"content": "' not in seen.replace(b'"content": ""', b""):
        seen += resp.fp.readline()
    conn.sock.shutdown(2)
    conn.close()
    assert recorder.chat_done.acquire(timeout=120)  # the job ended on its own worker
    stats = recorder.stats[before]
    assert stats.stop_reason == "cancelled" and stats.completion_tokens < 3000


@pytest.mark.slow
def test_transcription_as_text_srt_and_verbose_json(client, speech_wav):
    from app.core.speech.subtitles import parse_cues

    with open(speech_wav, "rb") as fh:
        text = client.audio.transcriptions.create(model="whisper-base", file=fh, response_format="text")
    assert word_error_rate(SPEECH_TEXT, text) < 0.25, text
    with open(speech_wav, "rb") as fh:
        srt = client.audio.transcriptions.create(model="whisper-base", file=fh, response_format="srt", language="en")
    cues = parse_cues(srt)
    assert len(cues) >= 2 and all(a[1] <= b[0] + 1e-6 for a, b in zip(cues, cues[1:], strict=False))
    assert word_error_rate(SPEECH_TEXT, " ".join(c[2] for c in cues)) < 0.25
    with open(speech_wav, "rb") as fh:
        verbose = client.audio.transcriptions.create(model="whisper-base", file=fh, response_format="verbose_json")
    assert verbose.language == "english" and verbose.duration > 5 and len(verbose.segments) >= 2
    assert verbose.text.strip() == text.strip()


def _png_uri(colour: str, shape: str) -> tuple[str, object]:
    image = shapes_module().render(colour, shape, random.Random(3), size=96)
    buf = io.BytesIO()
    image.save(buf, "PNG")
    return "data:image/png;base64," + base64.b64encode(buf.getvalue()).decode(), image


def test_embeddings_are_the_clip_model_text_and_image_vectors(client, tmp_path):
    from app.core.images.encoder import ImageEncoder
    from app.core.images.scan import open_image

    encoder = ImageEncoder(TINY_CLIP, model_id="tiny-clip")
    texts = ["a red circle", "a blue star"]
    got = client.embeddings.create(model="tiny-clip", input=texts)  # the client asks for base64
    assert np.allclose([d.embedding for d in got.data], encoder.embed_text(texts), atol=1e-5)
    uri, image = _png_uri("red", "circle")
    image.save(tmp_path / "same.png")
    mixed = client.embeddings.create(model="tiny-clip", input=["a red circle", uri], encoding_format="float")
    want = encoder.embed_pil([open_image(str(tmp_path / "same.png"), encoder.image_size)])[0]
    assert [d.index for d in mixed.data] == [0, 1]
    assert np.allclose(mixed.data[1].embedding, want, atol=1e-4)
    assert float(np.dot(mixed.data[0].embedding, mixed.data[1].embedding)) > 0.1


def test_image_search_over_the_indexed_folders(served, store, tmp_path):
    from app.core.images.encoder import ImageEncoder
    from app.core.images.index import ImageIndex, IndexSummary
    from app.core.opening import encoder_key, resolve

    lib = photo_library(tmp_path / "photos", per_class=3)
    index = ImageIndex()
    index.add_folder(tmp_path / "photos")
    encoder = ImageEncoder(TINY_CLIP, model_id="tiny-clip")
    key = encoder_key(resolve("images", "tiny-clip", store))
    summaries = [i for i in index.index(encoder, key) if isinstance(i, IndexSummary)]
    assert summaries[0].embedded == 60
    index.close()

    def search(payload):
        conn = http.client.HTTPConnection("127.0.0.1", served.port, timeout=300)
        conn.request("POST", "/v1/images/search", json.dumps(payload), {"Content-Type": "application/json"})
        resp = conn.getresponse()
        out = resp.status, json.loads(resp.read())
        conn.close()
        return out

    status, body = search({"model": "tiny-clip", "query": "a blue star", "top": 3})
    assert status == 200 and len(body["data"]) == 3
    assert sum(h["path"] in {str(p) for p in lib["blue star"]} for h in body["data"]) >= 2
    uri, _ = _png_uri("green", "triangle")
    status, body = search({"model": "tiny-clip", "image": uri, "top": 3})
    assert status == 200 and sum(h["path"] in {str(p) for p in lib["green triangle"]} for h in body["data"]) >= 2
    status, body = search({"model": "tiny-clip", "image": str(lib["red circle"][0])})
    assert status == 400 and "data URI" in body["error"]["message"]


def test_a_client_leaving_a_non_streamed_request_stops_it_too(served):
    recorder = served.recorder
    while recorder.chat_done.acquire(blocking=False):
        pass
    before = len(recorder.stats)
    body = json.dumps({"model": GEMMA, "messages": COUNTING, "max_tokens": 3000, "temperature": 0}).encode()
    with socket.create_connection(("127.0.0.1", served.port)) as sock:
        sock.sendall(b"POST /v1/chat/completions HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
                     b"Content-Length: %d\r\n\r\n" % len(body) + body)
    assert recorder.chat_done.acquire(timeout=120)
    stats = recorder.stats[before]
    assert stats.stop_reason == "cancelled" and stats.completion_tokens < 3000


@pytest.mark.slow
def test_verbose_json_parses_in_the_sdks_strict_mode_with_words_and_speakers(served, speech_wav, tmp_path):
    """The openai SDK's strict client refused Hearth's verbose_json: each segment lacked avg_logprob,
    compression_ratio, no_speech_prob, temperature and tokens, and language was a code (#27)."""
    import openai

    from tests.voices import dialogue, recording

    strict = openai.OpenAI(base_url=served.url, api_key="unused", max_retries=0, timeout=600,
                           _strict_response_validation=True)
    with open(speech_wav, "rb") as fh:
        v = strict.audio.transcriptions.create(model="whisper-base", file=fh, response_format="verbose_json",
                                               timestamp_granularities=["word"])
    assert v.language == "english" and v.duration > 5 and v.usage.type == "duration"
    assert len(v.segments) >= 2 and len(v.words) >= 10
    for i, seg in enumerate(v.segments):
        assert seg.id == i and seg.tokens and all(isinstance(t, int) for t in seg.tokens)
        assert seg.avg_logprob < 0 and seg.compression_ratio > 0 and 0 <= seg.no_speech_prob <= 1
        assert seg.temperature >= 0 and seg.seek >= 0
    starts = [w.start for w in v.words]
    assert starts == sorted(starts) and all(w.start <= w.end for w in v.words)
    assert all(v.segments[0].start - 0.01 <= w.start <= v.segments[-1].end + 0.01 for w in v.words)
    wav = tmp_path / "two.wav"
    recording(wav, dialogue()[:6])
    with open(wav, "rb") as fh:
        two = strict.audio.transcriptions.create(model="whisper-base", file=fh, response_format="verbose_json",
                                                 language="en", extra_body={"speakers": "true"})
    assert {s.model_extra["speaker"] for s in two.segments} == {"Speaker 1", "Speaker 2"}
    with open(wav, "rb") as fh:
        vtt = strict.audio.transcriptions.create(model="whisper-base", file=fh, response_format="vtt",
                                                 language="en", extra_body={"num_speakers": "2"})
    assert "<v Speaker 1>" in vtt and "<v Speaker 2>" in vtt
    with open(wav, "rb") as fh, pytest.raises(openai.BadRequestError) as err:
        strict.audio.transcriptions.create(model="whisper-base", file=fh, extra_body={"num_speakers": "many"})
    assert "num_speakers" in str(err.value)


def test_a_num_speakers_that_only_looks_like_a_number_is_a_400(client):
    """str.isdigit() says yes to "²" and to a hundred-digit string, which int() refused or took: a 500
    with Python's words, or a huge count; a form field is said wrong in words before anything is read."""
    import openai

    for odd in ("²", "3" * 100, " 2", "-1", "0"):
        with pytest.raises(openai.BadRequestError) as err:
            client.audio.transcriptions.create(model="whisper-base", file=("talk.wav", b"RIFF"),
                                               extra_body={"num_speakers": odd})
        assert "num_speakers" in str(err.value) and "invalid literal" not in str(err.value)

"""`serve`'s speaker labelling (speakers=true) with the real starter models on loopback: the voice encoder is
one of the backends' models, loaded once; the labelling keeps to the request's timeout and stops when its
client leaves. The encoder's own lock holds the labelling at its first windows while the test acts, so no
timing is guessed."""

from __future__ import annotations

import http.client
import json
import logging
import socket
import threading
import uuid

import pytest

from tests.helpers import wait_until
from tests.voices import dialogue, recording

pytestmark = pytest.mark.slow

SPEAKER = "resemblyzer-voice-encoder"
TIMEOUT_S = 20  # the server's request timeout: room for the clip's transcription on a loaded machine


@pytest.fixture(scope="module")
def store(starter_home, tmp_path_factory):
    from app.core.models.store import ModelStore
    from app.core.settings import Settings

    source = ModelStore(starter_home / "data" / "models", Settings())  # module scope: before HEARTH_HOME is set
    store = ModelStore(tmp_path_factory.mktemp("speaker-models"), Settings())
    entries = {}
    for entry in source.list():
        entry.path = str(source.path_of(entry))
        entries[entry.id] = entry
    store._write(entries)
    return store


@pytest.fixture(scope="module")
def server(store):
    from app.server.api import Limits, ServerOptions
    from app.server.backends import LocalBackends
    from app.server.run import HearthServer

    backends = LocalBackends(store=store)
    server = HearthServer(backends, "127.0.0.1", 0, ServerOptions(limits=Limits(timeout_s=TIMEOUT_S))).start()
    yield server
    server.stop()
    backends.close()


@pytest.fixture(scope="module")
def clip(tmp_path_factory):
    wav = tmp_path_factory.mktemp("voices") / "two.wav"
    recording(wav, dialogue()[:8])
    return wav.read_bytes()


def _form(audio: bytes, **fields: str) -> tuple[bytes, str]:
    boundary = uuid.uuid4().hex
    parts = [f"--{boundary}\r\nContent-Disposition: form-data; name=\"{k}\"\r\n\r\n{v}\r\n".encode()
             for k, v in {"model": "whisper-base", "language": "en", "response_format": "verbose_json",
                          **fields}.items()]
    parts.append(f"--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"two.wav\"\r\n"
                 "Content-Type: audio/wav\r\n\r\n".encode() + audio + b"\r\n")
    return b"".join(parts) + f"--{boundary}--\r\n".encode(), f"multipart/form-data; boundary={boundary}"


def _transcribe(server, audio: bytes, timeout: float = 300, **fields: str) -> tuple[int, dict]:
    body, kind = _form(audio, **fields)
    conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=timeout)
    try:
        conn.request("POST", "/v1/audio/transcriptions", body, {"Content-Type": kind})
        resp = conn.getresponse()
        return resp.status, json.loads(resp.read())
    finally:
        conn.close()


def _encoder(server):
    """The voice encoder the backends hold (loaded by a first labelling)."""
    return server.backends.worker(SPEAKER, "speaker").model


def _said(caplog, start: str) -> list[logging.LogRecord]:
    return [r for r in caplog.records if r.name == "app.core.speech.diarize" and r.getMessage().startswith(start)]


def test_two_requests_with_speakers_load_the_voice_encoder_once(server, clip):
    """Each request opened the speaker model for itself, outside the backends (which never held it, nor
    released it on close). Now it is one of the backends' models: loaded on first use, on its own worker."""
    for _ in range(2):
        status, body = _transcribe(server, clip, speakers="true")
        assert status == 200, body
        assert {s["speaker"] for s in body["segments"]} == {"Speaker 1", "Speaker 2"}
    assert server.backends.loaded().get(SPEAKER) == 1
    assert _encoder(server) is not None


def test_labelling_past_the_request_timeout_is_a_504_in_words_and_stops(server, clip, caplog):
    """The labelling ran outside the request's timeout: a long recording held a worker (and the client) far
    past it. Now transcription and labelling share one timeout, answered as the transcription's is, and the
    labelling stops at its next step."""
    caplog.set_level(logging.INFO, logger="app.core.speech.diarize")
    _transcribe(server, clip, speakers="true")  # the models loaded, so the encoder can be held
    encoder = _encoder(server)
    answer: dict = {}

    def ask():
        answer["reply"] = _transcribe(server, clip, timeout=TIMEOUT_S + 120, speakers="true")

    asking = threading.Thread(target=ask, daemon=True)
    with encoder._lock:  # the labelling waits at its first windows until the request's time is up
        before = len(_said(caplog, "speakers: "))
        asking.start()
        wait_until(lambda: len(_said(caplog, "speakers: ")) > before, timeout=TIMEOUT_S,
                   what="the labelling to begin within the request's time")
        asking.join(TIMEOUT_S + 60)
        assert "reply" in answer, "no answer while the labelling was held past the request's timeout"
    status, body = answer["reply"]
    assert status == 504 and body["error"]["type"] == "timeout"
    assert body["error"]["message"] == f"the request took longer than {TIMEOUT_S} s"
    wait_until(lambda: len(_said(caplog, "speakers: ")) > before + 1, timeout=60, what="the labelling to end")
    stopped = _said(caplog, "speakers: ")[before + 1]
    assert stopped.getMessage().startswith("speakers: stopped") and stopped.args[0] < stopped.args[1]


def test_a_client_leaving_stops_the_labelling(server, clip, caplog):
    """The labelling ran outside the watch for a client leaving: it went on to the end for nobody."""
    caplog.set_level(logging.INFO, logger="app.core.speech.diarize")
    _transcribe(server, clip, speakers="true")
    encoder = _encoder(server)
    body, kind = _form(clip, speakers="true")
    before = len(_said(caplog, "speakers: "))
    caplog.set_level(logging.INFO, logger="app.server.http")
    with encoder._lock:  # the labelling waits at its first windows until the client has left, and been heard
        sock = socket.create_connection(("127.0.0.1", server.port))
        try:
            sock.sendall(b"POST /v1/audio/transcriptions HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: "
                         + kind.encode() + b"\r\nContent-Length: %d\r\n\r\n" % len(body) + body)
            wait_until(lambda: len(_said(caplog, "speakers: ")) > before, timeout=TIMEOUT_S,
                       what="the labelling to begin")
        finally:
            sock.close()
        wait_until(lambda: any(r.name == "app.server.http" and r.getMessage().startswith("the client left")
                               for r in caplog.records), timeout=60, what="the server to hear the client leave")
    wait_until(lambda: len(_said(caplog, "speakers: ")) > before + 1, timeout=60, what="the labelling to end")
    assert _said(caplog, "speakers: ")[before + 1].getMessage().startswith("speakers: stopped")

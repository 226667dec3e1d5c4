"""The API server's pictures under attack (issue 22): a budget per request, decoding that stops when
its client leaves (item 11), and hits whose file names are not UTF-8 (item 12)."""

from __future__ import annotations

import base64
import http.client
import io
import json
import os
import socket
import time
from pathlib import Path

import pytest
from PIL import Image

from app.core.images.index import ImageIndex, IndexSummary
from tests.conftest import run_app
from tests.helpers import photo_library, wait_until

MODEL = "tiny-clip"


def _server(store, **limits):
    from app.server.api import Limits, ServerOptions
    from app.server.backends import LocalBackends
    from app.server.run import HearthServer

    backends = LocalBackends(store=store)
    return backends, HearthServer(backends, "127.0.0.1", 0, ServerOptions(limits=Limits(**limits))).start()


@pytest.fixture
def served(clip_store):
    backends, server = _server(clip_store)
    yield server
    server.stop()
    backends.close()


@pytest.fixture
def served_without_pixel_budget(clip_store):
    backends, server = _server(clip_store, picture_pixels=10**15)  # only the client's leaving stops them
    yield server
    server.stop()
    backends.close()


def _post(server, path: str, body: dict, timeout: float = 120) -> tuple[int, dict]:
    conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=timeout)
    try:
        conn.request("POST", path, json.dumps(body), {"Content-Type": "application/json"})
        resp = conn.getresponse()
        return resp.status, json.loads(resp.read())
    finally:
        conn.close()


def _bomb_uri() -> str:
    """A 1-bit PNG of 100 megapixels (under the 120-megapixel limit for one picture): 12 KB to send."""
    buf = io.BytesIO()
    Image.new("1", (10_000, 10_000)).save(buf, "PNG")
    return "data:image/png;base64," + base64.b64encode(buf.getvalue()).decode()


def test_a_request_full_of_near_limit_bombs_is_refused_by_its_pixel_budget(served):
    status, body = _post(served, "/v1/embeddings", {"model": MODEL, "input": [_bomb_uri()] * 12})
    assert status == 400, body
    assert "too large together" in body["error"]["message"] and "megapixels" in body["error"]["message"]
    status, body = _post(served, "/v1/images/search", {"model": MODEL, "image": [_bomb_uri()] * 8, "query": ""})
    assert status == 200, "eight are within one request's budget"


def test_pictures_of_a_client_that_left_are_not_decoded(served_without_pixel_budget):
    from app.core import paths

    server = served_without_pixel_budget
    assert _post(server, "/v1/embeddings", {"model": MODEL, "input": "warm"})[0] == 200  # the model is loaded
    body = json.dumps({"model": MODEL, "input": [_bomb_uri()] * 256}).encode()  # about 28 s of decoding here
    sock = socket.create_connection(("127.0.0.1", server.port))
    sock.sendall(b"POST /v1/embeddings HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
                 b"Content-Length: %d\r\n\r\n" % len(body) + body)
    uploads = lambda: list(paths.cache_dir().glob("upload-*"))  # noqa: E731 - the request's scratch files
    wait_until(lambda: len(uploads()) == 256, 60, "the request to reach the model's worker")
    sock.close()  # the client leaves while its pictures are decoded
    began = time.monotonic()
    status, answer = _post(server, "/v1/embeddings", {"model": MODEL, "input": "a red circle"}, timeout=120)
    took = time.monotonic() - began
    assert status == 200, answer
    assert took < 10, f"the next request waited {took:.0f} s behind pictures nobody wanted any more"
    wait_until(lambda: not uploads(), 10, "the request that was left to end")


def _odd_library(root, encoder, key):
    photo_library(root, per_class=1)
    odd = os.path.join(os.fsencode(root), b"caf\xe9.png")  # Latin-1: not UTF-8
    Image.new("RGB", (64, 64), (250, 120, 20)).save(odd)
    index = ImageIndex()
    index.add_folder(root)
    assert [i for i in index.index(encoder, key) if isinstance(i, IndexSummary)][0].embedded == 21
    index.close()
    return odd


def test_a_hit_whose_name_is_not_utf8_is_answered_with_its_name_in_words_and_bytes(served, tmp_path):
    from app.core.opening import open_encoder

    encoder, key = open_encoder(MODEL)
    odd = _odd_library(tmp_path / "lib", encoder, key)
    picture = "data:image/png;base64," + base64.b64encode(Path(os.fsdecode(odd)).read_bytes()).decode()
    status, body = _post(served, "/v1/images/search", {"model": MODEL, "image": picture, "top": 21})
    assert status == 200, body
    hits = {h["path"]: h for h in body["data"]}
    assert len(hits) == 21
    shown = os.fsencode(odd).decode("utf-8", "replace")
    assert shown.endswith("caf\ufffd.png") and shown in hits
    assert base64.b64decode(hits[shown]["path_base64"]) == odd, "the exact bytes, to open the file with"
    assert sum("path_base64" in h for h in hits.values()) == 1, "a UTF-8 name is given as it is"

    result = run_app("search", "query", "--image", os.fsdecode(odd), "--top", "21", "--json")
    assert result.returncode == 0, result.stderr
    cli = {h["path"]: h for h in json.loads(result.stdout)}
    assert cli.keys() == hits.keys() and cli[shown]["path_base64"] == hits[shown]["path_base64"]

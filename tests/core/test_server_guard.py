"""`serve` answers only its own hosts and no web page it was not started for (#22): DNS rebinding,
cross-site POSTs and a keyless wildcard CORS. No model is loaded here."""

from __future__ import annotations

import http.client
import json
import os
import subprocess
import sys

import pytest

from tests.conftest import ROOT, run_app

GEMMA = "gemma-3-270m-q4_k_m"


@pytest.fixture
def keyless(starter_store):
    from app.server.backends import LocalBackends
    from app.server.run import HearthServer

    backends = LocalBackends(store=starter_store)
    server = HearthServer(backends, "127.0.0.1", 0).start()
    yield server
    server.stop()
    backends.close()


def request(port, method, path, body=None, headers=None):
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    try:
        conn.request(method, path, body=body, headers=headers or {})
        resp = conn.getresponse()
        raw = resp.read()
        return resp.status, json.loads(raw) if raw else None
    finally:
        conn.close()


CHAT = json.dumps({"model": GEMMA, "messages": [{"role": "user", "content": "hi"}], "max_tokens": 4}).encode()


def test_a_rebinding_host_name_is_refused_and_loopback_names_pass(keyless):
    port = keyless.port
    for host in (f"attacker.example:{port}", "attacker.example", f"127.0.0.1.attacker.example:{port}"):
        status, body = request(port, "GET", "/v1/models", headers={"Host": host})
        assert status == 421 and body["error"]["code"] == "host_not_allowed", host
        assert "--allow-host" in body["error"]["message"]
    search = json.dumps({"query": "a red car"}).encode()
    status, body = request(port, "POST", "/v1/images/search", search,
                           {"Host": f"attacker.example:{port}", "Content-Type": "application/json"})
    assert status == 421 and "data" not in body
    for host in (f"localhost:{port}", f"127.0.0.1:{port}", f"[::1]:{port}", "localhost", "LOCALHOST."):
        status, body = request(port, "GET", "/v1/models", headers={"Host": host})
        assert status == 200 and {m["id"] for m in body["data"]} >= {GEMMA}, host


def test_a_web_page_cannot_post_and_a_text_plain_post_runs_nothing(keyless):
    port = keyless.port
    # A page on another site (or on localhost: the server serves no pages) sends its Origin.
    for origin in ("http://evil.example", "http://localhost:3000", "null"):
        for kind in ("text/plain", "application/json"):
            status, body = request(port, "POST", "/v1/chat/completions", CHAT,
                                   {"Origin": origin, "Content-Type": kind})
            assert status == 403 and body["error"]["code"] == "origin_not_allowed", (origin, kind)
            assert "--cors" in body["error"]["message"]
    # Without an Origin, a form's or a text/plain body is still not JSON to us.
    for kind in ("text/plain", "application/x-www-form-urlencoded", None):
        headers = {"Content-Type": kind} if kind else {}
        status, body = request(port, "POST", "/v1/chat/completions", CHAT, headers)
        assert status == 415 and "application/json" in body["error"]["message"], kind
    assert keyless.backends.loaded() == {}  # the model never ran


def test_a_named_cors_origin_and_an_allowed_host_pass(starter_store):
    from app.server.api import ServerOptions
    from app.server.backends import LocalBackends
    from app.server.run import HearthServer

    backends = LocalBackends(store=starter_store)
    options = ServerOptions(cors=["http://notes.example"], allow_hosts=["hearth.lan"])
    server = HearthServer(backends, "127.0.0.1", 0, options).start()
    try:
        status, body = request(server.port, "GET", "/v1/models",
                               headers={"Origin": "http://notes.example", "Host": f"hearth.lan:{server.port}"})
        assert status == 200 and body["object"] == "list"
        status, body = request(server.port, "POST", "/v1/embeddings", b"{}",
                               {"Origin": "http://notes.example", "Content-Type": "application/json"})
        assert status == 404 and body["error"]["code"] == "model_not_found"  # past the guard: no images model here
    finally:
        server.stop()
        backends.close()


def test_wildcards_without_a_key_are_refused_by_the_cli():
    result = run_app("serve", "--port", "0", "--cors", "*")
    assert result.returncode == 2 and "refusing --cors '*' without --api-key" in result.stderr
    assert "Traceback" not in result.stderr
    result = run_app("serve", "--port", "0", "--allow-host", "*")
    assert result.returncode == 2 and "refusing --allow-host '*' without --api-key" in result.stderr


def test_serve_allow_host_is_answered(starter_store):
    proc = subprocess.Popen([sys.executable, "-m", "app", "serve", "--port", "0", "--allow-host", "hearth.lan"],
                            cwd=ROOT, env=dict(os.environ), stderr=subprocess.PIPE, text=True)
    try:
        line = proc.stderr.readline()  # "Hearth serves on http://127.0.0.1:PORT/v1 ..."
        assert "Hearth serves on http://127.0.0.1:" in line, line
        port = int(line.split("127.0.0.1:")[1].split("/")[0])
        assert request(port, "GET", "/v1/models", headers={"Host": f"hearth.lan:{port}"})[0] == 200
        assert request(port, "GET", "/v1/models", headers={"Host": f"other.lan:{port}"})[0] == 421
    finally:
        proc.terminate()
        proc.wait(30)
        proc.stderr.close()


def test_an_origin_written_with_a_slash_or_capitals_gets_its_cors_headers(starter_store):
    """From the review: the guard let 'http://Notes.example/' through but the CORS layer compared it
    as written, so the page's reply carried no Access-Control-Allow-Origin and it could not read it."""
    from app.server.api import ServerOptions
    from app.server.backends import LocalBackends
    from app.server.run import HearthServer

    backends = LocalBackends(store=starter_store)
    server = HearthServer(backends, "127.0.0.1", 0, ServerOptions(cors=["http://Notes.example/"])).start()
    try:
        conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=30)
        conn.request("GET", "/v1/models", headers={"Origin": "http://notes.example"})
        resp = conn.getresponse()
        resp.read()
        assert resp.status == 200
        assert resp.getheader("access-control-allow-origin") == "http://notes.example"
        conn.close()
    finally:
        server.stop()
        backends.close()

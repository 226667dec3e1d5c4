"""`serve`'s safety rules, and the remote-servers file read as hostile. No model is loaded here."""

from __future__ import annotations

import http.client
import json
import os
import stat

import pytest

from tests.conftest import run_app


@pytest.fixture
def served(starter_store):
    from app.server.api import Limits, ServerOptions
    from app.server.backends import LocalBackends
    from app.server.run import HearthServer

    backends = LocalBackends(store=starter_store)
    options = ServerOptions(api_key="s3cret-key", cors=["http://notes.example"], limits=Limits(body_bytes=4096))
    server = HearthServer(backends, "127.0.0.1", 0, options).start()
    yield server
    server.stop()
    backends.close()


def request(server, method, path, body=None, headers=None):
    conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=30)
    try:
        conn.request(method, path, body=body, headers=headers or {})
        resp = conn.getresponse()
        return resp.status, dict(resp.getheaders()), resp.read()
    finally:
        conn.close()


AUTH = {"Authorization": "Bearer s3cret-key"}


def test_a_non_loopback_bind_without_a_key_is_refused_with_the_reason():
    result = run_app("serve", "--host", "0.0.0.0", "--port", "0")
    assert result.returncode == 2
    assert "refusing to listen on 0.0.0.0 without --api-key" in result.stderr


def test_the_bind_rule():
    from app.core.jobs import InputError
    from app.server.run import check_bind, is_loopback

    assert is_loopback("127.0.0.1") and is_loopback("::1") and is_loopback("localhost") and is_loopback("127.9.0.1")
    assert not is_loopback("0.0.0.0") and not is_loopback("192.168.1.4") and not is_loopback("my-box")
    check_bind("127.0.0.1", "")
    check_bind("0.0.0.0", "a-key")
    with pytest.raises(InputError, match="without --api-key"):
        check_bind("::", "")


def test_a_wrong_or_missing_key_gets_401_in_openai_shape_and_the_right_one_passes(served):
    import openai

    client = openai.OpenAI(base_url=served.url, api_key="wrong-key", max_retries=0)
    with pytest.raises(openai.AuthenticationError) as caught:
        client.models.list()
    assert caught.value.status_code == 401
    status, _, body = request(served, "GET", "/v1/models")
    assert status == 401 and json.loads(body)["error"]["code"] == "invalid_api_key"
    status, _, body = request(served, "GET", "/v1/models", headers={"Authorization": "Bearer s3cret-key-and-more"})
    assert status == 401
    ids = {m.id: m.kind for m in openai.OpenAI(base_url=served.url, api_key="s3cret-key").models.list()}
    assert ids == {"gemma-3-270m-q4_k_m": "chat", "whisper-base": "speech", "all-minilm-l6-v2": "embedding",
                   "resemblyzer-voice-encoder": "speaker"}


def test_bodies_over_the_limit_are_refused_by_length_and_by_count(served):
    big = json.dumps({"model": "x", "input": "a" * 10_000}).encode()
    status, _, body = request(served, "POST", "/v1/embeddings", big, {**AUTH, "Content-Type": "application/json"})
    assert status == 413 and json.loads(body)["error"]["code"] == "request_too_large"
    # Chunked, so no Content-Length warns the server: it counts.
    conn = http.client.HTTPConnection("127.0.0.1", served.port, timeout=30)
    conn.putrequest("POST", "/v1/chat/completions")
    for k, v in {**AUTH, "Content-Type": "application/json", "Transfer-Encoding": "chunked"}.items():
        conn.putheader(k, v)
    conn.endheaders()
    for _ in range(10):
        conn.send(b"400\r\n" + b"x" * 1024 + b"\r\n")
    conn.send(b"0\r\n\r\n")
    resp = conn.getresponse()
    assert resp.status == 413
    conn.close()


def test_no_request_names_a_file_on_the_server(served, starter_store):
    gguf = str(starter_store.path_of(starter_store.get("gemma-3-270m-q4_k_m")))
    body = json.dumps({"model": gguf, "messages": [{"role": "user", "content": "hi"}]}).encode()
    status, _, raw = request(served, "POST", "/v1/chat/completions", body, {**AUTH, "Content-Type": "application/json"})
    assert status == 404 and json.loads(raw)["error"]["code"] == "model_not_found"
    body = json.dumps({"query": "", "image": "/etc/passwd"}).encode()
    status, _, raw = request(served, "POST", "/v1/images/search", body, {**AUTH, "Content-Type": "application/json"})
    # No images model is installed here (test_server.py sends a path to one).
    assert status == 404 and json.loads(raw)["error"]["message"] == "no images model is installed"
    from app.core.jobs import InputError
    from app.server.backends import LocalBackends

    with pytest.raises(InputError, match="does not exist"):
        LocalBackends(store=starter_store).resolve(gguf, "chat")


def test_bad_requests_get_openai_errors(served):
    def post(path, payload):
        status, _, raw = request(served, "POST", path, json.dumps(payload).encode(),
                                 {**AUTH, "Content-Type": "application/json"})
        return status, json.loads(raw)["error"]

    status, err = post("/v1/chat/completions", {"model": "gemma-3-270m-q4_k_m", "messages": [
        {"role": "user", "content": [{"type": "text", "text": "what is this?"},
                                     {"type": "image_url", "image_url": {"url": "data:image/png;base64,AAAA"}}]}]})
    # A text-only model: refused, saying it cannot see (vision models take pictures: test_server_vision.py)
    assert status == 400 and err["code"] == "model_cannot_see" and "cannot see pictures" in err["message"]
    status, err = post("/v1/chat/completions", {"model": "gemma-3-270m-q4_k_m", "messages": [],})
    assert status == 400 and err["param"] == "messages"
    status, err = post("/v1/chat/completions", {"model": "gemma-3-270m-q4_k_m", "temperature": 7,
                                                "messages": [{"role": "user", "content": "hi"}]})
    assert status == 400 and err["param"] == "temperature"
    status, _, raw = request(served, "GET", "/v1/nothing-here", headers=AUTH)
    assert status == 404 and "error" in json.loads(raw)
    status, _, raw = request(served, "POST", "/v1/chat/completions", b"{not json",
                             {**AUTH, "Content-Type": "application/json"})
    assert status == 400 and "JSON" in json.loads(raw)["error"]["message"]


@pytest.mark.parametrize(("path", "body", "words"), [
    ("/v1/chat/completions", b"[" * 1500 + b"]" * 1500, "nested too deeply"),
    ("/v1/chat/completions", b'{"messages": ' + b"[" * 1400 + b"]" * 1400 + b"}", "nested too deeply"),
    ("/v1/chat/completions", json.dumps({"messages": [{"role": ["user"], "content": "hi"}]}).encode(), "role"),
    ("/v1/chat/completions", json.dumps({"messages": [{"role": {"a": 1}, "content": "hi"}]}).encode(), "role"),
])
def test_malformed_shapes_are_400s_in_words(served, path, body, words):
    """Each was a 500 with the exception's name: RecursionError, an unhashable role."""
    status, _, raw = request(served, "POST", path, body, {**AUTH, "Content-Type": "application/json"})
    error = json.loads(raw)["error"]
    assert status == 400 and error["type"] == "invalid_request_error", error
    assert words in error["message"] and "Error" not in error["message"]


def test_a_picture_of_the_wrong_shape_is_a_400_in_words(clip_store):
    """`image: [1, 2]` reached the data-URI check and was a 500 (TypeError); the model is never loaded."""
    from app.server.backends import LocalBackends
    from app.server.run import HearthServer

    backends = LocalBackends(store=clip_store)
    server = HearthServer(backends, "127.0.0.1", 0).start()
    try:
        for image in ([1, 2], {"url": "data:image/png;base64,AAAA"}, [None]):
            body = json.dumps({"model": "tiny-clip", "query": "cat", "image": image}).encode()
            status, _, raw = request(server, "POST", "/v1/images/search", body, {"Content-Type": "application/json"})
            error = json.loads(raw)["error"]
            assert status == 400 and error["param"] == "image" and "data URI" in error["message"], image
        assert backends.loaded() == {}
    finally:
        server.stop()
        backends.close()


def test_cors_lets_only_the_named_origin_in(served):
    pre = {"Origin": "http://notes.example", "Access-Control-Request-Method": "POST",
           "Access-Control-Request-Headers": "authorization,content-type"}
    status, headers, _ = request(served, "OPTIONS", "/v1/chat/completions", headers=pre)
    assert status == 200 and headers.get("access-control-allow-origin") == "http://notes.example"
    status, headers, _ = request(served, "OPTIONS", "/v1/chat/completions",
                                 headers={**pre, "Origin": "http://evil.example"})
    assert headers.get("access-control-allow-origin") != "http://evil.example"


# --- the remote-servers file -------------------------------------------------------------------


def test_servers_are_kept_private_and_keys_go_only_to_their_origin(hearth_home):
    from app.core.chat.servers import ServerList

    servers = ServerList()
    s = servers.add("gpu-box", "http://10.0.0.5:8080", "sk-123")
    assert s.base_url == "http://10.0.0.5:8080/v1"
    assert stat.S_IMODE(os.stat(servers.path).st_mode) == 0o600
    assert servers.get("gpu-box").key_for("http://10.0.0.5:8080/v1/chat/completions") == "sk-123"
    assert servers.get("gpu-box").key_for("http://10.0.0.6:8080/v1/chat/completions") == ""
    assert servers.get("gpu-box").key_for("https://10.0.0.5:8080/v1/models") == ""


def test_a_symlinked_servers_file_is_never_followed(hearth_home, tmp_path):
    """#22 item 19: loading chmod-ed the link's target to 0600."""
    from app.core import paths
    from app.core.chat.servers import ServerList

    target = tmp_path / "someone-elses.json"
    original = json.dumps({"schema_version": 1, "servers": [{"name": "box", "base_url": "http://10.0.0.5/v1"}]})
    target.write_text(original)
    os.chmod(target, 0o644)
    link = paths.servers_file()
    link.parent.mkdir(parents=True, exist_ok=True)
    link.symlink_to(target)
    servers = ServerList()
    loaded = servers.load()
    assert stat.S_IMODE(os.stat(target).st_mode) == 0o644, "the link's target was chmod-ed"
    assert loaded == {} and "symbolic link" in servers.problem
    listed = run_app("servers", "list")
    assert "symbolic link" in listed.stderr and stat.S_IMODE(os.stat(target).st_mode) == 0o644
    servers.add("new", "http://10.0.0.6", "sk-new")  # replaces the link itself with a private file
    assert not link.is_symlink() and stat.S_IMODE(os.lstat(link).st_mode) == 0o600
    assert set(servers.load()) == {"new"}
    assert target.read_text() == original and stat.S_IMODE(os.stat(target).st_mode) == 0o644


def test_saving_never_writes_through_a_link_at_a_temporary_name(hearth_home, tmp_path):
    """The temporary file had a guessable name (servers.json.PID.tmp) opened without O_EXCL."""
    from app.core.chat.servers import ServerList

    victim = tmp_path / "victim.txt"
    victim.write_text("precious")
    servers = ServerList()
    servers.path.parent.mkdir(parents=True, exist_ok=True)
    servers.path.with_name(f"{servers.path.name}.{os.getpid()}.tmp").symlink_to(victim)
    servers.add("box", "http://10.0.0.5", "sk-secret")
    assert victim.read_text() == "precious" and servers.get("box").api_key == "sk-secret"


def test_a_hostile_servers_file_is_read_entry_by_entry(hearth_home, caplog):
    from app.core.chat.servers import ServerList, split_remote

    servers = ServerList()
    servers.add("good", "https://llm.example/v1", "sk-good")
    data = json.loads(servers.path.read_text())
    moved = dict(data["servers"][0], name="moved", base_url="https://attacker.example/v1")  # key's origin differs
    data["servers"] += [
        moved,
        {"name": "../../etc", "base_url": "http://x/v1"},
        {"name": "userinfo", "base_url": "http://user:pw@host/v1"},
        {"name": "header", "base_url": "http://host/v1", "api_key": "k\r\nX-Evil: 1", "key_origin": "http://host:80"},
        {"name": "scheme", "base_url": "file:///etc/passwd"},
        "not an object",
    ]
    servers.path.write_text(json.dumps(data))
    os.chmod(servers.path, 0o644)
    loaded = servers.load()
    assert set(loaded) == {"good", "moved"}
    assert loaded["good"].api_key == "sk-good" and loaded["moved"].api_key == ""
    assert stat.S_IMODE(os.stat(servers.path).st_mode) == 0o600
    assert split_remote("good/org/model-7b") == (loaded["good"], "org/model-7b")
    assert split_remote("nobody/model") is None and split_remote("./good/x.gguf") is None
    servers.path.write_text("{garbage")
    assert servers.load() == {}

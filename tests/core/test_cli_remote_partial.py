"""`chat --json` with a model on a server that fails mid-reply: what came is printed, with the error.
The server is a loopback OpenAI-compatible one written here, which streams a few words and then fails."""

from __future__ import annotations

import http.server
import json
import threading

import pytest

from tests.conftest import run_app

WORDS = ["The lake ", "was calm ", "that morning"]


def _flaky_server(how: str, words: list[str]):
    class Flaky(http.server.BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, *args):
            pass

        def do_GET(self):  # noqa: N802 - GET /v1/models
            body = json.dumps({"object": "list", "data": [{"id": "m", "object": "model"}]}).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def do_POST(self):  # noqa: N802
            self.rfile.read(int(self.headers.get("Content-Length", 0)))
            self.send_response(200)
            self.send_header("Content-Type", "text/event-stream")
            self.send_header("Connection", "close")
            self.end_headers()
            for word in words:
                chunk = {"object": "chat.completion.chunk", "choices": [{"index": 0, "delta": {"content": word}}]}
                self.wfile.write(f"data: {json.dumps(chunk)}\n\n".encode())
                self.wfile.flush()
            if how != "cut":
                error = {"error": {"message": "the GPU fell over", "type": "server_error"}}
                self.wfile.write(f"data: {json.dumps(error)}\n\n".encode())
            self.wfile.flush()
            self.close_connection = True  # "cut": the connection ends with no [DONE]

    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Flaky)
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    return httpd


@pytest.mark.slow  # a subprocess of the app
@pytest.mark.parametrize("how,words", [("cut", WORDS), ("error event", WORDS), ("error before a word", [])])
def test_chat_json_prints_the_partial_reply_when_a_server_fails_mid_reply(how, words):
    from app.core.chat.servers import ServerList

    httpd = _flaky_server(how, words)
    try:
        ServerList().add("flaky", f"http://127.0.0.1:{httpd.server_address[1]}/v1", "")
        result = run_app("chat", "--model", "flaky/m", "Tell me about the lake", "--json")
    finally:
        httpd.shutdown()
    assert result.returncode == 1, result.stderr
    out = json.loads(result.stdout)
    assert out["text"] == "".join(words)
    assert "mid-reply" in out["error"] and "Traceback" not in result.stderr
    assert "error:" in result.stderr

"""`bench.py server`: the OpenAI-compatible API against the in-app engines on the same models.

`python -m app serve` runs in its own process, as a user runs it; the client is a plain
http.client reading SSE. Measured side by side in one run:
- decode tokens/s streamed through the API vs the in-app chat engine (goal >= 0.95);
- transcription through the API vs the CLI (`python -m app transcribe`) (goal <= 1.05), and
  vs the in-process transcriber with the model loaded (the API's own overhead);
- overhead to the first byte: a chat's first token through the API minus the in-app engine's,
  and a bare request's time to first byte (goal <= 5 ms);
- four clients at once: their total tokens/s vs one client's (goal >= 0.95);
- a client leaving mid-stream: how soon the next request is answered (the stop latency).
"""

from __future__ import annotations

import http.client
import json
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PROMPT = "Count from one to one thousand: 1, 2, 3, 4, 5, 6, 7, 8,"
SPEECH = ("The weather today is sunny and warm. Please remember to buy milk and bread on the way home. "
          "We will meet at the library at seven in the evening.")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Api:
    def __init__(self, port: int):
        self.port = port

    def stream(self, max_tokens: int, seed: int = 1, prompt: str = PROMPT, leave_after: int | None = None) -> dict:
        """Streams one reply; times the first byte, the first and last content, and counts tokens."""
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=600)
        body = {"model": "gemma-3-270m-q4_k_m", "messages": [{"role": "user", "content": prompt}],
                "max_tokens": max_tokens, "temperature": 0, "seed": seed, "stream": True,
                "stream_options": {"include_usage": True}}
        start = time.perf_counter()
        conn.request("POST", "/v1/chat/completions", json.dumps(body), {"Content-Type": "application/json"})
        resp = conn.getresponse()
        first_byte = time.perf_counter()
        first = last = None
        pieces, tokens = 0, 0
        while raw := resp.readline():
            line = raw.decode().strip()
            if not line.startswith("data: ") or line == "data: [DONE]":
                if line == "data: [DONE]":
                    break
                continue
            data = json.loads(line[6:])
            if data.get("usage"):
                tokens = data["usage"]["completion_tokens"]
            for choice in data.get("choices", []):
                if choice["delta"].get("content"):
                    last = time.perf_counter()
                    first = first or last
                    pieces += 1
            if leave_after is not None and pieces >= leave_after:
                conn.sock.shutdown(socket.SHUT_RDWR)
                break
        conn.close()
        end = time.perf_counter()
        return {"first_byte": first_byte - start, "first_token": (first or end) - start,
                "decode_s": (last - first) if first and last else 0.0, "tokens": tokens or pieces, "total": end - start}

    def ttfb(self, conn: http.client.HTTPConnection) -> float:
        start = time.perf_counter()
        conn.request("GET", "/v1/models")
        resp = conn.getresponse()
        resp.read(1)
        t = time.perf_counter() - start
        resp.read()
        return t

    def transcribe(self, wav: Path) -> float:
        boundary = uuid.uuid4().hex
        data = wav.read_bytes()
        body = (f"--{boundary}\r\nContent-Disposition: form-data; name=\"model\"\r\n\r\nwhisper-base\r\n"
                f"--{boundary}\r\nContent-Disposition: form-data; name=\"response_format\"\r\n\r\ntext\r\n"
                f"--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"a.wav\"\r\n"
                f"Content-Type: audio/wav\r\n\r\n").encode() + data + f"\r\n--{boundary}--\r\n".encode()
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=600)
        start = time.perf_counter()
        conn.request("POST", "/v1/audio/transcriptions", body,
                     {"Content-Type": f"multipart/form-data; boundary={boundary}"})
        resp = conn.getresponse()
        text = resp.read()
        elapsed = time.perf_counter() - start
        conn.close()
        if resp.status != 200 or not text.strip():
            raise RuntimeError(f"transcription failed: {resp.status} {text[:200]!r}")
        return elapsed


def _start_server(env: dict) -> tuple[subprocess.Popen, int]:
    port = _free_port()
    proc = subprocess.Popen([sys.executable, "-m", "app", "serve", "--port", str(port), "--ctx", "2048"],
                            cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    for line in proc.stderr:
        if "Hearth serves on" in line:
            threading.Thread(target=lambda: [None for _ in proc.stderr], daemon=True).start()
            return proc, port
    raise RuntimeError("serve did not start")


def _show(out: dict, key: str) -> None:
    """Each section as it completes (stderr): a long run on a busy machine keeps what it measured."""
    print(json.dumps({key: out[key]}), file=sys.stderr, flush=True)


def bench_server(args) -> dict:
    from app.core.chat.engine import LoadOptions, SamplingParams
    from app.core.chat.events import ChatStats, TextDelta
    from app.core.chat.remote import open_chat_engine
    from app.core.chat.templates import Message
    from app.core.models.starter import provision
    from app.core.models.store import ModelStore
    from app.core.speech.transcriber import Segment, Transcriber

    store = ModelStore()
    provision(store)
    gguf = store.path_of(store.get("gemma-3-270m-q4_k_m"))
    whisper = store.path_of(store.get("whisper-base"))
    runs = max(2, min(args.runs, 5))
    tokens = 64 if runs <= 2 else 128  # a short run for a busy machine
    env = dict(os.environ)
    proc, port = _start_server(env)
    api = Api(port)
    out: dict = {"suite": "server", "runs": runs}
    try:
        engine = open_chat_engine(gguf, LoadOptions(n_ctx=2048), "gemma-3-270m-q4_k_m")
        api.stream(8)  # loads the model in the server

        def in_app(max_tokens: int) -> dict:
            """Timed from the caller's side, as the API's client times its stream."""
            start = time.perf_counter()
            first = last = None
            stats = None
            for item in engine.stream([Message("user", PROMPT)],
                                      SamplingParams(temperature=0, max_tokens=max_tokens, seed=1)):
                if isinstance(item, ChatStats):
                    stats = item
                elif isinstance(item, TextDelta) and item.text:
                    last = time.perf_counter()
                    first = first or last
            end = time.perf_counter()
            return {"first_token": (first or end) - start, "decode_s": (last - first) if first and last else 0.0,
                    "tokens": stats.completion_tokens if stats else 0}

        in_app(8)
        # 1. decode rate, alternating so a busy machine's drift hits both alike.
        api_rates, app_rates, api_first, app_first = [], [], [], []
        for _ in range(runs):
            r = api.stream(tokens)
            api_rates.append((r["tokens"] - 1) / r["decode_s"])
            s = in_app(tokens)
            app_rates.append((s["tokens"] - 1) / s["decode_s"])
        a, b = statistics.median(api_rates), statistics.median(app_rates)
        out["decode"] = {"tokens": tokens, "api_tok_s": round(a, 1), "in_app_tok_s": round(b, 1),
                         "ratio": round(a / b, 3), "goal": "ratio >= 0.95", "met": a / b >= 0.95}
        # 3. overhead to the first token (same prompt, same cache state: each is a repeat).
        _show(out, "decode")
        for _ in range(runs + 1):
            api_first.append(api.stream(1)["first_token"])
            app_first.append(in_app(1)["first_token"])
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
        bare = [api.ttfb(conn) for _ in range(50)]
        conn.close()
        overhead = (statistics.median(api_first) - statistics.median(app_first)) * 1000
        out["first_byte"] = {"chat_first_token_api_ms": round(statistics.median(api_first) * 1000, 1),
                             "chat_first_token_in_app_ms": round(statistics.median(app_first) * 1000, 1),
                             "overhead_ms": round(overhead, 2),
                             "bare_request_ttfb_ms": round(statistics.median(bare) * 1000, 2),
                             "goal": "overhead <= 5 ms", "met": overhead <= 5}
        _show(out, "first_byte")
        engine.close()
        # 4. four clients at once vs one.
        one = api.stream(tokens // 2, seed=11)
        one_rate = one["tokens"] / one["total"]
        results: list[dict] = []
        start = time.perf_counter()
        threads = [threading.Thread(target=lambda i=i: results.append(api.stream(tokens // 2, seed=20 + i)))
                   for i in range(4)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        wall = time.perf_counter() - start
        four_rate = sum(r["tokens"] for r in results) / wall
        out["concurrent"] = {"one_client_tok_s": round(one_rate, 1), "four_clients_total_tok_s": round(four_rate, 1),
                             "ratio": round(four_rate / one_rate, 3), "goal": "ratio >= 0.95",
                             "met": four_rate / one_rate >= 0.95}
        _show(out, "concurrent")
        # 5. a client leaving: the next request waits only for the stop.
        normal = statistics.median(api.stream(1)["first_token"] for _ in range(3))
        api.stream(1500, leave_after=3)
        after = api.stream(1)["first_token"]
        out["disconnect"] = {"next_first_token_ms": round(after * 1000, 1),
                             "usual_first_token_ms": round(normal * 1000, 1),
                             "stop_latency_ms": round((after - normal) * 1000, 1), "goal": "<= 500 ms",
                             "met": after - normal <= 0.5}
        _show(out, "disconnect")
        # 2. transcription: API (model loaded) vs the CLI vs in-process.
        with tempfile.TemporaryDirectory() as tmp:
            wav = Path(tmp) / "speech.wav"
            subprocess.run(["espeak-ng", "-s", "150", "-w", str(wav), SPEECH], check=True)
            api.transcribe(wav)  # loads the model in the server
            transcriber = Transcriber(whisper, model_id="whisper-base")
            api_s, cli_s, local_s = [], [], []
            for _ in range(runs - 1):
                api_s.append(api.transcribe(wav))
                start = time.perf_counter()
                done = subprocess.run([sys.executable, "-m", "app", "transcribe", str(wav)], cwd=ROOT, env=env,
                                      capture_output=True, text=True)
                cli_s.append(time.perf_counter() - start)
                if done.returncode != 0:
                    raise RuntimeError(done.stderr)
                start = time.perf_counter()
                [s for s in transcriber.transcribe(wav) if isinstance(s, Segment)]
                local_s.append(time.perf_counter() - start)
        a, c, loc = statistics.median(api_s), statistics.median(cli_s), statistics.median(local_s)
        out["transcription"] = {"api_s": round(a, 2), "cli_s": round(c, 2), "in_process_s": round(loc, 2),
                                "ratio_api_vs_cli": round(a / c, 3), "ratio_api_vs_in_process": round(a / loc, 3),
                                "goal": "api/cli <= 1.05", "met": a / c <= 1.05}
    finally:
        proc.kill()
        proc.wait(30)
    return out

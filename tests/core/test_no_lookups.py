"""The README's privacy promise, measured: no engine looks up a name or opens a connection off this
machine (#22.4). Every process runs under ``strace -f``, which sees what native code does too
(onnxruntime's telemetry uploader is C++ and never goes through Python's socket module).

A DNS query counts as a lookup wherever it is sent (a resolver on 127.0.0.53 still asks the
world). The name-service cache's socket is not counted: torch asks it for the user's name (a
passwd lookup), and on this machine, which runs no nscd, a host lookup goes on to port 53 anyway.
"""

from __future__ import annotations

import http.client
import os
import re
import signal
import subprocess
import sys
import threading
import time
import uuid
from pathlib import Path

import pytest

from tests.conftest import ROOT, TINY_CLIP
from tests.helpers import photo_library, speak, wait_until

pytestmark = pytest.mark.slow  # every test here runs an engine under strace or a resolver

TRACE = ["strace", "-f", "-qq", "-s", "96", "-e", "trace=connect,sendto,sendmsg"]
_INET = re.compile(r'sin_port=htons\((\d+)\), sin_addr=inet_addr\("([^"]+)"\)')
_INET6 = re.compile(r'sin6_port=htons\((\d+)\).*?inet_pton\(AF_INET6, "([^"]+)"')
_LOOPBACK = re.compile(r"^(127\.|::1$|::ffff:127\.)")

# What onnxruntime 1.29+ does on its own once a session has run (faster-whisper's VAD is one):
# the control run below shows the window is long enough to catch it.
BARE_VAD = """
import time
import numpy as np
from faster_whisper.vad import get_speech_timestamps
get_speech_timestamps(np.zeros(16000, dtype=np.float32))
time.sleep(600)
"""


def lookups(trace: str) -> list[str]:
    """The lines of an strace log that ask about a name or reach past this machine."""
    found = []
    for line in trace.splitlines():
        for port, addr in _INET.findall(line) + _INET6.findall(line):
            if port == "53" or not _LOOPBACK.match(addr):
                found.append(line)
                break
    return found


def traced(log: Path, *args: str) -> list[str]:
    return [*TRACE, "-o", str(log), sys.executable, *args]


def _start_serve(log: Path) -> tuple[subprocess.Popen, int]:
    proc = subprocess.Popen(traced(log, "-m", "app", "serve", "--port", "0"), cwd=ROOT,
                            stderr=subprocess.PIPE, text=True, start_new_session=True)
    port = {}

    def read():
        for line in proc.stderr:
            m = re.search(r"serves on http://127\.0\.0\.1:(\d+)", line)
            if m:
                port["n"] = int(m.group(1))

    threading.Thread(target=read, daemon=True).start()
    wait_until(lambda: "n" in port or proc.poll() is not None, 120, "serve to start")
    assert "n" in port, "serve did not start"
    return proc, port["n"]


def _stop(proc: subprocess.Popen) -> None:
    """Ends strace and the process it traces (a signal to strace alone detaches and leaves it running)."""
    try:
        os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(30)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(30)
    except ProcessLookupError:
        pass


def _transcribe(port: int, wav: Path) -> str:
    boundary = uuid.uuid4().hex
    body = (f"--{boundary}\r\nContent-Disposition: form-data; name=\"model\"\r\n\r\nwhisper-base\r\n"
            f"--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"a.wav\"\r\n"
            "Content-Type: audio/wav\r\n\r\n").encode() + wav.read_bytes() + f"\r\n--{boundary}--\r\n".encode()
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=300)
    conn.request("POST", "/v1/audio/transcriptions", body,
                 {"Content-Type": f"multipart/form-data; boundary={boundary}"})
    resp = conn.getresponse()
    text = resp.read().decode()
    assert resp.status == 200, text
    return text


@pytest.mark.slow
def test_serve_transcribes_and_looks_up_nothing_while_bare_onnxruntime_phones_home(starter_store, tmp_path):
    wav = speak("The library opens at nine.", tmp_path / "a.wav")
    serve_log, bare_log = tmp_path / "serve.strace", tmp_path / "bare.strace"
    serve, port = _start_serve(serve_log)
    bare = None
    try:
        assert "library" in _transcribe(port, wav).lower()
        # The control: the same runtime, without Hearth's switches, in a process of its own
        # started now; the window lasts until it has looked up its telemetry host.
        bare_script = tmp_path / "bare_vad.py"
        bare_script.write_text(BARE_VAD)
        bare = subprocess.Popen(traced(bare_log, str(bare_script)), cwd=tmp_path, start_new_session=True,
                                env={k: v for k, v in os.environ.items() if k != "ORT_DISABLE_TELEMETRY"})
        wait_until(lambda: bare_log.exists() and lookups(bare_log.read_text(errors="replace")), 180,
                   "bare onnxruntime to look up its telemetry host (if it no longer does, this control "
                   "and ORT_DISABLE_TELEMETRY in app/core/offline.py may be revisited)")
        seen = time.monotonic()
        wait_until(lambda: time.monotonic() - seen > 3, 10)  # serve's session started before the control's
        assert "library" in _transcribe(port, wav).lower(), "serve still works"
    finally:
        for proc in (serve, bare):
            if proc is not None:
                _stop(proc)
    bare_lines = lookups(bare_log.read_text(errors="replace"))
    assert any("mobile" in line or "htons(53)" in line for line in bare_lines)
    assert lookups(serve_log.read_text(errors="replace")) == []


@pytest.mark.slow
def test_chat_and_photo_search_look_up_nothing(starter_store, clip_store, tmp_path):
    photo_library(tmp_path / "photos", per_class=1)
    runs = {
        "chat": ("-m", "app", "chat", "--model", "gemma-3-270m-q4_k_m", "--max-tokens", "4", "Hello"),
        "index": ("-m", "app", "search", "index", str(tmp_path / "photos"), "--model", "tiny-clip"),
        "query": ("-m", "app", "search", "query", "a red circle", "--top", "2"),
    }
    for name, args in runs.items():
        log = tmp_path / f"{name}.strace"
        res = subprocess.run(traced(log, *args), cwd=ROOT, capture_output=True, text=True, timeout=300)
        assert res.returncode == 0, (name, res.stderr)
        assert lookups(log.read_text(errors="replace")) == [], name
    assert TINY_CLIP.exists()

"""Builders for small, real test inputs."""

from __future__ import annotations

from pathlib import Path

import numpy as np


def wait_until(predicate, timeout: float = 30.0, what: str = "") -> None:
    """Waits for a condition outside Qt (another process, a file): polls it, fails at the timeout.
    Inside a Qt test use ``qtbot.waitUntil``; for this process's own threads, an Event."""
    import time

    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout} s waiting for {what or predicate}")
        time.sleep(0.02)


def nvidia_gpu_names() -> list[str]:
    """The NVIDIA GPUs as ``nvidia-smi`` itself lists them: the suite's own view of this
    machine, so tests hold with and without a GPU. Empty where it is absent or fails."""
    import shutil
    import subprocess

    exe = shutil.which("nvidia-smi")
    if not exe:
        return []
    try:
        run = subprocess.run([exe, "--query-gpu=name", "--format=csv,noheader"], capture_output=True, text=True,
                             timeout=60, check=False)
    except (OSError, subprocess.SubprocessError):
        return []
    return [line.strip() for line in run.stdout.splitlines() if line.strip()] if run.returncode == 0 else []


def make_gguf(path: Path, arch: str = "llama", chat_template: str | None = None, context: int = 2048) -> Path:
    """A tiny but well-formed GGUF file written with the gguf package."""
    import gguf

    writer = gguf.GGUFWriter(str(path), arch)
    writer.add_name("tiny-test")
    writer.add_context_length(context)
    writer.add_block_count(1)
    if chat_template is not None:
        writer.add_chat_template(chat_template)
    writer.add_tensor("token_embd.weight", np.zeros((4, 8), dtype=np.float32))
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()
    return path


def make_whisper_folder(path: Path) -> Path:
    path.mkdir(parents=True)
    (path / "model.bin").write_bytes(b"\x00" * 4096)
    (path / "config.json").write_text("{}")
    (path / "vocabulary.json").write_text("[]")
    return path


def gguf_with_template(src: Path, dst: Path, template: str) -> Path:
    """A copy of a real GGUF with ``tokenizer.chat_template`` added, spliced in binary."""
    import struct

    from app.core.models.gguf_header import _Reader

    with open(src, "rb") as fh:
        size = src.stat().st_size
        r = _Reader(fh, size)
        assert fh.read(4) == b"GGUF"
        version, n_tensors, n_kv = r.unpack("<I"), r.unpack("<Q"), r.unpack("<Q")
        kv_start = fh.tell()
        alignment = 32
        for _ in range(n_kv):
            key = r.string()
            vtype = r.unpack("<I")
            value = r.value(vtype)
            if key == "general.alignment":
                alignment = int(value)
            assert key != "tokenizer.chat_template", "source already has a template"
        kv_end = fh.tell()
        for _ in range(n_tensors):
            r.string(keep=False)
            n_dims = r.unpack("<I")
            fh.seek(8 * n_dims + 4 + 8, 1)
        ti_end = fh.tell()
        data_start = -(-ti_end // alignment) * alignment
        fh.seek(kv_start)
        kvs = fh.read(kv_end - kv_start)
        infos = fh.read(ti_end - kv_end)
        key = b"tokenizer.chat_template"
        raw = template.encode()
        new_kv = struct.pack("<Q", len(key)) + key + struct.pack("<I", 8) + struct.pack("<Q", len(raw)) + raw
        with open(dst, "wb") as out:
            out.write(b"GGUF" + struct.pack("<IQQ", version, n_tensors, n_kv + 1))
            out.write(kvs + new_kv + infos)
            out.write(b"\0" * (-out.tell() % alignment))
            fh.seek(data_start)
            while chunk := fh.read(1 << 22):
                out.write(chunk)
    return dst


SPEECH_TEXT = (
    "The weather today is sunny and warm. Please remember to buy milk and bread on the way home. "
    "We will meet at the library at seven in the evening."
)


def speak(text: str, path: Path, rate: int = 150) -> Path:
    """Real speech from espeak-ng (a WAV at 22.05 kHz)."""
    import subprocess

    subprocess.run(["espeak-ng", "-s", str(rate), "-w", str(path), text], check=True)
    return path


def encode_audio(wav: Path, out: Path, codec: str, container: str | None = None, video: bool = False) -> Path:
    """Re-encodes a WAV into another container with PyAV (mp3, ogg/vorbis, mp4/aac, ...)."""
    import av

    with av.open(str(wav)) as src, av.open(str(out), "w", format=container) as dst:
        astream = dst.add_stream(codec, rate=22050 if codec != "libopus" else 48000)
        astream.layout = "mono"
        astream.bit_rate = 128000  # a usual podcast rate; PyAV's default is far lower
        vstream = None
        if video:
            vstream = dst.add_stream("mpeg4", rate=10)
            vstream.width, vstream.height, vstream.pix_fmt = 64, 48, "yuv420p"
        resampler = av.AudioResampler(format=astream.codec_context.format.name, layout="mono",
                                      rate=astream.codec_context.sample_rate)
        seconds = 0.0
        for frame in src.decode(audio=0):
            frame.pts = None
            for f in resampler.resample(frame):
                for packet in astream.encode(f):
                    dst.mux(packet)
            seconds = max(seconds, float(frame.time or 0))
        for f in resampler.resample(None):
            for packet in astream.encode(f):
                dst.mux(packet)
        for packet in astream.encode(None):
            dst.mux(packet)
        if vstream is not None:
            for i in range(int(seconds * 10) + 1):
                img = av.VideoFrame.from_ndarray(np.full((48, 64, 3), i % 255, dtype=np.uint8), format="rgb24")
                for packet in vstream.encode(img):
                    dst.mux(packet)
            for packet in vstream.encode(None):
                dst.mux(packet)
    return out


def video_without_audio(out: Path) -> Path:
    import av

    with av.open(str(out), "w") as dst:
        v = dst.add_stream("mpeg4", rate=10)
        v.width, v.height, v.pix_fmt = 64, 48, "yuv420p"
        for i in range(20):
            img = av.VideoFrame.from_ndarray(np.full((48, 64, 3), i, dtype=np.uint8), format="rgb24")
            for packet in v.encode(img):
                dst.mux(packet)
        for packet in v.encode(None):
            dst.mux(packet)
    return out


def word_error_rate(reference: str, hypothesis: str) -> float:
    import re

    ref = re.findall(r"[a-z0-9']+", reference.lower())
    hyp = re.findall(r"[a-z0-9']+", hypothesis.lower())
    d = list(range(len(hyp) + 1))
    for i, r in enumerate(ref, 1):
        prev, d[0] = d[0], i
        for j, h in enumerate(hyp, 1):
            prev, d[j] = d[j], min(d[j] + 1, d[j - 1] + 1, prev + (r != h))
    return d[len(hyp)] / max(1, len(ref))


def shapes_module():
    """The tiny-CLIP trainer's picture renderer (scripts/train_tiny_clip.py)."""
    import importlib.util

    path = Path(__file__).resolve().parents[1] / "scripts" / "train_tiny_clip.py"
    spec = importlib.util.spec_from_file_location("train_tiny_clip", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def photo_library(root: Path, per_class: int = 4, seed: int = 7) -> dict[str, list[Path]]:
    """Pictures of coloured shapes in nested folders and several formats; class -> paths."""
    import random

    shapes = shapes_module()
    rng = random.Random(seed)
    formats = [("jpg", "JPEG"), ("png", "PNG"), ("webp", "WEBP"), ("bmp", "BMP")]
    out: dict[str, list[Path]] = {}
    for i, (colour, shape) in enumerate(shapes.classes()):
        folder = root / ("holiday 2024" if i % 2 else "Ünïcode fotos") / colour
        folder.mkdir(parents=True, exist_ok=True)
        for j in range(per_class):
            ext, fmt = formats[(i + j) % len(formats)]
            path = folder / f"{shape} {j}.{ext}"
            shapes.render(colour, shape, rng, size=96).save(path, fmt)
            out.setdefault(f"{colour} {shape}", []).append(path)
    return out


def drop_files(widget, paths, with_text: bool = False) -> bool:
    """What a file manager's drag does: enter, then drop, with file URLs. True if the drop was taken.
    ``with_text``: the URLs offered as plain text too, as Nautilus and Dolphin do."""
    from PySide6.QtCore import QMimeData, QPointF, Qt, QUrl
    from PySide6.QtGui import QDragEnterEvent, QDropEvent
    from PySide6.QtWidgets import QApplication

    mime = QMimeData()
    mime.setUrls([QUrl.fromLocalFile(str(p)) for p in paths])
    if with_text:
        mime.setText("\n".join(QUrl.fromLocalFile(str(p)).toString() for p in paths))
    centre = widget.rect().center()
    enter = QDragEnterEvent(centre, Qt.DropAction.CopyAction, mime, Qt.MouseButton.LeftButton,
                            Qt.KeyboardModifier.NoModifier)
    if not (QApplication.sendEvent(widget, enter) and enter.isAccepted()):
        return False
    drop = QDropEvent(QPointF(centre), Qt.DropAction.CopyAction, mime, Qt.MouseButton.LeftButton,
                      Qt.KeyboardModifier.NoModifier)
    return QApplication.sendEvent(widget, drop) and drop.isAccepted()


def run_inner_pytest(tmp_path: Path, source: str, plugins: list[str], env: dict | None = None) -> dict[str, str]:
    """Runs a small test file in a pytest of its own, with the suite's settings and the given
    conftests as plugins. Returns, per test, "" where it passed, else what its failures and
    errors said (a guard in a fixture fails a test as an error at its teardown)."""
    import os
    import subprocess
    import sys
    import xml.etree.ElementTree as ET

    root = Path(__file__).resolve().parents[1]
    test_file = tmp_path / "test_inner.py"
    test_file.write_text(source)
    report = tmp_path / "report.xml"
    args = [sys.executable, "-m", "pytest", str(test_file), "-c", str(root / "pyproject.toml"),
            "--rootdir", str(root), "-p", "no:cacheprovider", "-q", f"--junitxml={report}",
            "--basetemp", str(tmp_path / "inner-tmp")]
    for plugin in plugins:
        args += ["-p", plugin]
    full_env = dict(os.environ, PYTHONPATH=str(root), **(env or {}))
    run = subprocess.run(args, cwd=root, env=full_env, capture_output=True, text=True, timeout=300)
    assert report.exists(), run.stdout + run.stderr
    said: dict[str, str] = {}
    for case in ET.parse(report).getroot().iter("testcase"):
        text = " ".join(f"{c.tag}: {c.get('message', '')} {c.text or ''}" for c in case
                        if c.tag in ("failure", "error"))
        said[case.get("name")] = (said.get(case.get("name"), "") + " " + text).strip()
    return said


class HostileServer:
    """An HTTP server on loopback that answers each request by calling ``answer(server, conn, path)``,
    which writes raw bytes to the socket: any framing, any size, as slowly as it likes. ``stop`` is
    set when the test ends (an answer that drips checks it); ``sent`` counts the bytes written.
    Use it as a context manager."""

    def __init__(self, answer):
        import socket
        import threading

        self.answer = answer
        self.stop = threading.Event()
        self.answered = threading.Event()  # an answer has returned (the client let go, or it was done)
        self.sent = 0
        self.requests: list[str] = []
        self.bodies: list[bytes] = []  # each request's body, in order
        self.sock = socket.create_server(("127.0.0.1", 0))
        self.url = f"http://127.0.0.1:{self.sock.getsockname()[1]}/v1"
        threading.Thread(target=self._serve, name="hostile-server", daemon=True).start()

    def send(self, conn, data: bytes) -> bool:
        """Writes `data`; False once the client has gone."""
        try:
            conn.sendall(data)
        except OSError:
            return False
        self.sent += len(data)
        return True

    def _serve(self) -> None:
        import threading

        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            threading.Thread(target=self._one, args=(conn,), daemon=True).start()

    def _one(self, conn) -> None:
        with conn:
            head = b""
            while b"\r\n\r\n" not in head:
                got = conn.recv(65536)
                if not got:
                    return
                head += got
            head, _, body = head.partition(b"\r\n\r\n")
            lines = head.decode("latin-1").split("\r\n")
            length = next((int(v) for k, _, v in (h.partition(":") for h in lines[1:])
                           if k.strip().lower() == "content-length"), 0)
            while len(body) < length:
                got = conn.recv(65536)
                if not got:
                    return
                body += got
            path = lines[0].split(" ")[1]
            self.requests.append(path)
            self.bodies.append(body)
            try:
                self.answer(self, conn, path)
            finally:
                self.answered.set()

    def close(self) -> None:
        self.stop.set()
        self.sock.close()

    def __enter__(self) -> HostileServer:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

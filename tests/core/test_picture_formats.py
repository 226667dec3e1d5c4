"""A "picture" that is PostScript never reaches Ghostscript (issue 22, item 1).

Pillow opens any format it knows whatever a file is called, and decodes EPS by running `gs` on it: a
file holding `{ } loop` spins forever. Each way a picture enters Hearth is driven in its own process
with a `gs` first on PATH that records being started (and fails), so a test never leaves a spinning
Ghostscript behind, with or without the real one installed.
"""

from __future__ import annotations

import base64
import json
import os
import socket
import subprocess
import sys
import urllib.error
import urllib.request
from pathlib import Path

import pytest

from tests.conftest import ROOT, run_app
from tests.helpers import photo_library, wait_until

EPS = b"%!PS-Adobe-3.0 EPSF-3.0\n%%BoundingBox: 0 0 10 10\n{ } loop\n"

pytestmark = pytest.mark.skipif(sys.platform == "win32", reason="a shell script stands in for gs")


@pytest.fixture
def gs_started(tmp_path, monkeypatch) -> Path:
    """A file that exists once anything has started `gs` (the recorder comes first on PATH)."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    marker = tmp_path / "gs-started"
    gs = bin_dir / "gs"
    gs.write_text(f"#!/bin/sh\necho \"$@\" >> '{marker}'\nexit 1\n")
    gs.chmod(0o755)
    monkeypatch.setenv("PATH", f"{bin_dir}{os.pathsep}{os.environ['PATH']}")
    return marker


def test_indexing_skips_postscript_named_jpg_as_not_a_picture(clip_store, gs_started, tmp_path):
    photo_library(tmp_path / "photos", per_class=1)
    (tmp_path / "photos" / "holiday.jpg").write_bytes(EPS)
    result = run_app("search", "index", str(tmp_path / "photos"))
    assert result.returncode == 0, result.stderr
    assert "embedded 20" in result.stdout and "skipped 1: not a picture" in result.stdout, result.stdout
    assert not gs_started.exists(), "Ghostscript was started on a picture"


PREPARE = """
import sys
from pathlib import Path
from app.core.chat.pictures import PictureError, prepare
path = Path(sys.argv[1])
for source in (path, path.read_bytes()):  # a file attached, and bytes pasted or sent to the server
    try:
        prepare(source, "holiday.jpg")
        print("decoded")
    except PictureError as exc:
        print("refused:", exc)
"""


def test_chat_pictures_refuse_postscript_in_words(hearth_home, gs_started, tmp_path):
    eps = tmp_path / "holiday.jpg"
    eps.write_bytes(EPS)
    result = subprocess.run([sys.executable, "-c", PREPARE, str(eps)], cwd=ROOT, capture_output=True, text=True,
                            timeout=120)
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines() == ["refused: holiday.jpg cannot be used as a picture: not a picture"] * 2
    assert not gs_started.exists(), "Ghostscript was started on a picture"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _post(url: str, body: dict) -> tuple[int, dict]:
    req = urllib.request.Request(url, json.dumps(body).encode(), {"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(req, timeout=120) as resp:
            return resp.status, json.loads(resp.read())
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read())


def _listening(port: int) -> bool:
    with socket.socket() as s:
        return s.connect_ex(("127.0.0.1", port)) == 0


def test_the_api_server_refuses_postscript_sent_as_png(clip_store, gs_started):
    port = _free_port()
    proc = subprocess.Popen([sys.executable, "-m", "app", "serve", "--port", str(port)], cwd=ROOT,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        wait_until(lambda: _listening(port) or proc.poll() is not None, 120, "the server to listen")
        assert proc.poll() is None, "the server did not start"
        uri = "data:image/png;base64," + base64.b64encode(EPS).decode()
        base = f"http://127.0.0.1:{port}/v1"
        status, body = _post(f"{base}/embeddings", {"model": "tiny-clip", "input": [uri]})
        assert status == 400 and "not a picture" in body["error"]["message"], body
        status, body = _post(f"{base}/images/search", {"model": "tiny-clip", "image": uri})
        assert status == 400 and "not a picture" in body["error"]["message"], body
    finally:
        proc.terminate()
        proc.wait(30)
    assert not gs_started.exists(), "Ghostscript was started on a picture"


def test_every_format_the_allow_list_names_decodes_and_nothing_else(tmp_path):
    from PIL import Image

    from app.core.images import formats
    from app.core.images.scan import SkipImage, open_image

    for fmt, name in (("JPEG", "a.jpg"), ("PNG", "a.png"), ("WEBP", "a.webp"), ("GIF", "a.gif"), ("BMP", "a.bmp"),
                      ("TIFF", "a.tif")):
        Image.new("RGB", (40, 30), (10, 200, 30)).save(tmp_path / name, fmt)
        assert formats.identify(str(tmp_path / name)) == fmt
        assert open_image(str(tmp_path / name)).size == (40, 30)
    Image.new("RGB", (40, 30)).save(tmp_path / "pdf.jpg", "PDF")  # formats Pillow knows, called .jpg
    Image.new("RGB", (40, 30)).save(tmp_path / "icon.png", "ICO")
    Image.new("RGB", (40, 30)).save(tmp_path / "frame.png", "TGA")
    for name in ("pdf.jpg", "icon.png", "frame.png"):
        assert formats.identify(str(tmp_path / name)) is None
        with pytest.raises(SkipImage, match="not a picture"):
            open_image(str(tmp_path / name))


def test_a_requests_decode_clock_starts_at_its_first_picture_not_while_it_waits_for_the_model():
    """From the review: a request queued behind two minutes of indexing got 'took longer than 60 s to
    decode' before any picture was decoded."""
    import time

    from app.core.images.scan import RequestBudget, SkipImage

    budget = RequestBudget(10**9, 0.05)
    time.sleep(0.1)  # queued behind other work: longer than the whole budget
    budget.charge(100)  # the first picture: the clock starts here
    time.sleep(0.1)
    with pytest.raises(SkipImage, match="longer than"):
        budget.charge(100)

"""Suite-wide fixtures: a private HEARTH_HOME per test, the socket guard, starter models."""

from __future__ import annotations

import ipaddress
import os
import socket
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")


# --- no network but loopback ------------------------------------------------------------
class NetworkBlockedError(RuntimeError):
    pass


def _is_loopback(address) -> bool:
    if isinstance(address, (str, bytes)):  # AF_UNIX path
        return True
    host = address[0]
    if host in ("localhost", "", None):
        return True
    try:
        return ipaddress.ip_address(host.split("%")[0]).is_loopback
    except ValueError:
        return False  # a host name: would need DNS, which is not loopback


_real_connect = socket.socket.connect
_real_connect_ex = socket.socket.connect_ex


def _guarded_connect(self, address):
    if not _is_loopback(address):
        raise NetworkBlockedError(f"test tried to open a non-loopback connection to {address!r}")
    return _real_connect(self, address)


def _guarded_connect_ex(self, address):
    if not _is_loopback(address):
        raise NetworkBlockedError(f"test tried to open a non-loopback connection to {address!r}")
    return _real_connect_ex(self, address)


socket.socket.connect = _guarded_connect
socket.socket.connect_ex = _guarded_connect_ex


# --- a private home for every test ------------------------------------------------------
@pytest.fixture(autouse=True)
def hearth_home(tmp_path, monkeypatch) -> Path:
    home = tmp_path / "hearth-home"
    home.mkdir()
    monkeypatch.setenv("HEARTH_HOME", str(home))
    return home


# --- starter models ---------------------------------------------------------------------
@pytest.fixture(scope="session")
def starter_home() -> Path:
    """The starter models, provisioned once (scripts/test does it before the suite)."""
    home = Path(os.environ.get("HEARTH_STARTER_HOME", ROOT / ".cache" / "starter-home")).resolve()
    saved = os.environ.get("HEARTH_HOME")
    os.environ["HEARTH_HOME"] = str(home)
    try:
        from app.core.models.starter import provision
        from app.core.models.store import ModelStore

        provision(ModelStore())
    finally:
        if saved is None:
            os.environ.pop("HEARTH_HOME", None)
        else:
            os.environ["HEARTH_HOME"] = saved
    return home


@pytest.fixture
def starter_store(starter_home, hearth_home):
    """This test's store, with the starter models registered in place (read-only)."""
    from app.core.models.store import ModelStore

    source = ModelStore(starter_home / "data" / "models")
    store = ModelStore()
    entries = {}
    for entry in source.list():
        entry.path = str(source.path_of(entry))  # absolute: used where it lies
        entries[entry.id] = entry
    store._write(entries)
    return store


def run_app(*args: str, env: dict | None = None, timeout: float = 120):
    """Runs `python -m app ARGS` in a subprocess with this test's HEARTH_HOME."""
    import subprocess

    full_env = dict(os.environ, **(env or {}))
    return subprocess.run(
        [sys.executable, "-m", "app", *args],
        cwd=ROOT,
        env=full_env,
        capture_output=True,
        text=True,
        timeout=timeout,
    )


@pytest.fixture(scope="session")
def gemma_path(starter_home) -> Path:
    return starter_home / "data" / "models" / "chat" / "gemma-3-270m-q4_k_m" / "gemma-3-270m-q4_k_m.gguf"


@pytest.fixture(scope="session")
def gemma(gemma_path):
    """One loaded starter model for the engine tests (loading takes about a second)."""
    from app.core.chat.engine import LoadOptions, load_chat_model

    engine = load_chat_model(gemma_path, LoadOptions(n_ctx=2048), "gemma-3-270m-q4_k_m")
    yield engine
    engine.close()


@pytest.fixture
def hub():
    from tests.hub_server import Hub

    server = Hub()
    yield server
    server.close()


@pytest.fixture(scope="session")
def whisper_dir(starter_home) -> Path:
    return starter_home / "data" / "models" / "speech" / "whisper-base" / "whisper-base"


@pytest.fixture(scope="session")
def transcriber(whisper_dir):
    from app.core.speech.transcriber import Transcriber

    return Transcriber(whisper_dir, model_id="whisper-base")


@pytest.fixture(scope="session")
def speech_wav(tmp_path_factory) -> Path:
    from tests.helpers import SPEECH_TEXT, speak

    return speak(SPEECH_TEXT, tmp_path_factory.mktemp("speech") / "speech.wav")


TINY_CLIP = ROOT / "tests" / "fixtures" / "tiny-clip"


@pytest.fixture
def clip_store(hearth_home):
    """The tiny CLIP, imported into this test's store as a hub-style folder (linked)."""
    from app.core.models.store import ModelStore
    from app.core.settings import load_settings, save_settings

    store = ModelStore()
    store.import_path(TINY_CLIP, "images", "tiny-clip", mode="link")
    settings = load_settings()
    settings.default_models["images"] = "tiny-clip"
    save_settings(settings)
    return store


@pytest.fixture
def clip_encoder(clip_store):
    from app.core.images.encoder import ImageEncoder

    return ImageEncoder(TINY_CLIP, model_id="tiny-clip")

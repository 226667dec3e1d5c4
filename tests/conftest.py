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


# --- a private home for every test, and a guard on the real one ----------------------------
def _user_dirs() -> list[Path]:
    """Where Hearth's folders would go without HEARTH_HOME, as platformdirs says now."""
    from platformdirs import PlatformDirs

    from app.core.paths import APP_AUTHOR, APP_NAME

    dirs = PlatformDirs(APP_NAME, APP_AUTHOR, roaming=False)
    return [Path(d) for d in (dirs.user_data_dir, dirs.user_config_dir, dirs.user_cache_dir,
                              dirs.user_state_dir, dirs.user_log_dir)]


REAL_USER_DIRS = _user_dirs()  # read before any test moves HOME


class RealHomeWriteError(RuntimeError):
    pass


# An audit hook sees every write this process makes, whichever module built the path and
# whenever (a path kept from import time escapes HOME's move). It refuses a write into Hearth's
# real user folders and remembers it, so the test fails even where the app catches the error.
# (A snapshot of those folders would also see other programs of this user, on a shared machine.)
_REAL_DIRS = tuple(os.path.abspath(d) for d in REAL_USER_DIRS)
_WRITE_FLAGS = os.O_WRONLY | os.O_RDWR | os.O_CREAT | os.O_TRUNC | os.O_APPEND
_WRITE_EVENTS = frozenset({
    "open", "os.mkdir", "os.rename", "os.remove", "os.rmdir", "os.link", "os.symlink", "os.truncate",
    "os.chmod", "os.chown", "os.utime", "shutil.rmtree", "shutil.copyfile", "shutil.copytree", "shutil.move",
    "sqlite3.connect",
})
real_home_writes: list[str] = []


def _in_real_dirs(path) -> bool:
    if path is None or isinstance(path, int):
        return False
    try:
        full = os.path.abspath(os.fsdecode(path))
    except (TypeError, ValueError):
        return False
    return any(full == d or full.startswith(d + os.sep) for d in _REAL_DIRS)


def _audit(event: str, args: tuple) -> None:
    if event not in _WRITE_EVENTS:
        return
    if event == "open":
        path, mode, flags = (tuple(args) + (None, None, 0))[:3]
        writes = any(c in mode for c in "wax+") if isinstance(mode, str) else bool((flags or 0) & _WRITE_FLAGS)
        targets = (path,) if writes else ()
    elif event in ("os.rename", "os.link", "os.symlink", "shutil.copyfile", "shutil.copytree", "shutil.move"):
        targets = tuple(args[:2])
    else:
        targets = tuple(args[:1])
    hit = [os.fsdecode(t) for t in targets if _in_real_dirs(t)]
    if hit:
        real_home_writes.append(f"{event} {hit}")
        raise RealHomeWriteError(f"a test tried to write to the real user folder: {event} {hit}")


sys.addaudithook(_audit)


@pytest.fixture(autouse=True)
def private_user_home(request, tmp_path, monkeypatch) -> Path:
    """HOME (and so platformdirs) points at a temp folder during each test. The test fails if
    it wrote into Hearth's folders in the real home (the audit hook above), or if anything it
    ran, a child process too, ignored HEARTH_HOME and built Hearth's platformdirs folders under
    the temp HOME. ``@pytest.mark.user_dirs`` marks a test that uses those folders on purpose."""
    fake = tmp_path / "user-home"
    fake.mkdir()
    monkeypatch.setenv("HOME", str(fake))
    for var in ("XDG_DATA_HOME", "XDG_CONFIG_HOME", "XDG_CACHE_HOME", "XDG_STATE_HOME"):
        monkeypatch.delenv(var, raising=False)
    real_home_writes.clear()
    yield fake
    assert not real_home_writes, f"the test wrote to the real home folder: {real_home_writes[:10]}"
    if request.node.get_closest_marker("user_dirs") is None:
        bypassed = [str(d) for d in _user_dirs() if d.exists()]
        assert not bypassed, f"something ignored HEARTH_HOME and wrote to the user folders: {bypassed}"


@pytest.fixture(autouse=True)
def hearth_home(private_user_home, tmp_path, monkeypatch) -> Path:
    home = tmp_path / "hearth-home"
    home.mkdir()
    monkeypatch.setenv("HEARTH_HOME", str(home))
    return home


# --- no thread left behind --------------------------------------------------------------
@pytest.fixture(autouse=True)
def no_thread_left_running():
    """A non-daemon Python thread that a test started must have ended by its teardown
    (a daemon thread cannot keep the process alive; session fixtures' threads came earlier).
    Runs its check after the test's other fixtures are torn down."""
    import threading

    before = set(threading.enumerate())
    yield
    left = [t for t in threading.enumerate() if t not in before and not t.daemon]
    for t in left:
        t.join(timeout=5)  # one that is already on its way out may finish its last lines
    running = [t.name for t in left if t.is_alive()]
    assert not running, f"the test left non-daemon threads running: {running}"


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
    from app.core.chat.engine import LoadOptions
    from app.core.chat.loading import load_chat_model

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


@pytest.fixture
def trash_folder(tmp_path, monkeypatch) -> Path:
    """The system trash for this test: send2trash's freedesktop trash under the test's XDG_DATA_HOME (the
    same device as the test's pictures). send2trash reads XDG_DATA_HOME once, at import: its copy is
    pointed here too, so a test never trashes into another test's folder."""
    import send2trash.plat_other as trash

    data = tmp_path / "xdg-data"
    data.mkdir()
    monkeypatch.setenv("XDG_DATA_HOME", str(data))
    monkeypatch.setattr(trash, "XDG_DATA_HOME", os.fsencode(data))
    monkeypatch.setattr(trash, "HOMETRASH_B", os.fsencode(data / "Trash"))
    monkeypatch.setattr(trash, "HOMETRASH", str(data / "Trash"))
    return data / "Trash" / "files"

"""One policy for saved JSON (#23), the one app.core.db keeps for databases.

For each file Hearth keeps as JSON: a file a newer Hearth wrote is read for what
this one understands and left byte for byte as it was, after reading and after a
save was tried, and the user is told once; a damaged file is set aside under a
name that says so and a notice names it; a valid file round-trips.
"""

import json
from pathlib import Path

import pytest

from app.core import paths
from app.core.chat.servers import ServerList
from app.core.jobs import HearthError
from app.core.models import speed
from app.core.models.queue import DownloadQueue, QueuedDownload
from app.core.models.store import ModelStore
from app.core.saved_json import take_notices
from app.core.settings import Settings, SettingsFile
from app.core.speech import transcripts
from app.core.speech.transcriber import Segment
from app.core.speech.transcripts import Transcript, TranscriptStore
from tests.conftest import run_app
from tests.helpers import make_gguf

TID = "ab" * 16  # a transcript id


@pytest.fixture(autouse=True)
def _no_stale_notices():
    take_notices()
    yield
    take_notices()


def _entry(model_id="kept") -> dict:
    return {"id": model_id, "kind": "chat", "path": f"chat/{model_id}/{model_id}.gguf", "size": 1,
            "sha256": "0" * 64, "source": "import", "format": "gguf"}


def _try(fn):
    """A refused save may be a sentence (HearthError) or a skip with a log line; never anything else."""
    try:
        fn()
    except HearthError as exc:
        assert "newer Hearth" in str(exc)


# Each kind: where its file is, what a newer Hearth wrote there, reading it as the app does
# (returns what was understood), and a save the app would make.
class SettingsKind:
    name = "settings.json"
    newer = {"schema_version": 99, "last_pane": "speech", "chat_context": 8192, "future": {"x": 1}}

    def path(self):
        return paths.settings_file()

    def read(self):
        return SettingsFile(self.path()).settings.last_pane

    understood = "speech"

    def save(self):
        SettingsFile(self.path()).save(Settings(last_pane="images"))

    def round_trip(self):
        SettingsFile(self.path()).save(Settings(last_pane="models", chat_context=2048))
        s = SettingsFile(self.path()).settings
        return (s.last_pane, s.chat_context) == ("models", 2048)


class ServersKind:
    name = "servers.json"
    newer = {"schema_version": 99, "servers": [{"name": "kept", "base_url": "http://127.0.0.1:9/v1"}],
             "future": True}

    def path(self):
        return paths.servers_file()

    def read(self):
        return sorted(ServerList().load())

    understood = ["kept"]

    def save(self):
        ServerList().add("added", "http://127.0.0.1:8/v1")

    def round_trip(self):
        ServerList().add("one", "http://127.0.0.1:7", "sk-1")
        server = ServerList().get("one")
        return (server.base_url, server.api_key) == ("http://127.0.0.1:7/v1", "sk-1")


class SpeedKind:
    name = "speed-calibration.json"
    newer = {"schema_version": 99, "chat": {"model": "m", "size": 100, "value": 5.0}, "future": 1}

    def path(self):
        return speed.calibration_file()

    def read(self):
        return speed.load_calibration().get("chat", {}).get("value")

    understood = 5.0

    def save(self):
        speed.record("speech", "w", 1000, 0.3)

    def round_trip(self):
        speed.record("images", "clip", 1000, 7.0)
        on_disk = json.loads(self.path().read_text())
        return speed.load_calibration()["images"]["value"] == 7.0 and on_disk["schema_version"] == speed.SCHEMA_VERSION


class QueueKind:
    name = "downloads.json"
    newer = {"schema_version": 99, "downloads": [{"model_id": "theirs", "kind": "chat", "state": "running"}]}

    def path(self):
        return DownloadQueue().path

    def read(self):
        return [i.model_id for i in DownloadQueue().recover()]

    understood = []  # a newer Hearth's downloads are its own: none is started here

    def save(self):
        DownloadQueue().put(QueuedDownload("mine", "chat"))

    def round_trip(self):
        DownloadQueue().put(QueuedDownload("mine", "chat", state="paused"))
        return [(i.model_id, i.state) for i in DownloadQueue().items()] == [("mine", "paused")]


class RegistryKind:
    name = "registry.json"
    newer = {"schema_version": 99, "models": [_entry()], "future": []}

    def path(self):
        return ModelStore().registry_path

    def read(self):
        return [e.id for e in ModelStore().list()]

    understood = ["kept"]  # read-only: listed, never changed

    def save(self):
        store = ModelStore()
        store.import_path(make_gguf(store.root.parent / "new.gguf"), "chat", "new")

    def round_trip(self):
        store = ModelStore()
        entry = store.import_path(make_gguf(store.root.parent / "t.gguf"), "chat", "t")
        return ModelStore().get("t") == entry


class TranscriptKind:
    name = f"{TID}.json"
    newer = {"schema_version": 99, "id": TID, "source": "a.wav", "status": "done", "created": 1.0,
             "segments": [{"start": 0, "end": 1, "text": "hello"}], "future": "x"}

    def path(self):
        return paths.data_dir() / "transcripts" / self.name

    def read(self):
        return [t.text() for t in TranscriptStore().list()]

    understood = ["hello"]

    def save(self):
        TranscriptStore().save(Transcript(TID, "a.wav", status="done", segments=[Segment(0, 1, "changed")]))

    def round_trip(self):
        store = TranscriptStore()
        t = store.new("b.wav")
        t.segments, t.status = [Segment(0.0, 1.5, "hi there")], "done"
        store.save(t)
        on_disk = json.loads(store._path(t.id).read_text())
        return ([x.to_dict() for x in TranscriptStore().list()] == [t.to_dict()]
                and on_disk["schema_version"] == transcripts.SCHEMA_VERSION)


KINDS = [SettingsKind(), ServersKind(), SpeedKind(), QueueKind(), RegistryKind(), TranscriptKind()]
IDS = [k.name.split(".")[0] if k is not KINDS[-1] else "transcript" for k in KINDS]


def _write(path: Path, content: str) -> bytes:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(content, encoding="utf-8")
    return path.read_bytes()


@pytest.mark.parametrize("kind", KINDS, ids=IDS)
def test_a_newer_file_is_read_kept_byte_identical_and_said_once(kind):
    path = kind.path()
    before = _write(path, json.dumps(kind.newer))
    assert kind.read() == kind.understood, "what this Hearth understands of it is used"
    assert path.read_bytes() == before, "reading changed it"
    _try(kind.save)
    _try(kind.save)
    assert kind.read() == kind.understood
    assert path.read_bytes() == before, "a save overwrote a newer Hearth's file"
    assert not list(path.parent.glob(f"{path.name}.*")), "nothing set aside or left behind"
    told = [n for n in take_notices() if path.name in n]
    assert len(told) == 1 and "newer Hearth" in told[0], told


@pytest.mark.parametrize("content", ["{not json", "[1, 2]", '{"schema_version": "2"}', "\xff\xfe"],
                         ids=["not-json", "not-object", "version-text", "not-utf8"])
@pytest.mark.parametrize("kind", KINDS, ids=IDS)
def test_a_damaged_file_is_set_aside_named_and_said(kind, content):
    path = kind.path()
    path.parent.mkdir(parents=True, exist_ok=True)
    before = content.encode("latin-1")
    path.write_bytes(before)
    kind.read()
    aside = sorted(path.parent.glob(f"{path.name}.invalid-*"))
    assert len(aside) == 1 and aside[0].read_bytes() == before, "set aside as it was, never deleted"
    notices = take_notices()
    assert len(notices) == 1 and aside[0].name in notices[0] and "invalid" in notices[0], notices
    kind.read()
    assert take_notices() == [], "said once"
    assert kind.round_trip(), "the app works on"


@pytest.mark.parametrize("kind", KINDS, ids=IDS)
def test_a_valid_file_round_trips_with_its_version(kind):
    assert kind.round_trip()
    assert take_notices() == []


def test_settings_a_newer_hearth_writes_while_this_one_runs_are_not_overwritten():
    owner = SettingsFile(paths.settings_file())
    assert owner.save(Settings(last_pane="images"))
    before = _write(paths.settings_file(), json.dumps({"schema_version": 99, "last_pane": "chat"}))
    assert owner.save(Settings(last_pane="speech")) is False
    assert paths.settings_file().read_bytes() == before
    assert len([n for n in take_notices() if "newer Hearth" in n]) == 1


def test_cli_servers_add_over_a_newer_list_is_refused_in_words_and_said_once():
    before = _write(paths.servers_file(), json.dumps(ServersKind.newer))
    res = run_app("servers", "add", "other", "http://127.0.0.1:8", "--no-check")
    assert res.returncode != 0 and "Traceback" not in res.stderr
    assert "error: no server was added or removed" in res.stderr and "newer Hearth" in res.stderr
    assert paths.servers_file().read_bytes() == before
    res = run_app("servers", "list")
    assert res.returncode == 0 and "kept" in res.stdout
    assert res.stderr.count("warning:") == 1 and "newer Hearth" in res.stderr


def test_cli_says_a_damaged_settings_file_was_set_aside():
    _write(paths.settings_file(), "{broken")
    res = run_app("models", "list")
    assert res.returncode == 0, res.stderr
    aside = sorted(paths.settings_file().parent.glob("settings.json.invalid-*"))
    assert len(aside) == 1 and aside[0].read_text() == "{broken"
    assert "warning: settings.json was invalid" in res.stderr and aside[0].name in res.stderr

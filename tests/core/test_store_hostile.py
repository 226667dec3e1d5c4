"""Hand-made registry and queue files (issue #15: 2, 3, 9, 12): hostile input stays inside.

Every file Hearth reads is checked: ids and kinds by the rule new ids pass, paths
resolved inside their folder before anything is removed, a file of the wrong
shape set aside (never deleted) and reported once.
"""

import json
import os
from pathlib import Path

import pytest

from app.core.jobs import ModelError
from app.core.models.queue import DownloadQueue, QueuedDownload
from app.core.models.records import take_notices
from app.core.models.store import ModelStore
from tests.conftest import run_app
from tests.helpers import make_gguf


def _entry(model_id="good", kind="chat", **kw) -> dict:
    return {"id": model_id, "kind": kind, "path": f"{kind}/{model_id}/{model_id}.gguf", "size": 1,
            "sha256": "0" * 64, "source": "import", "format": "gguf"} | kw


def _write_registry(store: ModelStore, data) -> str:
    text = data if isinstance(data, str) else json.dumps(data)
    store.registry_path.write_text(text, encoding="utf-8")
    return text


def _named(store: ModelStore, kind: str, model_id: str) -> Path:
    return Path(os.path.normpath(store.root / kind / model_id))


def _set_aside(folder, name: str) -> list:
    return sorted(folder.glob(f"{name}.invalid-*"))


@pytest.fixture(autouse=True)
def _no_stale_notices():
    take_notices()
    yield
    take_notices()


# --- 2: registry entries cannot reach outside the models folder -------------------------
@pytest.mark.parametrize("bad", [{"model_id": "../../victim"}, {"kind": "../..", "model_id": "victim"},
                                 {"model_id": "x", "path": "../../victim/x.gguf"}])
def test_a_registry_entry_that_is_a_path_is_refused_and_removes_nothing(bad, tmp_path):
    store = ModelStore()
    model_id = bad.pop("model_id")
    victim = _named(store, bad.get("kind", "chat"), model_id)  # what remove would have deleted
    victim.mkdir(parents=True)
    (victim / "keep.txt").write_text("mine")
    _write_registry(store, {"schema_version": 1, "models": [_entry(), _entry(model_id, **bad)]})
    assert [e.id for e in store.list()] == ["good"], "the bad entry is dropped, the good one kept"
    with pytest.raises(ModelError, match="no installed model"):
        store.remove(model_id)
    assert (victim / "keep.txt").read_text() == "mine"
    assert len(_set_aside(store.root, "registry.json")) == 1, "the file as it was is kept for the user"


def test_remove_refuses_a_folder_that_resolves_outside(tmp_path):
    """A kind folder that is a link out of the models folder: Delete (GUI or CLI) removes nothing there."""
    store = ModelStore()
    outside = tmp_path / "outside"
    (outside / "m").mkdir(parents=True)
    (outside / "m" / "keep.txt").write_text("mine")
    (store.root / "chat").symlink_to(outside, target_is_directory=True)
    _write_registry(store, {"schema_version": 1, "models": [_entry("m")]})
    with pytest.raises(ModelError, match="outside the models folder"):
        store.remove("m")
    assert (outside / "m" / "keep.txt").read_text() == "mine"
    assert store.get("m") is not None, "refused: still registered"


def test_cli_remove_of_a_hostile_entry_is_a_message_not_a_deletion(hearth_home):
    store = ModelStore()
    victim = _named(store, "chat", "../../victim")
    victim.mkdir(parents=True)
    _write_registry(store, {"schema_version": 1, "models": [_entry("../../victim")]})
    res = run_app("models", "remove", "../../victim")
    assert res.returncode == 1 and "no installed model" in res.stderr and "Traceback" not in res.stderr
    assert "registry.json was invalid" in res.stderr
    assert victim.is_dir()


# --- 9: a registry of the wrong shape is set aside; the store starts empty ----------------
@pytest.mark.parametrize("content", [
    "[]",
    '{"schema_version": 1, "models": "abc"}',
    '{"schema_version": 1, "models": [{"id": "a"}]}',
    json.dumps({"schema_version": 1, "models": [_entry(size="big")]}),
    json.dumps({"schema_version": 1, "models": [_entry(verified="yes")]}),
    json.dumps({"schema_version": "1", "models": []}),
    '{"schema_version": 1, "models": [42]}',
    "{not json",
])
def test_a_registry_of_the_wrong_shape_is_set_aside_and_reported_once(content):
    store = ModelStore()
    _write_registry(store, content)
    assert store.list() == [] and store.get("a") is None
    aside = _set_aside(store.root, "registry.json")
    assert len(aside) == 1 and aside[0].read_text(encoding="utf-8") == content, "set aside, never deleted"
    notices = take_notices()
    assert len(notices) == 1 and "registry.json was invalid" in notices[0] and aside[0].name in notices[0]
    assert ModelStore().list() == [] and take_notices() == [], "reported once"
    entry = store.import_path(make_gguf(store.root.parent / "t.gguf"), "chat", "t")
    assert ModelStore().get("t") == entry, "the store works on"


def test_cli_with_a_bad_registry_prints_a_message_not_a_traceback():
    store = ModelStore()
    _write_registry(store, "[]")
    res = run_app("models", "list")
    assert res.returncode == 0, res.stderr
    assert "Traceback" not in res.stderr
    assert "warning: registry.json was invalid" in res.stderr and "no models installed" in res.stdout


def test_a_newer_registry_is_read_only_not_set_aside():
    store = ModelStore()
    _write_registry(store, {"schema_version": 99, "models": [_entry()]})
    assert [e.id for e in store.list()] == ["good"], "read for what this Hearth understands"
    with pytest.raises(ModelError, match="newer Hearth"):
        store.remove("good")
    assert _set_aside(store.root, "registry.json") == []


# --- 3: downloads.json is validated like the registry ------------------------------------
def test_a_hostile_queue_entry_is_never_downloaded_at_start_up(hearth_home):
    q = DownloadQueue()
    good = {"model_id": "fine", "kind": "chat", "url": "https://example.org/fine.gguf", "state": "running",
            "error": "", "architecture": ""}
    bad = [
        good | {"model_id": "../../../x"},
        good | {"model_id": "k", "kind": "../x"},
        good | {"model_id": "u", "url": "http://10.255.255.1/m.gguf"},
        good | {"model_id": "s", "state": "exploding"},
        good | {"model_id": "t", "url": 5},
        ["not", "an", "object"],
    ]
    q.path.parent.mkdir(parents=True, exist_ok=True)
    q.path.write_text(json.dumps({"schema_version": 1, "downloads": [good, *bad]}), encoding="utf-8")
    assert [i.model_id for i in q.recover()] == ["fine"]
    assert [i.model_id for i in DownloadQueue().items()] == ["fine"]
    assert len(_set_aside(q.path.parent, "downloads.json")) == 1
    assert len(take_notices()) == 1


@pytest.mark.parametrize("content", ["[]", '{"downloads": {"a": 1}}', "nope"])
def test_a_queue_of_the_wrong_shape_is_set_aside(hearth_home, content):
    q = DownloadQueue()
    q.path.parent.mkdir(parents=True, exist_ok=True)
    q.path.write_text(content, encoding="utf-8")
    assert q.recover() == []
    assert [p.read_text() for p in _set_aside(q.path.parent, "downloads.json")] == [content]
    q.put(QueuedDownload("a", "chat"))
    assert [i.model_id for i in DownloadQueue().items()] == ["a"]


# --- 12: a GGUF's alignment of the wrong type is a clear error ----------------------------
@pytest.mark.parametrize("kind, value", [("float", 0.5), ("string", "thirty-two"), ("uint", 0), ("uint", 48)])
def test_a_gguf_with_a_bad_alignment_is_refused_clearly(tmp_path, kind, value):
    import gguf
    import numpy as np

    path = tmp_path / "odd.gguf"
    writer = gguf.GGUFWriter(str(path), "llama")
    {"float": writer.add_float32, "string": writer.add_string, "uint": writer.add_uint32}[kind](
        "general.alignment", value)
    writer.add_tensor("token_embd.weight", np.zeros((4, 8), dtype=np.float32))
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()
    with pytest.raises(ModelError, match="general.alignment"):
        ModelStore().import_path(path, "chat")
    assert ModelStore().list() == []


# --- #22.15: metadata llama.cpp accepts, and metadata no reader should recurse into ----------
def _raw_gguf(path: Path, kvs: list[bytes]) -> Path:
    """A GGUF v3 with no tensors and these raw key/value records (the gguf package cannot nest this deep)."""
    import struct

    def key(name: str) -> bytes:
        return struct.pack("<Q", len(name)) + name.encode()

    arch = key("general.architecture") + struct.pack("<I", 8) + key("llama")
    body = b"GGUF" + struct.pack("<IQQ", 3, 0, len(kvs) + 1) + arch + b"".join(kvs)
    path.write_bytes(body)
    return path


def test_a_gguf_with_arrays_nested_a_thousand_deep_is_refused_in_words(tmp_path):
    import struct

    nested = struct.pack("<I", 9) + (struct.pack("<IQ", 9, 1) * 1500) + struct.pack("<IQ", 4, 0)
    path = _raw_gguf(tmp_path / "deep.gguf", [struct.pack("<Q", 9) + b"deep.keys" + nested])
    with pytest.raises(ModelError, match="nested too deeply"):
        ModelStore().import_path(path, "chat")


def test_a_per_layer_head_count_kv_array_is_read_as_llama_cpp_reads_it(tmp_path):
    """OpenELM-style metadata: one KV head count per layer; a layer with 0 has no cache."""
    import gguf
    import numpy as np

    from app.core.models.fit import kv_cache_bytes
    from app.core.models.gguf_header import read_gguf

    path = tmp_path / "per-layer.gguf"
    writer = gguf.GGUFWriter(str(path), "llama")
    writer.add_block_count(4)
    writer.add_embedding_length(64)
    writer.add_head_count(4)
    writer.add_array("llama.attention.head_count_kv", [2, 2, 0, 4])
    writer.add_tensor("token_embd.weight", np.zeros((4, 8), dtype=np.float32))
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()
    info = read_gguf(path)
    assert info.arch_value("attention.head_count_kv") == (2, 2, 0, 4)
    # 8 KV heads over the layers, 16-wide keys and values, f16, 100 positions
    assert kv_cache_bytes(info, 100) == 100 * 8 * (16 + 16) * 2
    entry = ModelStore().import_path(path, "chat", "per-layer")
    assert ModelStore().get("per-layer") == entry


def test_a_registry_nested_past_the_parser_is_set_aside_not_a_crash():
    store = ModelStore()
    _write_registry(store, "[" * 100_000 + "]" * 100_000)
    assert store.list() == []
    assert len(_set_aside(store.root, "registry.json")) == 1
    assert "nested too deeply" in take_notices()[0]


# --- #22.17: a FIFO where a file should be never blocks ----------------------------------
def test_a_registry_that_is_a_fifo_is_an_error_in_words_not_a_hang():
    store = ModelStore()
    store.registry_path.parent.mkdir(parents=True, exist_ok=True)
    os.mkfifo(store.registry_path)
    res = run_app("models", "list", timeout=60)  # blocked on open(), the old code never returned
    assert res.returncode != 0 and "Traceback" not in res.stderr
    assert "not a regular file" in res.stderr


def test_models_import_of_a_fifo_projector_is_refused_not_a_hang(tmp_path):
    model = make_gguf(tmp_path / "m.gguf")
    fifo = tmp_path / "mmproj.gguf"
    os.mkfifo(fifo)
    res = run_app("models", "import", str(model), "--projector", str(fifo), timeout=60)
    assert res.returncode != 0 and "Traceback" not in res.stderr
    assert "not a regular file" in res.stderr
    assert ModelStore().list() == []


def test_a_gguf_claiming_billions_of_layers_is_refused_before_any_per_layer_list_is_built(tmp_path):
    """From the review: block_count 2**32 made the fit estimate build 32 GB of per-layer lists."""
    import struct

    from app.core.models.fit import kv_cache_bytes
    from app.core.models.gguf_header import read_gguf

    def key(name: str) -> bytes:
        return struct.pack("<Q", len(name)) + name.encode()

    path = _raw_gguf(tmp_path / "deep.gguf", [key("llama.block_count") + struct.pack("<IQ", 10, 2**32)])
    with pytest.raises(ModelError, match="corrupt"):
        kv_cache_bytes(read_gguf(path), 2048)

import json
import zipfile

import pytest

from app.core.jobs import ModelError
from app.core.models.gguf_header import read_gguf
from app.core.models.starter import GEMMA_SHA256, provision
from app.core.models.store import ModelStore
from tests.helpers import make_gguf, make_whisper_folder


def test_gguf_header_is_read(tmp_path):
    path = make_gguf(tmp_path / "t.gguf", arch="gemma3", chat_template="{{ messages }}", context=4096)
    info = read_gguf(path)
    assert info.architecture == "gemma3"
    assert info.context_length == 4096
    assert info.chat_template == "{{ messages }}"
    assert info.tensor_count == 1


def test_import_copy_list_verify_remove(tmp_path):
    src = make_gguf(tmp_path / "My Model.gguf")
    store = ModelStore()
    entry = store.import_path(src, "chat")
    assert entry.id == "my-model"
    assert src.exists(), "copy keeps the original"
    assert [e.id for e in store.list("chat")] == ["my-model"]
    assert store.list("speech") == []
    stored = store.path_of(entry)
    assert stored.is_file() and store.root in stored.parents
    assert store.verify("my-model")
    with open(stored, "r+b") as fh:  # one flipped byte
        fh.seek(-1, 2)
        last = fh.read(1)
        fh.seek(-1, 2)
        fh.write(bytes([last[0] ^ 0xFF]))
    assert not store.verify("my-model")
    store.remove("my-model")
    assert store.list() == [] and not stored.exists()


def test_import_move_and_link(tmp_path):
    store = ModelStore()
    moved = make_gguf(tmp_path / "a.gguf")
    store.import_path(moved, "chat", "a", mode="move")
    assert not moved.exists()
    linked = make_whisper_folder(tmp_path / "whisper-x")
    entry = store.import_path(linked, "speech", "w", mode="link")
    assert store.path_of(entry) == linked
    store.remove("w")
    assert linked.exists(), "removing a linked model never deletes the user's files"


def test_store_survives_reopen_and_refuses_duplicates(tmp_path):
    ModelStore().import_path(make_gguf(tmp_path / "a.gguf"), "chat", "a")
    store = ModelStore()
    assert store.get("a").kind == "chat"
    with pytest.raises(ModelError, match="already installed"):
        store.import_path(make_gguf(tmp_path / "b.gguf"), "chat", "a")


@pytest.mark.parametrize(
    "content, message",
    [
        (b"PK\x03\x04 definitely not gguf", "not a GGUF"),
        (b"GGUF\x03\x00\x00\x00\x01", "truncated"),
        (b"", "not a GGUF"),
    ],
)
def test_bad_gguf_is_refused_without_side_effects(tmp_path, content, message):
    bad = tmp_path / "bad.gguf"
    bad.write_bytes(content)
    store = ModelStore()
    with pytest.raises(ModelError, match=message):
        store.import_path(bad, "chat")
    assert store.list() == []
    assert not (store.root / "chat").exists() or not any((store.root / "chat").iterdir())


def test_truncated_real_gguf_is_refused(tmp_path):
    good = make_gguf(tmp_path / "good.gguf", chat_template="x" * 5000)
    cut = tmp_path / "cut.gguf"
    cut.write_bytes(good.read_bytes()[:200])
    with pytest.raises(ModelError, match="truncated|corrupt"):
        ModelStore().import_path(cut, "chat")


def test_whisper_folder_validation(tmp_path):
    folder = make_whisper_folder(tmp_path / "w")
    (folder / "config.json").unlink()
    with pytest.raises(ModelError, match="missing config.json"):
        ModelStore().import_path(folder, "speech")


def test_pickled_code_in_checkpoint_is_refused(tmp_path):
    import pickle

    class Evil:
        def __reduce__(self):
            return (print, ("pwned",))

    pt = tmp_path / "evil.pt"
    with zipfile.ZipFile(pt, "w") as zf:
        zf.writestr("archive/data.pkl", pickle.dumps({"w": Evil()}, protocol=2))
    with pytest.raises(ModelError, match="carries code"):
        ModelStore().import_path(pt, "images", architecture="ViT-B-32")
    assert ModelStore().list() == []


def test_starter_models_are_provisioned_idempotently(starter_home, monkeypatch):
    monkeypatch.setenv("HEARTH_HOME", str(starter_home))
    store = ModelStore()
    assert provision(store) == [], "a second provisioning installs nothing"
    chat, speech = store.get("gemma-3-270m-q4_k_m"), store.get("whisper-base")
    assert chat.kind == "chat" and chat.sha256 == GEMMA_SHA256 and chat.architecture == "gemma3"
    assert speech.kind == "speech" and speech.format == "ctranslate2"
    folder = store.path_of(speech)
    assert {p.name for p in folder.iterdir()} >= {"model.bin", "config.json", "tokenizer.json"}
    assert (folder / "model.bin").stat().st_size == 94371840 + 50845767
    json.loads(store.registry_path.read_text())  # the registry is valid JSON


def test_provision_repairs_a_starter_whose_files_vanished(tmp_path):
    from app.core.models import starter

    calls = []

    def build(staging):
        calls.append(1)
        return make_gguf(staging / "tiny.gguf")

    fake = (starter.Starter("tiny", "chat", ("none",), build),)
    store = ModelStore()
    assert provision(store, fake) == ["tiny"]
    assert provision(store, fake) == []
    import shutil

    shutil.rmtree(store.path_of(store.get("tiny")).parent)
    assert provision(store, fake) == ["tiny"]
    assert len(calls) == 2 and store.verify("tiny")

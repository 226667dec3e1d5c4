import pytest

from app.core.jobs import ModelError
from app.core.models.hf_cache import discover
from app.core.models.queue import DownloadQueue, QueuedDownload
from app.core.models.store import ModelStore
from tests.helpers import make_gguf, make_whisper_folder


def _fake_hub_cache(root):
    """The layout huggingface_hub writes: blobs, refs, and snapshots that link to them."""
    repo = root / "models--org--tiny-GGUF"
    (repo / "blobs").mkdir(parents=True)
    blob = make_gguf(repo / "blobs" / "abc123")
    snap = repo / "snapshots" / "0123abcd"
    snap.mkdir(parents=True)
    (snap / "tiny-q4.gguf").symlink_to(blob)
    (repo / "refs").mkdir()
    (repo / "refs" / "main").write_text("0123abcd")
    broken = root / "models--org--half-GGUF" / "snapshots" / "77"
    broken.mkdir(parents=True)
    (broken / "broken.gguf").symlink_to(root / "models--org--half-GGUF" / "blobs" / "missing")  # blob gone
    whisper = root / "models--Systran--faster-whisper-tiny" / "snapshots" / "feed"
    make_whisper_folder(whisper)
    return root


def test_models_in_the_hugging_face_cache_are_found_and_used_in_place(tmp_path, monkeypatch):
    cache = _fake_hub_cache(tmp_path / "hub")
    monkeypatch.setenv("HF_HUB_CACHE", str(cache))
    found = sorted((d.kind, d.repo, d.path.name) for d in discover())
    assert found == [("chat", "org/tiny-GGUF", "tiny-q4.gguf"), ("speech", "Systran/faster-whisper-tiny", "feed")]
    chat = next(d for d in discover() if d.kind == "chat")
    entry = ModelStore().import_path(chat.path, "chat", "tiny", mode="link")
    assert ModelStore().path_of(entry) == chat.path.resolve(), "used in place, not copied"
    assert not (ModelStore().root / "chat").exists()


def test_the_hugging_face_cache_revision_is_the_one_refs_main_names(tmp_path):
    """An older snapshot touched last must not win over the revision refs/main points to."""
    import os

    repo = tmp_path / "hub" / "models--org--two-GGUF"
    (repo / "blobs").mkdir(parents=True)
    for rev, name in (("aaaa", "current-q4.gguf"), ("bbbb", "stale-q4.gguf")):
        (repo / "snapshots" / rev).mkdir(parents=True)
        (repo / "snapshots" / rev / name).symlink_to(make_gguf(repo / "blobs" / rev))
    (repo / "refs").mkdir()
    (repo / "refs" / "main").write_text("aaaa")
    os.utime(repo / "snapshots" / "aaaa", (1, 1))  # the current revision is the older folder
    os.utime(repo / "blobs" / "aaaa", (1, 1))
    found = [(d.kind, d.path.name) for d in discover(tmp_path / "hub")]
    assert found == [("chat", "current-q4.gguf")]


def test_queue_recovers_running_downloads(hearth_home):
    q = DownloadQueue()
    q.put(QueuedDownload("a", "chat", state="running"))
    q.put(QueuedDownload("b", "chat", state="paused"))
    q.put(QueuedDownload("c", "speech", state="failed", error="404"))
    assert [i.model_id for i in DownloadQueue().recover()] == ["a"]
    states = {i.model_id: i.state for i in DownloadQueue().items()}
    assert states == {"a": "queued", "b": "paused", "c": "failed"}


def test_moving_the_models_folder_keeps_the_store_consistent(tmp_path):
    store = ModelStore()
    store.import_path(make_gguf(tmp_path / "a.gguf"), "chat", "a")
    store.import_path(make_whisper_folder(tmp_path / "w"), "speech", "w")
    linked = store.import_path(make_gguf(tmp_path / "l.gguf"), "chat", "l", mode="link")
    new_root = tmp_path / "elsewhere" / "models"
    store.move_to(new_root)
    moved = ModelStore(new_root)
    assert {e.id for e in moved.list()} == {"a", "w", "l"}
    assert all(moved.verify(i) for i in ("a", "w", "l"))
    assert moved.path_of(moved.get("l")) == tmp_path / "l.gguf" == moved.path_of(linked)
    (tmp_path / "occupied").mkdir()
    (tmp_path / "occupied" / "x").write_text("x")
    with pytest.raises(ModelError, match="not empty"):
        moved.move_to(tmp_path / "occupied")

import hashlib
import json

import pytest

from app.core.jobs import ModelError
from app.core.models.catalog import load_catalog, validate_entry
from app.core.models.installer import install_entry
from app.core.models.store import ModelStore
from tests.conftest import run_app
from tests.helpers import make_gguf, make_whisper_folder


def test_the_shipped_catalog_is_valid_and_complete():
    entries = load_catalog()
    by_kind = {k: [e for e in entries if e.kind == k] for k in ("chat", "images", "speech")}
    assert len(by_kind["chat"]) >= 8 and len(by_kind["images"]) >= 4
    assert {"whisper-tiny", "whisper-base", "whisper-small", "whisper-medium", "whisper-large-v3",
            "whisper-large-v3-turbo"} <= {e.id for e in by_kind["speech"]}
    # Vision entries take what ggml-org publishes (SmolVLM 500M: Q8_0 only; moondream2: F16 only).
    assert all(e.quantization == "Q4_K_M" for e in by_kind["chat"] if not e.sees)
    assert all(e.files[-1].path.endswith(".safetensors") and e.files[0].path == "open_clip_config.json"
               for e in by_kind["images"])
    for e in entries:
        assert e.licence and e.languages and e.description and e.ram_gb > 0 and e.vram_gb > 0


@pytest.mark.parametrize("change, message", [
    (lambda r: r.pop("licence"), "missing licence"),
    (lambda r: r.update(kind="video"), "unknown kind"),
    (lambda r: r.update(size=1), "sum of its files"),
    (lambda r: r["source"]["files"][0].update(sha256="xyz"), "bad sha256"),
    (lambda r: r["source"]["files"][0].update(path="model.bin"), "needs a .gguf"),
])
def test_catalog_schema_errors_are_caught(change, message):
    raw = json.loads(json.dumps(_raw_chat()))
    change(raw)
    with pytest.raises(ModelError, match=message):
        validate_entry(raw)


def _raw_chat(path="tiny.gguf", size=100, sha=None):
    f = {"path": path, "size": size}
    if sha:
        f["sha256"] = sha
    return {"id": "tiny-chat", "kind": "chat", "name": "Tiny", "source": {"repo": "org/tiny", "files": [f]},
            "size": size, "licence": "mit", "languages": ["en"], "ram_gb": 1, "vram_gb": 1,
            "description": "A test model."}


def test_install_a_catalog_chat_model_from_the_hub(hub, tmp_path):
    data = make_gguf(tmp_path / "tiny.gguf").read_bytes()
    hub.add("org/tiny", "tiny.gguf", data)
    entry = validate_entry(_raw_chat(size=len(data)))
    store = ModelStore()
    seen = []
    installed = install_entry(entry, store, hub.endpoint, progress=seen.append)
    assert installed.id == "tiny-chat" and installed.verified and installed.source == "catalog:tiny-chat"
    assert installed.sha256 == hashlib.sha256(data).hexdigest()
    assert store.path_of(installed).read_bytes() == data
    assert not (store.root / ".downloads" / "tiny-chat").exists()
    assert seen[-1].done == len(data)


def test_install_a_catalog_whisper_folder(hub, tmp_path):
    folder = make_whisper_folder(tmp_path / "w")
    files = []
    for p in sorted(folder.iterdir()):
        hub.add("org/whisper", p.name, p.read_bytes())
        files.append({"path": p.name, "size": p.stat().st_size})
    raw = {"id": "whisper-test", "kind": "speech", "name": "W", "source": {"repo": "org/whisper", "files": files},
           "size": sum(f["size"] for f in files), "licence": "mit", "languages": ["en"], "ram_gb": 1,
           "vram_gb": 1, "description": "x"}
    installed = install_entry(validate_entry(raw), ModelStore(), hub.endpoint)
    folder = ModelStore().path_of(installed)
    assert {p.name for p in folder.iterdir()} == {"model.bin", "config.json", "vocabulary.json"}


def test_a_corrupt_catalog_download_installs_nothing(hub, tmp_path):
    data = make_gguf(tmp_path / "tiny.gguf").read_bytes()
    hub.add("org/tiny", "tiny.gguf", data)
    hub.faults.flip_byte = 40
    with pytest.raises(Exception, match="corrupt"):
        install_entry(validate_entry(_raw_chat(size=len(data))), ModelStore(), hub.endpoint)
    assert ModelStore().list() == []


def test_cli_download_url_unverified_and_list(hub, tmp_path):
    data = make_gguf(tmp_path / "direct.gguf").read_bytes()
    url = hub.add("org/direct", "direct.gguf", data)
    hub.faults.publish_hash = False  # a plain web server: no published hash
    result = run_app("models", "download", url, "--kind", "chat")
    assert result.returncode == 0, result.stderr
    assert "unverified" in result.stdout
    listed = json.loads(run_app("models", "list", "--json").stdout)
    assert listed[0]["id"] == "direct" and listed[0]["verified"] is False
    assert "(unverified)" in run_app("models", "list").stdout


def test_cli_download_catalog_errors(hub):
    result = run_app("models", "download", "no-such-model")
    assert result.returncode == 1 and "no catalog model" in result.stderr
    result = run_app("models", "download", "qwen2.5-0.5b-instruct-q4_k_m", "--endpoint", hub.endpoint)
    assert result.returncode == 1 and "not found" in result.stderr
    result = run_app("models", "download", "ftp://example.invalid/x.gguf", "--kind", "chat")
    assert result.returncode == 1 and "only https" in result.stderr


def test_list_available_marks_fit_and_installed(starter_store):
    rows = json.loads(run_app("models", "list", "--available", "--json").stdout)
    base = next(r for r in rows if r["id"] == "whisper-base")
    assert base["installed"] is True and base["fit"] in ("ram", "gpu")

"""Vision models (#12): catalog pairs, the store and import of a model with its projector, the fit."""

import hashlib
import json

import pytest

from app.core import hardware
from app.core.jobs import ModelError
from app.core.models.catalog import load_catalog, validate_entry
from app.core.models.fit import estimate_entry_fit
from app.core.models.installer import install_entry
from app.core.models.projector import check_pair, projector_info, split_pair
from app.core.models.store import ModelStore
from tests.conftest import run_app
from tests.vision import MMPROJ, MODEL, mismatched_projector

VISION_IDS = {
    "gemma-3-4b-it-vision-q4_k_m", "qwen2.5-vl-3b-instruct-q4_k_m", "qwen2.5-vl-7b-instruct-q4_k_m",
    "smolvlm2-2.2b-instruct-q4_k_m", "smolvlm-500m-instruct-q8_0", "internvl3-2b-instruct-q4_k_m",
    "moondream2-20250414-f16",
}


def test_the_catalog_pairs_each_vision_model_with_its_projector_from_ggml_org():
    vision = {e.id: e for e in load_catalog() if e.sees}
    assert set(vision) == VISION_IDS
    for e in vision.values():
        assert e.kind == "chat" and e.repo.startswith("ggml-org/")
        assert [f.role for f in e.files] == ["model", "projector"]
        assert "mmproj" in e.projector.path and e.model_file.path.endswith(".gguf")
        assert e.size == e.model_file.size + e.projector.size and e.image_tokens > 0


def _raw_vision(**change):
    raw = {"id": "tiny-vision", "kind": "chat", "name": "Tiny vision",
           "source": {"repo": "org/tiny-vision", "files": [
               {"path": MODEL.name, "size": MODEL.stat().st_size},
               {"path": MMPROJ.name, "size": MMPROJ.stat().st_size, "role": "projector"}]},
           "size": MODEL.stat().st_size + MMPROJ.stat().st_size, "licence": "mit", "languages": ["en"],
           "image_tokens": 16, "ram_gb": 1, "vram_gb": 1, "description": "A test vision model."}
    raw.update(change)
    return raw


@pytest.mark.parametrize("change, message", [
    (lambda r: r.pop("image_tokens"), "needs image_tokens"),
    (lambda r: r.update(kind="images", architecture="ViT-B-32"), "only a chat model carries a projector"),
    (lambda r: r["source"]["files"][0].update(role="projector"), "one model GGUF and one projector"),
    (lambda r: r["source"]["files"][1].update(role="vision"), "unknown file role"),
])
def test_vision_entry_schema_errors(change, message):
    raw = _raw_vision()
    change(raw)
    with pytest.raises(ModelError, match=message):
        validate_entry(raw)


def test_fit_counts_both_files_and_the_image_tokens():
    report = hardware.detect()
    vision = validate_entry(_raw_vision())
    blind = validate_entry(_raw_vision(image_tokens=1))
    text_raw = _raw_vision()
    text_raw["source"]["files"] = text_raw["source"]["files"][:1]
    text_raw["size"] = MODEL.stat().st_size
    del text_raw["image_tokens"]
    text = validate_entry(text_raw)
    need = estimate_entry_fit(vision, report).needed_bytes
    assert need > estimate_entry_fit(blind, report).needed_bytes > estimate_entry_fit(text, report).needed_bytes


def test_a_projector_is_recognised_by_its_header():
    info = projector_info(MMPROJ)
    assert (info.projector_type, info.embedding, info.image_size) == ("gemma3", 64, 64)
    with pytest.raises(ModelError, match="not a vision projector"):
        projector_info(MODEL)
    with pytest.raises(ModelError, match="is a projector, not a chat model"):
        check_pair(MMPROJ, MMPROJ)
    assert split_pair([str(MMPROJ), str(MODEL)]) == (str(MODEL), str(MMPROJ))
    with pytest.raises(ModelError, match="neither is"):
        split_pair([str(MODEL), str(MODEL)])


def test_import_stores_the_pair_as_one_model_that_sees(tmp_path):
    store = ModelStore()
    entry = store.import_path(MODEL, "chat", "tiny-vision", projector=MMPROJ)
    assert entry.sees and entry.size == MODEL.stat().st_size + MMPROJ.stat().st_size
    assert store.projector_of(entry).read_bytes() == MMPROJ.read_bytes()
    assert store.projector_of(entry).parent == store.path_of(entry).parent  # one folder, removed whole
    assert entry.projector_sha256 == hashlib.sha256(MMPROJ.read_bytes()).hexdigest()
    assert store.verify("tiny-vision")
    store.projector_of(entry).write_bytes(b"changed")
    assert not store.verify("tiny-vision")
    store.remove("tiny-vision")
    assert not (store.root / "chat" / "tiny-vision").exists()


def test_a_mismatched_projector_is_refused_at_import_with_the_reason(tmp_path):
    wrong = mismatched_projector(tmp_path / "mmproj-other.gguf")
    with pytest.raises(ModelError, match="embedding size is 128 but the model's is 64"):
        ModelStore().import_path(MODEL, "chat", "tiny-vision", projector=wrong)
    assert ModelStore().list() == [] and not (ModelStore().root / "chat" / "tiny-vision").exists()


def test_cli_import_with_projector_and_list_shows_which_models_see(tmp_path, gemma_path):
    result = run_app("models", "import", str(MODEL), "--projector", str(MMPROJ), "--id", "tiny-vision")
    assert result.returncode == 0, result.stderr
    assert "sees pictures" in result.stdout
    assert run_app("models", "import", str(gemma_path), "--kind", "chat", "--id", "blind",
                   "--mode", "link").returncode == 0
    listed = run_app("models", "list").stdout
    assert "tiny-vision" in listed and "sees pictures" in listed.split("tiny-vision")[1].splitlines()[0]
    assert "text only" in listed.split("blind")[1].splitlines()[0]
    rows = {r["id"]: r for r in json.loads(run_app("models", "list", "--json").stdout)}
    assert rows["tiny-vision"]["sees"] is True and rows["blind"]["sees"] is False
    wrong = mismatched_projector(tmp_path / "mmproj-other.gguf")
    result = run_app("models", "import", str(MODEL), "--projector", str(wrong), "--id", "other")
    assert result.returncode == 1 and "does not fit" in result.stderr and "embedding size" in result.stderr


def test_one_catalog_entry_downloads_verifies_and_registers_both_files(hub):
    hub.add("org/tiny-vision", MODEL.name, MODEL.read_bytes())
    hub.add("org/tiny-vision", MMPROJ.name, MMPROJ.read_bytes())
    store = ModelStore()
    installed = install_entry(validate_entry(_raw_vision()), store, hub.endpoint)
    assert installed.sees and installed.verified and [e.id for e in store.list()] == ["tiny-vision"]
    assert store.path_of(installed).read_bytes() == MODEL.read_bytes()
    assert store.projector_of(installed).read_bytes() == MMPROJ.read_bytes()
    assert not (store.root / ".downloads" / "tiny-vision").exists()


def test_a_catalog_pair_that_does_not_match_installs_nothing(hub, tmp_path):
    wrong = mismatched_projector(tmp_path / MMPROJ.name)
    hub.add("org/tiny-vision", MODEL.name, MODEL.read_bytes())
    hub.add("org/tiny-vision", MMPROJ.name, wrong.read_bytes())
    with pytest.raises(ModelError, match="does not fit"):
        install_entry(validate_entry(_raw_vision()), ModelStore(), hub.endpoint)
    assert ModelStore().list() == [] and not (ModelStore().root / ".downloads" / "tiny-vision").exists()

"""#24.1: where the set-up reaches the hub, the chat starts with an instruct model; offline, with the
PyPI base model, which is said to continue text wherever it is chosen."""

import hashlib

from app.core.models.catalog import find, validate_entry
from app.core.models.starter import INSTRUCT_STARTER, is_base_model, provision_instruct
from app.core.models.store import ModelStore
from app.core.settings import load_settings, save_settings
from tests.conftest import run_app
from tests.helpers import make_gguf


def _instruct_entry(hub, tmp_path):
    data = make_gguf(tmp_path / "instruct.gguf", arch="qwen2", chat_template="{{ messages[0].content }}").read_bytes()
    hub.add("org/instruct", "instruct.gguf", data)
    raw = {"id": "tiny-instruct", "kind": "chat", "name": "Tiny Instruct",
           "source": {"repo": "org/instruct", "files": [{"path": "instruct.gguf", "size": len(data)}]},
           "size": len(data), "licence": "mit", "languages": ["en"], "ram_gb": 1, "vram_gb": 1,
           "description": "A test model."}
    return validate_entry(raw), data


def test_the_instruct_starter_is_downloaded_verified_and_made_the_chat_default(hub, tmp_path, starter_store):
    entry, data = _instruct_entry(hub, tmp_path)
    settings = load_settings()
    settings.default_models["chat"] = "gemma-3-270m-q4_k_m"  # the base starter was the default
    save_settings(settings)
    assert provision_instruct(starter_store, hub.endpoint, entry=entry) == "installed"
    installed = starter_store.get("tiny-instruct")
    assert installed.verified and installed.sha256 == hashlib.sha256(data).hexdigest(), "the hub's sha256"
    assert load_settings().default_models["chat"] == "tiny-instruct"
    assert provision_instruct(starter_store, hub.endpoint, entry=entry) == "present", "idempotent"
    starter_store.remove("tiny-instruct")
    assert provision_instruct(starter_store, hub.endpoint, entry=entry) == "removed", "a removal is respected"
    assert starter_store.get("tiny-instruct") is None


def test_a_model_the_user_chose_stays_the_default(hub, tmp_path, starter_store):
    entry, _ = _instruct_entry(hub, tmp_path)
    starter_store.import_path(make_gguf(tmp_path / "mine.gguf"), "chat", "mine")
    settings = load_settings()
    settings.default_models["chat"] = "mine"
    save_settings(settings)
    provision_instruct(starter_store, hub.endpoint, entry=entry)
    assert load_settings().default_models["chat"] == "mine"


def test_offline_the_base_model_stays_and_the_cli_says_what_is_offered(starter_store, tmp_path):
    # a port nothing listens on: the hub cannot be reached, as on a machine without a network
    res = run_app("models", "provision", "--instruct", env={"HF_ENDPOINT": "http://127.0.0.1:9"})
    assert res.returncode == 0, res.stderr
    assert "offline" in res.stdout and INSTRUCT_STARTER in res.stdout and "continues text" in res.stdout
    assert ModelStore().get(INSTRUCT_STARTER) is None
    assert find(INSTRUCT_STARTER) is not None and find(INSTRUCT_STARTER).kind == "chat", "in the catalog"
    assert is_base_model("gemma-3-270m-q4_k_m") and not is_base_model(INSTRUCT_STARTER)


def test_the_base_starter_says_what_it_is_in_the_models_overview(starter_store):
    from app.core.models.overview import load_rows

    rows = {r.id: r for r in load_rows()}
    assert "continues text" in rows["gemma-3-270m-q4_k_m"].description
    assert rows["whisper-base"].description and "continues text" not in rows["whisper-base"].description

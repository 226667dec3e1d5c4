"""The catalog's rules: exact layouts for the entries users download, and a pinned hash only with its commit."""

import json

import pytest

from app.core.jobs import ModelError
from app.core.models.catalog import COMMIT, find, load_catalog, validate_entry
from app.core.resources import resources_dir

REV = "116f76234503685a98f572982177b11d44ec8ff1"


def _raw(path="m.gguf", size=10, sha=None, revision=None, **extra):
    f = {"path": path, "size": size}
    if sha:
        f["sha256"] = sha
    src = {"repo": "org/m", "files": [f]}
    if revision is not None:
        src["revision"] = revision
    return {"id": "m", "kind": "chat", "name": "M", "source": src, "size": size, "licence": "mit",
            "languages": ["en"], "ram_gb": 1, "vram_gb": 1, "description": "x", **extra}


def test_a_pinned_sha256_needs_the_commit_it_belongs_to():
    with pytest.raises(ModelError, match="needs the revision it belongs to"):
        validate_entry(_raw(sha="ab" * 32))  # no revision: main
    with pytest.raises(ModelError, match="needs the revision it belongs to"):
        validate_entry(_raw(sha="ab" * 32, revision="main"))
    with pytest.raises(ModelError, match="needs the revision it belongs to"):
        validate_entry(_raw(revision="main", variants=[{"path": "m-q8.gguf", "size": 3, "sha256": "cd" * 32}]))
    entry = validate_entry(_raw(sha="ab" * 32, revision=REV))
    assert entry.revision == REV and entry.files[0].sha256 == "ab" * 32
    assert validate_entry(_raw()).revision == "main"  # unpinned files may follow a branch


@pytest.mark.parametrize("path", ["../m.gguf", "/etc/m.gguf", "a/../../m.gguf", "a\\m.gguf", "", "./m.gguf",
                                  "C:m.gguf", "a//m.gguf"])
def test_file_paths_stay_inside_the_model_folder(path):
    with pytest.raises(ModelError, match="unsafe file path|needs a path"):
        validate_entry(_raw(path=path))


def test_a_nested_file_path_is_allowed():
    assert validate_entry(_raw(path="gguf/m.gguf")).files[0].path == "gguf/m.gguf"


@pytest.mark.parametrize("revision", ["../main", "refs/../x", "", 7, "a" * 39 + "/"])
def test_bad_revisions_are_refused(revision):
    with pytest.raises(ModelError, match="bad revision"):
        validate_entry(_raw(revision=revision))


@pytest.mark.parametrize("content", ["[]", '{"models": "abc"}', '{"models": [5]}'])
def test_a_catalog_of_the_wrong_shape_is_a_clear_error(tmp_path, content):
    path = tmp_path / "catalog.json"
    path.write_text(content, encoding="utf-8")
    with pytest.raises(ModelError, match="wrong shape|not an object"):
        load_catalog(path)


def test_the_five_corrected_entries_name_the_files_their_repos_hold():
    entries = load_catalog()
    names = {e.id: [f.path for f in e.files] for e in entries}
    for whisper in ("whisper-large-v3", "whisper-large-v3-turbo"):
        assert "vocabulary.json" in names[whisper] and "vocabulary.txt" not in names[whisper]
        assert "preprocessor_config.json" in names[whisper]
    assert names["clip-vit-l-14-laion2b"] == ["open_clip_config.json", "open_clip_pytorch_model.safetensors"]
    assert {"tokenizer.json", "tokenizer_config.json", "special_tokens_map.json"} <= set(names["siglip-vit-b-16"])
    assert find("siglip-vit-b-16", entries).files[0].size == 881
    assert find("whisper-large-v3-turbo", entries).repo == "mobiuslabsgmbh/faster-whisper-large-v3-turbo"
    # Every pin comes with its commit (the loader enforces it; this shows the shipped file has some).
    pinned = [e for e in entries if any(f.sha256 for f in e.files)]
    assert pinned and all(COMMIT.match(e.revision) for e in pinned)


def test_the_shipped_catalog_round_trips_through_its_own_validation():
    raw = json.loads((resources_dir() / "catalog.json").read_text(encoding="utf-8"))
    for item in raw["models"]:
        entry = validate_entry(item)
        assert entry.size == sum(f.size for f in entry.files)


@pytest.mark.parametrize("extra", [{"tools": "yes"}, {"tools": 1}, {"parameters": 7}])
def test_tools_and_parameters_have_their_types(extra):
    with pytest.raises(ModelError, match="tools is true or false|parameters is a text"):
        validate_entry(_raw(**extra))


def test_the_catalog_says_which_models_call_tools():
    entries = load_catalog()
    tools = {e.id for e in entries if e.tools}
    assert "qwen2.5-7b-instruct-q4_k_m" in tools and "llama-3.1-8b-instruct-q4_k_m" in tools
    assert all(e.kind == "chat" and e.projector is None for e in entries if e.tools)
    assert validate_entry(_raw(tools=True, parameters="7B")).tools

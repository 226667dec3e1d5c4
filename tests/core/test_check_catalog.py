"""scripts/check_catalog.py against the loopback hub: one entry that matches it, others that do not."""

import hashlib
import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = ROOT / "scripts" / "check_catalog.py"
REV = "0123456789abcdef0123456789abcdef01234567"


def _entry(model_id, kind, repo, files, revision="main", **extra):
    return {"id": model_id, "kind": kind, "name": model_id, "source": {"repo": repo, "revision": revision,
            "files": files}, "size": sum(f["size"] for f in files), "licence": "mit", "languages": ["en"],
            "ram_gb": 1, "vram_gb": 1, "description": "test", **extra}


def _run(hub, catalog: Path, *args):
    return subprocess.run([sys.executable, str(SCRIPT), "--hub", hub.endpoint, "--catalog", str(catalog), *args],
                          capture_output=True, text=True, timeout=120, env={"PATH": "/usr/bin:/bin"})


def _catalog(tmp_path, hub) -> Path:
    good = b"GGUF" + bytes(range(256)) * 40
    hub.add("org/good", "good.gguf", good, revision=REV)
    hub.add("org/good", "good-Q8.gguf", good * 2, revision=REV)
    hub.add("org/speech", "model.bin", b"x" * 5000)  # the catalog says 4000; config.json is not served
    hub.add("org/hash", "hash.gguf", b"GGUF-real", revision="f" * 40)
    models = [
        _entry("good-chat", "chat", "org/good", [
            {"path": "good.gguf", "size": len(good), "sha256": hashlib.sha256(good).hexdigest()}],
            revision=REV, variants=[{"quantization": "Q8_0", "path": "good-Q8.gguf", "size": 2 * len(good)}]),
        _entry("bad-speech", "speech", "org/speech", [
            {"path": "config.json", "size": 2300}, {"path": "model.bin", "size": 4000}]),
        _entry("bad-hash", "chat", "org/hash", [
            {"path": "hash.gguf", "size": 9, "sha256": "ab" * 32}], revision="f" * 40),
    ]
    path = tmp_path / "catalog.json"
    path.write_text(json.dumps({"schema_version": 1, "models": models}), encoding="utf-8")
    return path


def test_mismatches_are_reported_per_file_and_fail(hub, tmp_path):
    result = _run(hub, _catalog(tmp_path, hub))
    assert result.returncode == 1, result.stdout + result.stderr
    out = result.stdout
    assert "good-chat: ok" in out and "bad-speech: FAIL" in out and "bad-hash: FAIL" in out
    assert "config.json (2300 bytes): MISSING: not found on the hub (404)" in out
    assert "model.bin (4000 bytes): SIZE: catalog 4000, hub 5000 (+1000 bytes)" in out
    assert f"SHA256: catalog {'ab' * 32}, hub {hashlib.sha256(b'GGUF-real').hexdigest()}" in out
    assert "good-Q8.gguf (variant)" in out
    assert "2 ok, 3 failed" in out
    # The pinned revision is the one asked for, not the branch.
    assert any(p == f"/org/good/resolve/{REV}/good.gguf" for m, p, _ in hub.requests if m == "HEAD")
    assert all(m == "HEAD" for m, _, _ in hub.requests), "a check must not download anything"


def test_a_matching_catalog_passes(hub, tmp_path):
    result = _run(hub, _catalog(tmp_path, hub), "--only", "good-chat")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "2 ok, 0 failed" in result.stdout


def test_an_invalid_catalog_exits_2_before_asking_the_hub(hub, tmp_path):
    path = tmp_path / "catalog.json"
    # A pinned hash on a branch name: the hash would go stale when the branch moves.
    path.write_text(json.dumps({"models": [_entry("x", "chat", "org/x", [
        {"path": "x.gguf", "size": 3, "sha256": "ab" * 32}])]}), encoding="utf-8")
    result = _run(hub, path)
    assert result.returncode == 2 and "needs the revision it belongs to" in result.stderr
    assert hub.requests == []

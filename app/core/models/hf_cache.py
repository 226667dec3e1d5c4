"""Models already in the Hugging Face cache, usable in place (linked, not copied).

huggingface_hub's own ``scan_cache_dir`` reads the cache, so the revision used is
the one ``refs/main`` points to (what ``hf_hub_download`` would return), not the
snapshot folder touched last. A repo the scan reports as damaged (a snapshot link
whose blob is gone) is left out and logged.
"""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass
from pathlib import Path

log = logging.getLogger(__name__)
CLIP_FILES = ("open_clip_model.safetensors", "open_clip_pytorch_model.bin")


@dataclass
class Discovered:
    kind: str
    repo: str
    path: Path
    size: int


def hub_cache_dir() -> Path:
    if os.environ.get("HF_HUB_CACHE"):
        return Path(os.environ["HF_HUB_CACHE"]).expanduser()
    home = os.environ.get("HF_HOME")
    return (Path(home).expanduser() if home else Path.home() / ".cache" / "huggingface") / "hub"


def _current_revision(repo):
    """The revision refs/main names; else the only one, or the one modified last."""
    revisions = sorted(repo.revisions, key=lambda r: r.last_modified, reverse=True)
    for rev in revisions:
        if "main" in rev.refs:
            return rev
    return revisions[0] if revisions else None


def discover(cache: Path | None = None) -> list[Discovered]:
    from huggingface_hub import scan_cache_dir
    from huggingface_hub.errors import CacheNotFound

    cache = cache or hub_cache_dir()
    found: list[Discovered] = []
    if not cache.is_dir():
        return found
    try:
        info = scan_cache_dir(cache)
    except (CacheNotFound, OSError) as exc:
        log.warning("could not read the Hugging Face cache %s: %s", cache, exc)
        return found
    for warning in info.warnings:
        log.warning("Hugging Face cache: %s", warning)
    for repo in sorted(info.repos, key=lambda r: r.repo_id):
        rev = _current_revision(repo) if repo.repo_type == "model" else None
        if rev is None:
            continue
        snap = Path(rev.snapshot_path)
        files = {Path(f.file_path): f.size_on_disk for f in rev.files}
        for path in sorted(p for p in files if p.suffix == ".gguf"):
            found.append(Discovered("chat", repo.repo_id, path, files[path]))
        if (snap / "model.bin") in files and (snap / "config.json") in files:
            size = sum(s for p, s in files.items() if p.parent == snap)
            found.append(Discovered("speech", repo.repo_id, snap, size))
        for name in CLIP_FILES:
            if (snap / name) in files:
                found.append(Discovered("images", repo.repo_id, snap / name, files[snap / name]))
                break
    return found

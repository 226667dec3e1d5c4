"""Models already in the Hugging Face cache, usable in place (linked, not copied)."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

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


def discover(cache: Path | None = None) -> list[Discovered]:
    cache = cache or hub_cache_dir()
    found: list[Discovered] = []
    if not cache.is_dir():
        return found
    for repo_dir in sorted(cache.glob("models--*")):
        repo = repo_dir.name[len("models--"):].replace("--", "/")
        snapshots = sorted((repo_dir / "snapshots").glob("*"), key=lambda p: p.stat().st_mtime, reverse=True)
        if not snapshots:
            continue
        snap = snapshots[0]  # the newest revision
        for gguf in sorted(snap.rglob("*.gguf")):
            if gguf.exists():  # a dangling link is an unfinished download
                found.append(Discovered("chat", repo, gguf, gguf.stat().st_size))
        if (snap / "model.bin").exists() and (snap / "config.json").exists():
            size = sum(p.stat().st_size for p in snap.iterdir() if p.is_file())
            found.append(Discovered("speech", repo, snap, size))
        for name in CLIP_FILES:
            if (snap / name).exists():
                found.append(Discovered("images", repo, snap / name, (snap / name).stat().st_size))
                break
    return found

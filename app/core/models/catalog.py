"""The curated catalog of models that can be downloaded (resources/catalog.json)."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

from app.core.jobs import ModelError
from app.core.models.kinds import KINDS
from app.core.resources import resources_dir

REQUIRED = ("id", "kind", "name", "source", "size", "licence", "languages", "ram_gb", "vram_gb", "description")


@dataclass(frozen=True)
class CatalogFile:
    path: str
    size: int
    sha256: str | None = None


@dataclass(frozen=True)
class CatalogEntry:
    id: str
    kind: str
    name: str
    repo: str
    revision: str
    files: tuple[CatalogFile, ...]
    size: int
    licence: str
    languages: tuple[str, ...]
    ram_gb: float
    vram_gb: float
    description: str
    architecture: str = ""  # OpenCLIP model name (images)
    quantization: str = ""
    context: int = 0
    variants: tuple[dict, ...] = field(default_factory=tuple)


def validate_entry(raw: dict) -> CatalogEntry:
    missing = [k for k in REQUIRED if k not in raw]
    where = raw.get("id", "?")
    if missing:
        raise ModelError(f"catalog entry {where}: missing {', '.join(missing)}")
    if raw["kind"] not in KINDS:
        raise ModelError(f"catalog entry {where}: unknown kind {raw['kind']!r}")
    src = raw["source"]
    if not isinstance(src, dict) or not src.get("repo") or not src.get("files"):
        raise ModelError(f"catalog entry {where}: source needs repo and files")
    files = []
    for f in src["files"]:
        if not isinstance(f.get("path"), str) or not isinstance(f.get("size"), int) or f["size"] <= 0:
            raise ModelError(f"catalog entry {where}: each file needs a path and a size in bytes")
        sha = f.get("sha256")
        if sha is not None and (len(sha) != 64 or any(c not in "0123456789abcdef" for c in sha)):
            raise ModelError(f"catalog entry {where}: bad sha256 for {f['path']}")
        files.append(CatalogFile(f["path"], f["size"], sha))
    if raw["kind"] == "chat" and not any(f.path.endswith(".gguf") for f in files):
        raise ModelError(f"catalog entry {where}: a chat model needs a .gguf file")
    if raw["kind"] == "images" and not raw.get("architecture"):
        raise ModelError(f"catalog entry {where}: an images model needs its OpenCLIP architecture")
    if raw["kind"] == "images" and not all(f.path.endswith((".safetensors", ".bin", ".pt", ".json")) for f in files):
        raise ModelError(f"catalog entry {where}: unexpected checkpoint file type")
    if raw["kind"] == "speech" and not {"model.bin", "config.json"} <= {f.path for f in files}:
        raise ModelError(f"catalog entry {where}: a faster-whisper model needs model.bin and config.json")
    if not isinstance(raw["size"], int) or raw["size"] != sum(f.size for f in files):
        raise ModelError(f"catalog entry {where}: size must be the sum of its files' sizes")
    return CatalogEntry(
        id=raw["id"], kind=raw["kind"], name=raw["name"], repo=src["repo"], revision=src.get("revision", "main"),
        files=tuple(files), size=raw["size"], licence=raw["licence"], languages=tuple(raw["languages"]),
        ram_gb=float(raw["ram_gb"]), vram_gb=float(raw["vram_gb"]), description=raw["description"],
        architecture=raw.get("architecture", ""), quantization=raw.get("quantization", ""),
        context=int(raw.get("context", 0)), variants=tuple(raw.get("variants", ())),
    )


def load_catalog(path: Path | None = None) -> list[CatalogEntry]:
    path = path or resources_dir() / "catalog.json"
    try:
        data = json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise ModelError(f"the model catalog {path} is unreadable: {exc}") from exc
    entries = [validate_entry(raw) for raw in data.get("models", [])]
    ids = [e.id for e in entries]
    dupes = {i for i in ids if ids.count(i) > 1}
    if dupes:
        raise ModelError(f"the catalog lists these ids twice: {', '.join(sorted(dupes))}")
    return entries


def find(model_id: str, entries: list[CatalogEntry] | None = None) -> CatalogEntry | None:
    return next((e for e in (entries or load_catalog()) if e.id == model_id), None)

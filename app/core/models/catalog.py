"""The curated catalog of models that can be downloaded (resources/catalog.json)."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath

from app.core.jobs import ModelError
from app.core.models.kinds import KINDS
from app.core.resources import resources_dir

ROLES = ("model", "projector")
REQUIRED = ("id", "kind", "name", "source", "size", "licence", "languages", "ram_gb", "vram_gb", "description")
_SHA256 = re.compile(r"^[0-9a-f]{64}$")
COMMIT = re.compile(r"^[0-9a-f]{40}$")  # a full commit hash: the only revision a pinned sha256 may name
MAX_PREFIX = 300
_BRANCH = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$")


@dataclass(frozen=True)
class CatalogFile:
    path: str
    size: int
    sha256: str | None = None
    role: str = "model"  # "projector": a vision model's mmproj, installed with its GGUF as one model


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
    image_tokens: int = 0  # context one picture takes (vision models)
    parameters: str = ""  # "7B", as the model's makers count them
    tools: bool = False  # known to call tools well (function calling)
    # A text-embedding model's own markers: what it was trained to see before a question and before a
    # passage ("search_query: " / "search_document: " for nomic, "query: " / "passage: " for e5).
    query_prefix: str = ""
    document_prefix: str = ""
    size_verified: bool = True  # False: the sizes are as the hub's pages round them, not yet checked in bytes

    @property
    def projector(self) -> CatalogFile | None:
        return next((f for f in self.files if f.role == "projector"), None)

    @property
    def model_file(self) -> CatalogFile:
        return next(f for f in self.files if f.role == "model")

    @property
    def sees(self) -> bool:
        return self.projector is not None


def _file_path(where: str, path) -> str:
    """A file name inside the model's folder: relative, no '..', no backslash (it becomes a local path)."""
    parts = PurePosixPath(path).parts if isinstance(path, str) else ()
    if (not parts or path.startswith("/") or "\\" in path or ":" in path
            or any(p in (".", "..") for p in parts) or path != "/".join(parts)):
        raise ModelError(f"catalog entry {where}: unsafe file path {path!r}")
    return path


def _sha(where: str, path: str, sha) -> str | None:
    if sha is not None and (not isinstance(sha, str) or not _SHA256.match(sha)):
        raise ModelError(f"catalog entry {where}: bad sha256 for {path}")
    return sha


def validate_entry(raw: dict) -> CatalogEntry:
    if not isinstance(raw, dict):
        raise ModelError("catalog entry: not an object")
    missing = [k for k in REQUIRED if k not in raw]
    where = raw.get("id", "?")
    if missing:
        raise ModelError(f"catalog entry {where}: missing {', '.join(missing)}")
    if raw["kind"] not in KINDS:
        raise ModelError(f"catalog entry {where}: unknown kind {raw['kind']!r}")
    src = raw["source"]
    if not isinstance(src, dict) or not isinstance(src.get("repo"), str) or not src.get("repo") \
            or not isinstance(src.get("files"), list) or not src["files"]:
        raise ModelError(f"catalog entry {where}: source needs repo and files")
    revision = src.get("revision", "main")
    if not isinstance(revision, str) or not (COMMIT.match(revision) or _BRANCH.match(revision)):
        raise ModelError(f"catalog entry {where}: bad revision {revision!r}")
    files = []
    for f in src["files"]:
        if not isinstance(f, dict) or not isinstance(f.get("size"), int) or isinstance(f["size"], bool) \
                or f["size"] <= 0 or not isinstance(f.get("path"), str):
            raise ModelError(f"catalog entry {where}: each file needs a path and a size in bytes")
        path = _file_path(where, f["path"])
        role = f.get("role", "model")
        if role not in ROLES:
            raise ModelError(f"catalog entry {where}: unknown file role {role!r}")
        files.append(CatalogFile(path, f["size"], _sha(where, path, f.get("sha256")), role))
    variants = raw.get("variants", [])
    if not isinstance(variants, list):
        raise ModelError(f"catalog entry {where}: variants must be a list")
    for v in variants:
        if not isinstance(v, dict) or not isinstance(v.get("size"), int) or v["size"] <= 0:
            raise ModelError(f"catalog entry {where}: each variant needs a path and a size in bytes")
        _sha(where, _file_path(where, v.get("path")), v.get("sha256"))
    # The hub's files change under a branch name (bartowski re-uploads GGUFs with new hashes),
    # so a pinned hash is only true of the commit it was read from.
    pinned = any(f.sha256 for f in files) or any(v.get("sha256") for v in variants)
    if pinned and not COMMIT.match(revision):
        raise ModelError(
            f"catalog entry {where}: a pinned sha256 needs the revision it belongs to "
            f"(a 40-character commit hash, not {revision!r})"
        )
    if len({f.path for f in files}) != len(files):
        raise ModelError(f"catalog entry {where}: a file is listed twice")
    if raw["kind"] == "chat" and not any(f.path.endswith(".gguf") for f in files):
        raise ModelError(f"catalog entry {where}: a chat model needs a .gguf file")
    image_tokens = _check_projector(where, raw, files)
    if raw["kind"] == "images" and not raw.get("architecture"):
        raise ModelError(f"catalog entry {where}: an images model needs its OpenCLIP architecture")
    if raw["kind"] == "images" and not all(f.path.endswith((".safetensors", ".bin", ".pt", ".json")) for f in files):
        raise ModelError(f"catalog entry {where}: unexpected checkpoint file type")
    if raw["kind"] == "speech" and not {"model.bin", "config.json"} <= {f.path for f in files}:
        raise ModelError(f"catalog entry {where}: a faster-whisper model needs model.bin and config.json")
    if not isinstance(raw.get("tools", False), bool) or (raw.get("tools") and raw["kind"] != "chat"):
        raise ModelError(f"catalog entry {where}: tools is true or false, and only for a chat model")
    if not isinstance(raw.get("parameters", ""), str):
        raise ModelError(f"catalog entry {where}: parameters is a text such as \"7B\"")
    prefixes = {k: raw.get(k, "") for k in ("query_prefix", "document_prefix")}
    for key, value in prefixes.items():
        if not isinstance(value, str) or len(value) > MAX_PREFIX or (value and raw["kind"] != "embedding"):
            raise ModelError(f"catalog entry {where}: {key} is a text of at most {MAX_PREFIX} characters, "
                             "and only for an embedding model")
    if not isinstance(raw.get("size_verified", True), bool):
        raise ModelError(f"catalog entry {where}: size_verified is true or false")
    if not isinstance(raw["size"], int) or raw["size"] != sum(f.size for f in files):
        raise ModelError(f"catalog entry {where}: size must be the sum of its files' sizes")
    return CatalogEntry(
        id=raw["id"], kind=raw["kind"], name=raw["name"], repo=src["repo"], revision=revision,
        files=tuple(files), size=raw["size"], licence=raw["licence"], languages=tuple(raw["languages"]),
        ram_gb=float(raw["ram_gb"]), vram_gb=float(raw["vram_gb"]), description=raw["description"],
        architecture=raw.get("architecture", ""), quantization=raw.get("quantization", ""),
        context=int(raw.get("context", 0)), variants=tuple(variants), image_tokens=image_tokens,
        parameters=raw.get("parameters", ""), tools=raw.get("tools", False),
        query_prefix=prefixes["query_prefix"], document_prefix=prefixes["document_prefix"],
        size_verified=raw.get("size_verified", True),
    )


def _check_projector(where: str, raw: dict, files: list[CatalogFile]) -> int:
    """A vision entry: one chat GGUF and one mmproj GGUF, and the context a picture takes."""
    projectors = [f for f in files if f.role == "projector"]
    if not projectors:
        if "image_tokens" in raw:
            raise ModelError(f"catalog entry {where}: image_tokens without a projector file")
        return 0
    if raw["kind"] != "chat":
        raise ModelError(f"catalog entry {where}: only a chat model carries a projector")
    models = [f for f in files if f.role == "model"]
    if len(projectors) != 1 or len(models) != 1:
        raise ModelError(f"catalog entry {where}: a vision model is one model GGUF and one projector GGUF")
    if not (projectors[0].path.endswith(".gguf") and models[0].path.endswith(".gguf")):
        raise ModelError(f"catalog entry {where}: a vision model's files are both .gguf")
    tokens = raw.get("image_tokens")
    if not isinstance(tokens, int) or isinstance(tokens, bool) or not 0 < tokens <= 65536:
        raise ModelError(f"catalog entry {where}: a vision model needs image_tokens (the context one picture takes)")
    if any(v.get("role") == "projector" for v in raw.get("variants", [])):
        raise ModelError(f"catalog entry {where}: a variant replaces the model file, never the projector")
    return tokens


def load_catalog(path: Path | None = None) -> list[CatalogEntry]:
    path = path or resources_dir() / "catalog.json"
    try:
        data = json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise ModelError(f"the model catalog {path} is unreadable: {exc}") from exc
    if not isinstance(data, dict) or not isinstance(data.get("models", []), list):
        raise ModelError(f"the model catalog {path} has the wrong shape (want an object with a models list)")
    entries = [validate_entry(raw) for raw in data.get("models", [])]
    ids = [e.id for e in entries]
    dupes = {i for i in ids if ids.count(i) > 1}
    if dupes:
        raise ModelError(f"the catalog lists these ids twice: {', '.join(sorted(dupes))}")
    return entries


def find(model_id: str, entries: list[CatalogEntry] | None = None) -> CatalogEntry | None:
    return next((e for e in (entries or load_catalog()) if e.id == model_id), None)

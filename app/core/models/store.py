"""The registry of installed models, kept as versioned JSON in the models folder.

Paths inside the models folder are stored relative to it, so moving the folder
keeps the store consistent. Every import is validated before it is accepted,
and nothing reaches the registry until its files are in place.
"""

from __future__ import annotations

import logging
import os
import re
import shutil
import threading
import time
from dataclasses import asdict, dataclass
from pathlib import Path

from app.core import paths
from app.core.fileio import sha256_tree, tree_size
from app.core.jobs import ModelError
from app.core.models.kinds import KINDS
from app.core.models.records import check_id, check_kind, inside, relative_path_ok, set_aside, valid_id
from app.core.models.validate import clip_folder_of, validate
from app.core.saved_json import NewerFileError, check_writable, read_versioned, write_versioned
from app.core.settings import Settings, load_settings

log = logging.getLogger(__name__)

MODES = ("copy", "move", "link")
REGISTRY = "registry.json"
SCHEMA_VERSION = 1


@dataclass
class ModelEntry:
    id: str
    kind: str
    path: str  # relative to the models folder when inside it
    size: int
    sha256: str
    source: str  # "import", "starter:<package>", a catalog id, or a URL
    format: str  # "gguf", "ctranslate2", "open_clip"
    verified: bool = True  # False: no published hash to check against
    architecture: str = ""  # open_clip model name, GGUF general.architecture
    added: float = 0.0
    projector: str = ""  # a vision model's mmproj GGUF, stored beside the model (same rules as path)
    projector_sha256: str = ""

    @property
    def sees(self) -> bool:
        return bool(self.projector)


_REQUIRED = ("id", "kind", "path", "size", "sha256", "source", "format")
_TYPES: dict[str, type | tuple[type, ...]] = {
    "id": str, "kind": str, "path": str, "size": int, "sha256": str, "source": str, "format": str,
          "verified": bool, "architecture": str, "added": (int, float), "projector": str,
          "projector_sha256": str}


def _entry_from(record: object) -> ModelEntry:
    """One registry record, checked field by field; ValueError says what is wrong."""
    if not isinstance(record, dict):
        raise ValueError(f"an entry is a {type(record).__name__}, not an object")
    missing = [k for k in _REQUIRED if k not in record]
    if missing:
        raise ValueError(f"an entry lacks {', '.join(missing)}")
    for key, kind in _TYPES.items():
        value = record.get(key)
        if key in record and (not isinstance(value, kind) or (isinstance(value, bool) and kind is not bool)):
            raise ValueError(f"an entry's {key} is a {type(value).__name__}")
    if not valid_id(record["id"]):
        raise ValueError(f"bad id {record['id']!r}")
    if record["kind"] not in KINDS:
        raise ValueError(f"bad kind {record['kind']!r}")
    if not relative_path_ok(record["path"]):
        raise ValueError(f"the path of {record['id']} leaves the models folder")
    if record.get("projector") and (record.get("kind") != "chat" or not relative_path_ok(record["projector"])):
        raise ValueError(f"the projector of {record['id']} is not a chat model's file inside the models folder")
    return ModelEntry(**{k: record[k] for k in _TYPES if k in record})


def slugify(name: str) -> str:
    slug = re.sub(r"[^a-z0-9._-]+", "-", name.lower()).strip("-._")
    return slug[:100] or "model"


class ModelStore:
    _lock = threading.Lock()  # one writer per process; writes are atomic renames

    def __init__(self, root: Path | None = None, settings: Settings | None = None):
        # The process's settings unless handed others; read once per process, not per store.
        self.settings = settings or load_settings()
        self.root = Path(root) if root else paths.models_dir(self.settings.models_dir)
        self.root.mkdir(parents=True, exist_ok=True)

    # --- registry file -----------------------------------------------------------
    @property
    def registry_path(self) -> Path:
        return self.root / REGISTRY

    def _read(self) -> dict[str, ModelEntry]:
        """The entries; a registry a newer Hearth wrote is read for what this one understands, never changed."""
        path = self.registry_path
        got = read_versioned(path, SCHEMA_VERSION, "the model registry")
        if got.state == "unreadable":
            raise ModelError(got.note)
        if got.data is None:
            return {}
        data = got.data
        if not isinstance(data.get("models", []), list):
            if got.read_only:
                return {}
            set_aside(path, "not an object with a list of models")
            return {}
        entries: dict[str, ModelEntry] = {}
        problems = []
        for record in data.get("models", []):
            try:
                entry = _entry_from(record)
            except ValueError as exc:
                problems.append(str(exc))
                continue
            if entry.id in entries:
                problems.append(f"{entry.id} is listed twice")
            entries[entry.id] = entry
        if got.read_only:
            if problems:
                log.info("entries of the newer registry left out here: %s", "; ".join(problems[:3]))
            return entries
        # The good entries stay; the file as it was is kept for the user.
        if problems and set_aside(path, "; ".join(problems[:3]) + (" …" if len(problems) > 3 else "")) and entries:
            self._write(entries)
        return entries

    def _write(self, entries: dict[str, ModelEntry]) -> None:
        data = {"schema_version": SCHEMA_VERSION, "models": [asdict(e) for e in entries.values()]}
        try:
            write_versioned(self.registry_path, data, SCHEMA_VERSION, "the model registry")
        except NewerFileError as exc:
            raise ModelError(f"{exc} No model is added or removed until then.") from None

    def check_writable(self) -> None:
        """Refuses early, before any file is copied, when a newer Hearth's registry is here."""
        try:
            check_writable(self.registry_path, SCHEMA_VERSION, "the model registry")
        except NewerFileError as exc:
            raise ModelError(f"{exc} No model is added or removed until then.") from None

    # --- queries -----------------------------------------------------------------
    def list(self, kind: str | None = None) -> list[ModelEntry]:
        entries = sorted(self._read().values(), key=lambda e: (e.kind, e.id))
        return [e for e in entries if kind is None or e.kind == kind]

    def get(self, model_id: str) -> ModelEntry | None:
        return self._read().get(model_id)

    def default_for(self, kind: str) -> str:
        """The model a pane or command uses when none is named: the chosen default, else the first."""
        chosen = self.settings.default_models.get(kind)
        if chosen and self.get(chosen) is not None:
            return chosen
        models = self.list(kind)
        if not models:
            hint = {"images": "models download clip-vit-b-32-laion2b"}.get(kind, "models provision")
            raise ModelError(f"no {kind} model installed (python -m app {hint})")
        return models[0].id

    def path_of(self, entry: ModelEntry) -> Path:
        path = Path(entry.path)
        return path if path.is_absolute() else self.root / path

    def projector_of(self, entry: ModelEntry) -> Path | None:
        if not entry.projector:
            return None
        path = Path(entry.projector)
        return path if path.is_absolute() else self.root / path

    def resolve(self, id_or_path: str, kind: str) -> tuple[Path, ModelEntry | None]:
        """A model id from the store, or a path given directly (CLI and tests)."""
        entry = self.get(id_or_path)
        if entry is not None:
            if entry.kind != kind:
                raise ModelError(f"{id_or_path} is a {entry.kind} model, not a {kind} model")
            path = self.path_of(entry)
            if not path.exists():
                raise ModelError(f"the files of {id_or_path} are missing from {path}")
            return path, entry
        path = Path(id_or_path).expanduser()
        if path.exists():
            return path, None
        raise ModelError(f"no installed {kind} model '{id_or_path}' (see: python -m app models list)")

    # --- changes -----------------------------------------------------------------
    def import_path(
        self,
        src: Path,
        kind: str,
        model_id: str | None = None,
        mode: str = "copy",
        source: str = "import",
        architecture: str = "",
        expected_sha256: str | None = None,
        projector: Path | None = None,
    ) -> ModelEntry:
        """``projector``: a vision model's mmproj GGUF; checked against the model and stored with it."""
        src = Path(src).expanduser().resolve()
        check_kind(kind)
        if mode not in MODES:
            raise ModelError(f"unknown import mode '{mode}' (one of {', '.join(MODES)})")
        if not src.exists():
            raise ModelError(f"{src} does not exist")
        if kind == "images" and not architecture and src.is_file():
            src = clip_folder_of(src) or src  # its config beside it names the architecture: the folder is the model
        model_id = check_id(model_id or slugify(src.stem if src.is_file() else src.name))
        self.check_writable()
        if self.get(model_id) is not None:
            raise ModelError(f"a model with id '{model_id}' is already installed")
        fmt, arch = validate(src, kind, architecture)
        proj_src = proj_digest = None
        if projector is not None:
            from app.core.models.projector import check_pair

            proj_src = Path(projector).expanduser().resolve()
            if kind != "chat" or not src.is_file():
                raise ModelError("only a chat model (one .gguf file) carries a projector")
            check_pair(src, proj_src)
            proj_digest = sha256_tree(proj_src)

        digest = sha256_tree(src)
        if expected_sha256 and digest != expected_sha256:
            raise ModelError(f"{src.name}: sha256 {digest[:12]}… does not match the expected {expected_sha256[:12]}…")
        size = tree_size(src) + (tree_size(proj_src) if proj_src else 0)
        stored_proj = ""

        if mode == "link":
            stored: Path = src  # used in place, by absolute path
            stored_proj = str(proj_src or "")
        else:
            folder = self.root / kind / model_id
            if folder.exists():
                shutil.rmtree(folder)  # leftovers of an interrupted import; not registered
            folder.parent.mkdir(parents=True, exist_ok=True)
            staging = self.root / kind / f".{model_id}.importing"
            shutil.rmtree(staging, ignore_errors=True)
            staging.mkdir(parents=True)
            target = staging / src.name
            if proj_src is not None and proj_src.name == src.name:
                raise ModelError("the model and its projector have the same file name; rename one")
            try:
                if mode == "move":
                    shutil.move(str(src), target)
                elif src.is_dir():
                    shutil.copytree(src, target)
                else:
                    shutil.copy2(src, target)
                if proj_src is not None:
                    (shutil.move if mode == "move" else shutil.copy2)(str(proj_src), staging / proj_src.name)
                os.replace(staging, folder)
            except OSError as exc:
                shutil.rmtree(staging, ignore_errors=True)
                raise ModelError(f"could not store {src.name}: {exc.strerror or exc}") from exc
            stored = (folder / src.name).relative_to(self.root)
            if proj_src is not None:
                stored_proj = str((folder / proj_src.name).relative_to(self.root))

        entry = ModelEntry(
            id=model_id,
            kind=kind,
            path=str(stored),
            size=size,
            sha256=digest,
            source=source,
            format=fmt,
            verified=True,
            architecture=arch,
            added=time.time(),
            projector=stored_proj,
            projector_sha256=proj_digest or "",
        )
        with self._lock:
            entries = self._read()
            entries[model_id] = entry
            self._write(entries)
        log.info("model %s (%s) imported from %s by %s", model_id, kind, src, mode)
        return entry

    def set_verified(self, model_id: str, verified: bool) -> ModelEntry:
        with self._lock:
            entries = self._read()
            entries[model_id].verified = verified
            self._write(entries)
            return entries[model_id]

    def move_to(self, new_root: Path, progress=None) -> None:
        """Moves every stored model and the registry; linked models stay where they are."""
        new_root = Path(new_root).expanduser().resolve()
        if new_root == self.root.resolve():
            return
        if new_root.exists() and any(new_root.iterdir()):
            raise ModelError(f"{new_root} is not empty; choose an empty folder")
        new_root.mkdir(parents=True, exist_ok=True)
        with self._lock:
            moved = []
            try:
                for kind in KINDS:
                    if (self.root / kind).exists():
                        shutil.move(str(self.root / kind), str(new_root / kind))
                        moved.append(kind)
                        if progress:
                            progress(kind)
                if self.registry_path.exists():
                    shutil.copy2(self.registry_path, new_root / REGISTRY)
            except OSError as exc:
                for kind in moved:  # put back what moved, so the store stays whole
                    shutil.move(str(new_root / kind), str(self.root / kind))
                raise ModelError(f"could not move the models: {exc.strerror or exc}") from exc
            self.registry_path.unlink(missing_ok=True)
            self.root = new_root

    def remove(self, model_id: str) -> None:
        with self._lock:
            entries = self._read()
            entry = entries.get(model_id)
            if entry is None:
                raise ModelError(f"no installed model '{model_id}'")
            folder = self.root / entry.kind / entry.id
            owned = not Path(entry.path).is_absolute()  # linked models belong to the user
            if owned and folder.exists() and not inside(self.root, folder):
                raise ModelError(f"refused: the files of {model_id} resolve outside the models folder ({folder})")
            del entries[model_id]
            self._write(entries)
        if owned:
            shutil.rmtree(folder, ignore_errors=True)
        log.info("model %s removed", model_id)

    def verify(self, model_id: str) -> bool:
        entry = self.get(model_id)
        if entry is None:
            raise ModelError(f"no installed model '{model_id}'")
        path = self.path_of(entry)
        ok = path.exists() and sha256_tree(path) == entry.sha256
        proj = self.projector_of(entry)
        return ok and (proj is None or (proj.exists() and sha256_tree(proj) == entry.projector_sha256))

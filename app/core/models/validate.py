"""Checks that a file or folder really is a model of the kind claimed, cheaply.

No weights are loaded and nothing is unpickled: GGUF headers are parsed,
CTranslate2 folders are checked for their files, CLIP checkpoints must be
safetensors (header parsed) or a torch zip without pickled code objects.
"""

from __future__ import annotations

import json
import struct
import zipfile
from pathlib import Path

from app.core.jobs import ModelError
from app.core.models.gguf_header import read_gguf

WHISPER_REQUIRED = ("model.bin", "config.json")
WHISPER_TOKENIZER = ("tokenizer.json", "vocabulary.json", "vocabulary.txt")


def validate(src: Path, kind: str, architecture: str = "") -> tuple[str, str]:
    """Returns (format, architecture) or raises ModelError with the reason."""
    if kind == "chat":
        return "gguf", _validate_gguf(src)
    if kind == "speech":
        _validate_whisper(src)
        return "ctranslate2", "whisper"
    if kind == "images":
        if src.is_dir():  # as published on the hub: open_clip_config.json beside the weights
            return "open_clip", architecture or _validate_clip_folder(src)
        _validate_clip(src)
        if not architecture:
            raise ModelError("an OpenCLIP checkpoint needs its architecture name (for example ViT-B-32)")
        return "open_clip", architecture
    raise ModelError(f"unknown model kind '{kind}'")


def _validate_gguf(src: Path) -> str:
    if src.is_dir():
        ggufs = sorted(src.glob("*.gguf"))
        if len(ggufs) != 1:
            raise ModelError(f"{src.name}: a chat model is one .gguf file")
        src = ggufs[0]
    info = read_gguf(src)
    if info.data_end and src.stat().st_size < info.data_end:
        raise ModelError(f"{src.name} is truncated: {src.stat().st_size} of at least {info.data_end} bytes")
    if not info.architecture:
        raise ModelError(f"{src.name}: the GGUF names no architecture")
    if info.tensor_count == 0:
        raise ModelError(f"{src.name}: the GGUF holds no tensors")
    return info.architecture


def _validate_whisper(src: Path) -> None:
    if not src.is_dir():
        raise ModelError(f"{src.name}: a faster-whisper model is a folder (model.bin, config.json, tokenizer)")
    missing = [n for n in WHISPER_REQUIRED if not (src / n).is_file()]
    if missing:
        raise ModelError(f"{src.name} is not a faster-whisper model: missing {', '.join(missing)}")
    if not any((src / n).is_file() for n in WHISPER_TOKENIZER):
        raise ModelError(f"{src.name} is not a faster-whisper model: no tokenizer or vocabulary file")
    try:
        json.loads((src / "config.json").read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise ModelError(f"{src.name}: config.json is unreadable ({exc})") from exc
    with open(src / "model.bin", "rb") as fh:
        header = fh.read(4)
    if len(header) < 4 or (src / "model.bin").stat().st_size < 1024:
        raise ModelError(f"{src.name}: model.bin is truncated")


CLIP_WEIGHTS = ("open_clip_model.safetensors", "open_clip_pytorch_model.safetensors", "model.safetensors",
                "open_clip_pytorch_model.bin", "pytorch_model.bin")


def _validate_clip_folder(src: Path) -> str:
    config = src / "open_clip_config.json"
    try:
        data = json.loads(config.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise ModelError(f"{src.name}: not an OpenCLIP model folder (open_clip_config.json missing or bad)") from exc
    if "model_cfg" not in data:
        raise ModelError(f"{src.name}: open_clip_config.json has no model_cfg")
    weights = [src / n for n in CLIP_WEIGHTS if (src / n).is_file()]
    if not weights:
        raise ModelError(f"{src.name}: no OpenCLIP weights (open_clip_model.safetensors) in the folder")
    _validate_clip(weights[0])
    return "local-dir"


def _validate_clip(src: Path) -> None:
    if src.is_dir():
        raise ModelError(f"{src.name}: an OpenCLIP checkpoint is one file (.safetensors or .pt)")
    if src.suffix == ".safetensors":
        with open(src, "rb") as fh:
            raw = fh.read(8)
            if len(raw) < 8:
                raise ModelError(f"{src.name}: truncated safetensors file")
            (n,) = struct.unpack("<Q", raw)
            if n > 100 << 20 or n + 8 > src.stat().st_size:
                raise ModelError(f"{src.name}: corrupt safetensors header")
            try:
                json.loads(fh.read(n))
            except ValueError as exc:
                raise ModelError(f"{src.name}: corrupt safetensors header") from exc
        return
    if not zipfile.is_zipfile(src):
        raise ModelError(f"{src.name}: not a safetensors or torch checkpoint (legacy pickles are refused)")
    check_pickle_is_plain(src)


# Globals a plain state dict needs; anything else could run code when unpickled.
_SAFE_GLOBALS = {
    "collections OrderedDict",
    "torch._utils _rebuild_tensor_v2",
    "torch._utils _rebuild_parameter",
    "torch FloatStorage", "torch HalfStorage", "torch BFloat16Storage", "torch LongStorage",
    "torch IntStorage", "torch ByteStorage", "torch BoolStorage", "torch DoubleStorage",
    "torch float32", "torch float16", "torch bfloat16", "torch int64",
    "torch._tensor _rebuild_from_type_v2", "torch Size",
}


def check_pickle_is_plain(src: Path) -> None:
    """Reads the pickle opcodes (never executes them) and refuses foreign globals."""
    import pickletools

    with zipfile.ZipFile(src) as zf:
        pickles = [n for n in zf.namelist() if n.endswith(".pkl")]
        if not pickles:
            raise ModelError(f"{src.name}: no state dict in the checkpoint")
        for name in pickles:
            data = zf.read(name)
            strings: list[str] = []
            try:
                for op, arg, _pos in pickletools.genops(data):
                    if op.name in ("SHORT_BINUNICODE", "BINUNICODE", "UNICODE"):
                        strings.append(str(arg))
                    elif op.name == "GLOBAL":
                        _check_global(src, str(arg).replace("\n", " "))
                    elif op.name == "STACK_GLOBAL":
                        _check_global(src, " ".join(strings[-2:]))
            except ValueError as exc:
                raise ModelError(f"{src.name}: corrupt pickle in checkpoint") from exc


def _check_global(src: Path, name: str) -> None:
    if name not in _SAFE_GLOBALS:
        raise ModelError(f"{src.name} carries code ({name}) in its pickle; refused. Use a safetensors file.")

"""Checks that a file or folder really is a model of the kind claimed, cheaply.

No weights are loaded and nothing is unpickled: GGUF headers are parsed,
CTranslate2 folders are checked for their files, CLIP checkpoints must be
safetensors (header parsed) or a torch zip whose pickles pass an allow-list of
opcodes and globals (the ones a plain tensor checkpoint uses).
"""

from __future__ import annotations

import json
import struct
import zipfile
import zlib
from pathlib import Path

from app.core.jobs import ModelError
from app.core.models.gguf_header import read_gguf

WHISPER_REQUIRED = ("model.bin", "config.json")
WHISPER_TOKENIZER = ("tokenizer.json", "vocabulary.json", "vocabulary.txt")


def validate(src: Path, kind: str, architecture: str = "") -> tuple[str, str]:
    """Returns (format, architecture) or raises ModelError with the reason."""
    if kind == "chat":
        return "gguf", _validate_gguf(src)
    if kind == "embedding":
        return "gguf", _validate_embedding(src)
    if kind == "speech":
        _validate_whisper(src)
        return "ctranslate2", "whisper"
    if kind == "speaker":
        return "resemblyzer", _validate_speaker(src)
    if kind == "images":
        if src.is_dir():  # as published on the hub: open_clip_config.json beside the weights
            return "open_clip", architecture or _validate_clip_folder(src)
        _validate_clip(src)
        if not architecture:
            raise ModelError(f"{src.name}: an OpenCLIP checkpoint needs its architecture name (for example "
                             "ViT-B-32), or open_clip_config.json beside it (then import its folder)")
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


def check_embedding_gguf(info, name: str) -> None:
    """A text-embedding GGUF pools its tokens into one vector (or is an encoder, pooled by us); a chat
    model is neither, and its 'embedding' would be one per token."""
    if info.arch_value("pooling_type") is None and info.arch_value("attention.causal") is not False:
        raise ModelError(f"{name} is not a text-embedding model ({info.architecture or 'no'} architecture, "
                         "no pooling): import it as a chat model")


def _validate_embedding(src: Path) -> str:
    arch = _validate_gguf(src)
    path = src if src.is_file() else sorted(src.glob("*.gguf"))[0]
    check_embedding_gguf(read_gguf(path), src.name)
    return arch


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


# open_clip's order of preference in a model folder (factory._find_checkpoint_in_dir).
CLIP_WEIGHTS = ("open_clip_model.safetensors", "open_clip_pytorch_model.safetensors",
                "open_clip_pytorch_model.bin", "open_clip_pytorch_model.pth",
                "model.safetensors", "pytorch_model.bin", "pytorch_model.pth", "model.pth")


def clip_folder_weights(src: Path) -> Path | None:
    """The weights file open_clip loads from a model folder ('local-dir:'), chosen as it chooses: the
    file checked is the file loaded. None: the folder has none."""
    found = sorted([*src.glob("*.safetensors"), *src.glob("*.bin"), *src.glob("*.pth")])
    if not found:
        return None
    preferred = sorted((p for p in found if p.name in CLIP_WEIGHTS), key=lambda p: CLIP_WEIGHTS.index(p.name))
    if preferred:
        return preferred[0]
    found.sort(key=lambda p: p.suffix == ".safetensors", reverse=True)  # stable: sorted by name within each
    return found[0]


def folder_kind(src: Path) -> str:
    """The kind of model a folder holds, read from its files: "images" (an OpenCLIP folder as
    published on the hub), "speech" (a faster-whisper folder) or "chat" (one .gguf). ModelError
    when it is none of them."""
    if (src / "open_clip_config.json").is_file():
        return "images"
    if all((src / n).is_file() for n in WHISPER_REQUIRED):
        return "speech"
    if len(list(src.glob("*.gguf"))) == 1:
        return "chat"
    raise ModelError(f"{src.name}: not a model folder Hearth knows (an OpenCLIP folder with open_clip_config.json, "
                     "or a faster-whisper folder with model.bin and config.json)")


def clip_folder_of(checkpoint: Path) -> Path | None:
    """The hub-style OpenCLIP folder a checkpoint file is the weights of (open_clip_config.json beside it,
    and the file the one open_clip loads from there), else None. Its config names the architecture."""
    folder = checkpoint.parent
    if (folder / "open_clip_config.json").is_file() and clip_folder_weights(folder) == checkpoint:
        return folder
    return None


def check_clip_folder(src: Path) -> None:
    """The folder's config and the weights open_clip will load from it; ModelError says what is wrong."""
    _validate_clip_folder(src)


def check_clip_checkpoint(src: Path) -> None:
    """One checkpoint file, as open_clip will load it; ModelError says what is wrong."""
    _validate_clip(src)


def _validate_clip_folder(src: Path) -> str:
    config = src / "open_clip_config.json"
    try:
        data = json.loads(config.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise ModelError(f"{src.name}: not an OpenCLIP model folder (open_clip_config.json missing or bad)") from exc
    if "model_cfg" not in data:
        raise ModelError(f"{src.name}: open_clip_config.json has no model_cfg")
    weights = clip_folder_weights(src)
    if weights is None:
        raise ModelError(f"{src.name}: no OpenCLIP weights (open_clip_model.safetensors) in the folder")
    _validate_clip(weights)
    return "local-dir"


def _validate_speaker(src: Path) -> str:
    """Resemblyzer's voice encoder as app.core.speech.voices keeps it: its tensors in a .npz."""
    from app.core.models.voice_weights import check_weights

    if src.is_dir() or src.suffix != ".npz" or not zipfile.is_zipfile(src):
        raise ModelError(f"{src.name}: a speaker model is Resemblyzer's voice encoder as a .npz of its tensors")
    check_weights(src)
    return "resemblyzer-lstm"


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


# What a plain tensor checkpoint (torch.save of a state dict) uses, and nothing more. The
# check below reads the opcodes and follows the stack and memo symbolically: nothing is executed.
_CALLABLE_GLOBALS = {
    "collections OrderedDict",
    "torch._utils _rebuild_tensor_v2",
    "torch._utils _rebuild_parameter",
    "torch._utils _rebuild_parameter_with_state",
    "torch._tensor _rebuild_from_type_v2",
    "torch Size",
    "torch device",
}
_DATA_GLOBALS = {
    *(f"torch {t}Storage" for t in ("Float", "Half", "BFloat16", "Double", "Long", "Int", "Short", "Char",
                                    "Byte", "Bool", "ComplexFloat", "ComplexDouble")),
    *(f"torch {t}" for t in ("float32", "float16", "bfloat16", "float64", "int64", "int32", "int16", "int8",
                             "uint8", "bool", "complex64", "complex128")),
    "torch.nn.parameter Parameter",
    "torch Tensor",
}
_SAFE_GLOBALS = _CALLABLE_GLOBALS | _DATA_GLOBALS
_DATA_OPS = {
    "PROTO", "FRAME", "STOP", "MARK", "POP", "POP_MARK", "DUP",
    "EMPTY_DICT", "EMPTY_LIST", "EMPTY_TUPLE", "EMPTY_SET", "TUPLE", "TUPLE1", "TUPLE2", "TUPLE3", "LIST", "DICT",
    "FROZENSET", "NONE", "NEWTRUE", "NEWFALSE", "INT", "BININT", "BININT1", "BININT2", "LONG", "LONG1", "LONG4",
    "FLOAT", "BINFLOAT", "SHORT_BINUNICODE", "BINUNICODE", "BINUNICODE8", "UNICODE",
    "SHORT_BINBYTES", "BINBYTES", "BINBYTES8",
}
_CONTAINER_OPS = {"APPEND", "APPENDS", "SETITEM", "SETITEMS", "ADDITEMS", "BUILD"}
_MARK, _VALUE = object(), object()
_TORCH_ZIP_METHODS = {zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED}


class _Global(str):
    """A global the pickle names (already checked against the allow-list)."""


def check_pickle_is_plain(src: Path) -> None:
    """Refuses a checkpoint unless torch would read it as a zip whose pickles hold only plain tensors."""
    with open(src, "rb") as fh:
        if fh.read(4) != b"PK\x03\x04":  # torch reads anything else as a legacy pickle
            raise ModelError(f"{src.name}: not a torch zip checkpoint (a file that only ends in a zip is refused)")
    try:
        with zipfile.ZipFile(src) as zf:
            infos = zf.infolist()
            names = [i.filename for i in infos]
            if len(set(names)) != len(names):  # readers disagree on which copy of a name wins
                raise ModelError(f"{src.name}: the checkpoint holds two files of one name; refused")
            odd = sorted({i.compress_type for i in infos} - _TORCH_ZIP_METHODS)
            if odd:  # torch's reader (miniz) reads stored and deflated entries, nothing else
                raise ModelError(f"{src.name}: the checkpoint is packed with a compression method torch cannot "
                                 f"read (method {', '.join(map(str, odd))}); save it again with torch.save")
            if any(i.flag_bits & 0x1 for i in infos):
                raise ModelError(f"{src.name}: the checkpoint is encrypted; torch cannot read it")
            pickles = [i for i in infos if i.filename.endswith(".pkl")]
            if not any(i.filename.endswith("data.pkl") for i in pickles):
                raise ModelError(f"{src.name}: no state dict in the checkpoint")
            for info in pickles:
                _check_pickle(src, zf.read(info))
    except (zipfile.BadZipFile, OSError, EOFError, NotImplementedError, RuntimeError, ValueError,
            zlib.error) as exc:
        raise ModelError(f"{src.name}: the checkpoint is damaged and cannot be read") from exc


def _check_pickle(src: Path, data: bytes) -> None:
    import pickletools

    stack: list = []
    memo: dict = {}

    def pop():
        if not stack or stack[-1] is _MARK:
            raise ModelError(f"{src.name}: corrupt pickle in checkpoint")
        return stack.pop()

    def pop_to_mark() -> list:
        items = []
        while stack and stack[-1] is not _MARK:
            items.append(stack.pop())
        if not stack:
            raise ModelError(f"{src.name}: corrupt pickle in checkpoint")
        stack.pop()
        return items

    try:
        for op, arg, _pos in pickletools.genops(data):
            name = op.name
            if name in ("GLOBAL", "STACK_GLOBAL"):
                if name == "GLOBAL":
                    ref = str(arg).replace("\n", " ")
                else:
                    attr, module = pop(), pop()
                    if not (type(attr) is str and type(module) is str):
                        raise ModelError(f"{src.name} builds a global name at load time; refused")
                    ref = f"{module} {attr}"
                _check_global(src, ref)
                stack.append(_Global(ref))
            elif name in ("SHORT_BINUNICODE", "BINUNICODE", "BINUNICODE8", "UNICODE"):
                stack.append(str(arg))
            elif name == "MARK":
                stack.append(_MARK)
            elif name in ("PUT", "BINPUT", "LONG_BINPUT", "MEMOIZE"):
                if not stack or stack[-1] is _MARK:
                    raise ModelError(f"{src.name}: corrupt pickle in checkpoint")
                memo[len(memo) if name == "MEMOIZE" else arg] = stack[-1]
            elif name in ("GET", "BINGET", "LONG_BINGET"):
                if arg not in memo:
                    raise ModelError(f"{src.name}: corrupt pickle in checkpoint")
                stack.append(memo[arg])
            elif name == "REDUCE":
                pop()
                func = pop()
                if not isinstance(func, _Global) or func not in _CALLABLE_GLOBALS:
                    raise ModelError(f"{src.name} calls {func if isinstance(func, str) else 'an object'} in its "
                                     "pickle; refused. Use a safetensors file.")
                stack.append(_VALUE)
            elif name == "BINPERSID":
                pop()
                stack.append(_VALUE)
            elif name in _CONTAINER_OPS:
                if op.stack_before and pickletools.markobject in op.stack_before:
                    pop_to_mark()
                else:
                    for _ in range(len(op.stack_before) - 1):
                        pop()
                if isinstance(pop(), _Global):
                    raise ModelError(f"{src.name} changes a global in its pickle; refused")
                stack.append(_VALUE)
            elif name in _DATA_OPS:
                before = op.stack_before
                if pickletools.markobject in before:
                    pop_to_mark()
                    before = before[: before.index(pickletools.markobject)]
                for _ in before:
                    pop()
                stack.extend(_VALUE for _ in op.stack_after)
            else:  # INST, OBJ, NEWOBJ, EXT*, PERSID, the byte-string opcodes, buffers …
                raise ModelError(f"{src.name} uses the pickle opcode {name}, which a plain checkpoint never "
                                 "needs; refused. Use a safetensors file.")
    except ValueError as exc:
        raise ModelError(f"{src.name}: corrupt pickle in checkpoint") from exc


def _check_global(src: Path, name: str) -> None:
    if name not in _SAFE_GLOBALS:
        raise ModelError(f"{src.name} carries code ({name}) in its pickle; refused. Use a safetensors file.")

"""Reads a GGUF file's header and metadata without loading the model.

Used to validate imports and to read the architecture, context length and chat
template before llama.cpp ever sees the file. Large arrays (the vocabulary)
are skipped, not kept.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass, field
from pathlib import Path

from app.core.fileio import open_regular
from app.core.jobs import ModelError

MAGIC = b"GGUF"
_SCALARS = {
    0: "<B", 1: "<b", 2: "<H", 3: "<h", 4: "<I", 5: "<i", 6: "<f", 7: "<?", 10: "<Q", 11: "<q", 12: "<d",
}
_STRING, _ARRAY = 8, 9
_MAX_STRING = 64 << 20  # a chat template is a few KB; anything huge is corrupt
_MAX_ARRAY = 1 << 24
_KEPT_ARRAY = 4096  # integer arrays this short are kept: per-layer values such as head_count_kv
_MAX_DEPTH = 8  # arrays of arrays: llama.cpp writes none deeper than 2
_INTEGERS = {0, 1, 2, 3, 4, 5, 10, 11}


@dataclass
class GGUFInfo:
    version: int
    tensor_count: int
    metadata: dict = field(default_factory=dict)
    data_end: int = 0  # the file must be at least this long (start of the last tensor's data)

    @property
    def architecture(self) -> str:
        return str(self.metadata.get("general.architecture", ""))

    def arch_value(self, key: str, default=None):
        return self.metadata.get(f"{self.architecture}.{key}", default)

    @property
    def context_length(self) -> int | None:
        return _number(self.arch_value("context_length"))

    @property
    def block_count(self) -> int | None:
        return _number(self.arch_value("block_count"))

    @property
    def chat_template(self) -> str | None:
        value = self.metadata.get("tokenizer.chat_template")
        return value if isinstance(value, str) else None

    @property
    def name(self) -> str:
        return str(self.metadata.get("general.name", ""))


def _number(value) -> int | None:
    """A count from the header; a value of another type (hostile or odd metadata) counts as absent."""
    return value if isinstance(value, int) and not isinstance(value, bool) and value > 0 else None


class _Reader:
    def __init__(self, fh, size: int):
        self.fh, self.size = fh, size

    def read(self, n: int) -> bytes:
        data = self.fh.read(n)
        if len(data) != n:
            raise ModelError("the GGUF file is truncated (its header ends early)")
        return data

    def unpack(self, fmt: str):
        return struct.unpack(fmt, self.read(struct.calcsize(fmt)))[0]

    def string(self, keep: bool = True) -> str | None:
        length = self.unpack("<Q")
        if length > _MAX_STRING or self.fh.tell() + length > self.size:
            raise ModelError("the GGUF header is corrupt (a string runs past the file)")
        if not keep:
            self.fh.seek(length, 1)
            return None
        return self.read(length).decode("utf-8", errors="replace")

    def value(self, vtype: int, keep: bool = True, depth: int = 0):
        if vtype in _SCALARS:
            return self.unpack(_SCALARS[vtype])
        if vtype == _STRING:
            return self.string(keep)
        if vtype == _ARRAY:
            if depth >= _MAX_DEPTH:
                raise ModelError("the GGUF header is corrupt (arrays nested too deeply)")
            item_type, count = self.unpack("<I"), self.unpack("<Q")
            if count > _MAX_ARRAY:
                raise ModelError("the GGUF header is corrupt (an array is impossibly long)")
            if keep and item_type in _INTEGERS and count <= _KEPT_ARRAY:
                fmt = _SCALARS[item_type]
                return tuple(struct.unpack(f"<{count}{fmt[1:]}", self.read(count * struct.calcsize(fmt))))
            if item_type in _SCALARS:  # skip fixed-size arrays in one seek
                self.fh.seek(count * struct.calcsize(_SCALARS[item_type]), 1)
                return f"<array of {count}>"
            for _ in range(count):
                self.value(item_type, keep=False, depth=depth + 1)
            return f"<array of {count}>"
        raise ModelError(f"the GGUF header is corrupt (unknown value type {vtype})")


def read_gguf(path: Path) -> GGUFInfo:
    path = Path(path)
    try:
        size = path.stat().st_size
        with open_regular(path) as fh:
            if fh.read(4) != MAGIC:
                raise ModelError(f"{path.name} is not a GGUF model (wrong magic bytes)")
            r = _Reader(fh, size)
            version = r.unpack("<I")
            if version not in (2, 3):
                raise ModelError(f"{path.name}: unsupported GGUF version {version}")
            tensors, kv_count = r.unpack("<Q"), r.unpack("<Q")
            if kv_count > 1 << 20 or tensors > 1 << 24:
                raise ModelError(f"{path.name}: the GGUF header is corrupt")
            metadata = {}
            for _ in range(kv_count):
                key = r.string()
                metadata[key] = r.value(r.unpack("<I"))
            last_offset = 0
            for _ in range(tensors):
                r.string(keep=False)
                n_dims = r.unpack("<I")
                if n_dims > 8:
                    raise ModelError(f"{path.name}: the GGUF tensor table is corrupt")
                fh.seek(8 * n_dims + 4, 1)  # dims, type
                last_offset = max(last_offset, r.unpack("<Q"))
            align = metadata.get("general.alignment", 32)
            if not isinstance(align, int) or isinstance(align, bool) or align <= 0 or align & (align - 1):
                raise ModelError(f"{path.name}: the GGUF header is corrupt (general.alignment is {align!r}, "
                                 "not a power of two)")
            data_start = -(-fh.tell() // align) * align
    except OSError as exc:
        raise ModelError(f"cannot read {path}: {exc.strerror or exc}") from exc
    except (struct.error, UnicodeDecodeError) as exc:
        raise ModelError(f"{path.name}: the GGUF header is corrupt") from exc
    return GGUFInfo(version, tensors, metadata, data_start + last_offset + (1 if tensors else 0))

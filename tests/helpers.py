"""Builders for small, real test inputs."""

from __future__ import annotations

from pathlib import Path

import numpy as np


def make_gguf(path: Path, arch: str = "llama", chat_template: str | None = None, context: int = 2048) -> Path:
    """A tiny but well-formed GGUF file written with the gguf package."""
    import gguf

    writer = gguf.GGUFWriter(str(path), arch)
    writer.add_name("tiny-test")
    writer.add_context_length(context)
    writer.add_block_count(1)
    if chat_template is not None:
        writer.add_chat_template(chat_template)
    writer.add_tensor("token_embd.weight", np.zeros((4, 8), dtype=np.float32))
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()
    return path


def make_whisper_folder(path: Path) -> Path:
    path.mkdir(parents=True)
    (path / "model.bin").write_bytes(b"\x00" * 4096)
    (path / "config.json").write_text("{}")
    (path / "vocabulary.json").write_text("[]")
    return path


def gguf_with_template(src: Path, dst: Path, template: str) -> Path:
    """A copy of a real GGUF with ``tokenizer.chat_template`` added, spliced in binary."""
    import struct

    from app.core.models.gguf_header import _Reader

    with open(src, "rb") as fh:
        size = src.stat().st_size
        r = _Reader(fh, size)
        assert fh.read(4) == b"GGUF"
        version, n_tensors, n_kv = r.unpack("<I"), r.unpack("<Q"), r.unpack("<Q")
        kv_start = fh.tell()
        alignment = 32
        for _ in range(n_kv):
            key = r.string()
            vtype = r.unpack("<I")
            value = r.value(vtype)
            if key == "general.alignment":
                alignment = int(value)
            assert key != "tokenizer.chat_template", "source already has a template"
        kv_end = fh.tell()
        for _ in range(n_tensors):
            r.string(keep=False)
            n_dims = r.unpack("<I")
            fh.seek(8 * n_dims + 4 + 8, 1)
        ti_end = fh.tell()
        data_start = -(-ti_end // alignment) * alignment
        fh.seek(kv_start)
        kvs = fh.read(kv_end - kv_start)
        infos = fh.read(ti_end - kv_end)
        key = b"tokenizer.chat_template"
        raw = template.encode()
        new_kv = struct.pack("<Q", len(key)) + key + struct.pack("<I", 8) + struct.pack("<Q", len(raw)) + raw
        with open(dst, "wb") as out:
            out.write(b"GGUF" + struct.pack("<IQQ", version, n_tensors, n_kv + 1))
            out.write(kvs + new_kv + infos)
            out.write(b"\0" * (-out.tell() % alignment))
            fh.seek(data_start)
            while chunk := fh.read(1 << 22):
                out.write(chunk)
    return dst

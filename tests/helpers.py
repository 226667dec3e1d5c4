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

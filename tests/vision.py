"""The tiny vision fixture and pictures made for the vision tests."""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np

FIXTURE = Path(__file__).parent / "fixtures" / "tiny-vision"
MODEL = FIXTURE / "tiny-gemma3-vision-f16.gguf"
MMPROJ = FIXTURE / "mmproj-tiny-gemma3-vision-f16.gguf"


def red_png(size: int = 96) -> bytes:
    from PIL import Image

    buf = io.BytesIO()
    Image.new("RGB", (size, size), (220, 20, 20)).save(buf, format="PNG")
    return buf.getvalue()


def gradient_png(size: int = 96) -> bytes:
    from PIL import Image

    yy, xx = np.mgrid[0:size, 0:size]
    grad = np.stack([xx * 2, yy * 2, 255 - xx - yy], axis=-1).clip(0, 255).astype(np.uint8)
    buf = io.BytesIO()
    Image.fromarray(grad).save(buf, format="PNG")
    return buf.getvalue()


def write(path: Path, data: bytes) -> Path:
    path.write_bytes(data)
    return path


def mismatched_projector(dst: Path, embedding: int = 128) -> Path:
    """The fixture's projector with another embedding size: a projector made for another model."""
    data = bytearray(MMPROJ.read_bytes())
    key = b"clip.vision.projection_dim"
    at = data.index(key) + len(key)
    assert int.from_bytes(data[at:at + 4], "little") == 4  # GGUF type uint32
    assert int.from_bytes(data[at + 4:at + 8], "little") == 64
    data[at + 4:at + 8] = embedding.to_bytes(4, "little")
    dst.write_bytes(bytes(data))
    return dst


def bad_pictures(folder: Path) -> dict[str, Path]:
    """Truncated JPEG, decompression bomb, zero bytes, a text file named .jpg."""
    from PIL import Image

    folder.mkdir(parents=True, exist_ok=True)
    buf = io.BytesIO()
    Image.fromarray(np.random.default_rng(0).integers(0, 255, (200, 200, 3), dtype=np.uint8)).save(buf, "JPEG")
    truncated = write(folder / "truncated.jpg", buf.getvalue()[: len(buf.getvalue()) // 2])
    bomb = folder / "bomb.png"
    Image.new("1", (12000, 12000)).save(bomb)  # 144 Mpx of one colour: a few KB on disk
    return {
        "truncated": truncated,
        "bomb": bomb,
        "empty": write(folder / "empty.jpg", b""),
        "text": write(folder / "notes.jpg", b"this is a shopping list, not a picture\n"),
    }

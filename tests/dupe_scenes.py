"""Synthetic photos for the duplicate finder: scenes of a kind (the main subject is one of the tiny
CLIP's colour-shape classes), each with its near-duplicates and bursts. Shared by tests/core/test_duplicates.py
and scripts/calibrate_duplicates.py."""

from __future__ import annotations

import random
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw, ImageEnhance, ImageFilter

W, H = 480, 360
MARGIN = 40  # a scene is drawn larger than a frame, so a burst can pan across it


def scene(kind: tuple[str, str], seed: int) -> Image.Image:
    """A textured scene: a gradient sky, clutter, and the kind's colour-shape as the main subject."""
    from tests.helpers import shapes_module

    shapes = shapes_module()
    rng = random.Random(seed)
    w, h = W + 2 * MARGIN, H + 2 * MARGIN
    top = np.array([rng.randint(0, 255) for _ in range(3)], dtype=np.float32)
    bottom = np.array([rng.randint(0, 255) for _ in range(3)], dtype=np.float32)
    ramp = np.linspace(0, 1, h, dtype=np.float32)[:, None, None]
    sky = np.broadcast_to(top * (1 - ramp) + bottom * ramp, (h, w, 3)).copy()
    noise = np.random.default_rng(seed).normal(0, 6, (h, w, 3))
    img = Image.fromarray(np.clip(sky + noise, 0, 255).astype(np.uint8))
    draw = ImageDraw.Draw(img)
    for _ in range(rng.randint(4, 9)):  # clutter: boxes and discs of random tones
        x, y, s = rng.uniform(0, w), rng.uniform(0, h), rng.uniform(15, 90)
        tone = tuple(rng.randint(0, 255) for _ in range(3))
        (draw.rectangle if rng.random() < 0.5 else draw.ellipse)([x, y, x + s, y + s * rng.uniform(0.5, 1.5)],
                                                                 fill=tone)
    subject = shapes.render(kind[0], kind[1], rng, size=220)
    img.paste(subject, (int(rng.uniform(MARGIN, w - 220 - MARGIN)), int(rng.uniform(MARGIN, h - 220 - MARGIN))))
    return img


def frame(big: Image.Image, dx: int = 0, dy: int = 0) -> Image.Image:
    return big.crop((MARGIN + dx, MARGIN + dy, MARGIN + dx + W, MARGIN + dy + H))


def exif_taken(when: str) -> Image.Exif:
    exif = Image.Exif()
    exif.get_ifd(0x8769)[36867] = when  # DateTimeOriginal, "YYYY:MM:DD HH:MM:SS"
    return exif


def variants(big: Image.Image) -> dict[str, Image.Image]:
    """The near-duplicates a library gathers of one photo (no burst)."""
    f = frame(big)
    cw, ch = int(W * 0.04), int(H * 0.04)
    return {
        "resized": f.resize((W // 2, H // 2), Image.Resampling.LANCZOS),
        "cropped": f.crop((cw, ch, W - cw, H - ch)),
        "brighter": ImageEnhance.Brightness(f).enhance(1.25),
        "blurred": f.filter(ImageFilter.GaussianBlur(3)),
        # the largest file of the set, and soft: the keeper must not be it
        "upscaled blurred": f.resize((W * 2, H * 2), Image.Resampling.BICUBIC).filter(ImageFilter.GaussianBlur(5)),
    }


def write_set(folder: Path, kind: tuple[str, str], seed: int, burst_at: str | None = None) -> dict[str, Path]:
    """One photo and its near-duplicates (and, with burst_at "YYYY:MM:DD HH:MM", 4 frames a second apart,
    panning 6 px a frame) in folder; name -> path. The original is the largest sharp one."""
    folder.mkdir(parents=True, exist_ok=True)
    big = scene(kind, seed)
    out = {"original": folder / f"s{seed} original.png"}
    frame(big).save(out["original"])
    out["reencoded"] = folder / f"s{seed} reencoded.jpg"
    frame(big).save(out["reencoded"], "JPEG", quality=35)
    for name, im in variants(big).items():
        out[name] = folder / f"s{seed} {name}.jpg"
        im.save(out[name], "JPEG", quality=90)
    if burst_at is not None:
        for k in range(4):
            out[f"burst{k}"] = folder / f"s{seed} burst{k}.jpg"
            frame(big, 6 * k, 3 * k).save(out[f"burst{k}"], "JPEG", quality=90,
                                           exif=exif_taken(f"{burst_at}:{10 + k:02d}"))
    return out


def write_distinct(folder: Path, kind: tuple[str, str], seeds: range) -> list[Path]:
    """Different photos of the same kind of scene: none is a duplicate of another."""
    folder.mkdir(parents=True, exist_ok=True)
    out = []
    for seed in seeds:
        path = folder / f"other {kind[0]} {kind[1]} {seed}.jpg"
        frame(scene(kind, seed)).save(path, "JPEG", quality=90)
        out.append(path)
    return out

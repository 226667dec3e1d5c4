#!/usr/bin/env python3
"""Trains the tiny CLIP used by the tests (tests/fixtures/tiny-clip/).

No CLIP weights can be downloaded here, so this trains a small OpenCLIP model
of our own config on synthetic pictures: coloured shapes on varied backgrounds,
captioned "a red circle" and the like. It is saved the way OpenCLIP models are
published on the hub (open_clip_config.json + open_clip_model.safetensors), so
the app loads it through exactly the code path of a downloaded model.

    python scripts/train_tiny_clip.py [--steps N] [--out DIR]
"""

from __future__ import annotations

import argparse
import json
import math
import random
import sys
import time
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw

COLOURS = {
    "red": (220, 30, 30), "green": (30, 170, 40), "blue": (30, 60, 220),
    "yellow": (240, 220, 30), "purple": (140, 40, 180),
}
SHAPES = ("circle", "square", "triangle", "star")
TEMPLATES = ("a {c} {s}", "a photo of a {c} {s}", "a picture of a {c} {s}", "{c} {s}", "a {s} that is {c}")
SIZE = 64

MODEL_CFG = {
    "embed_dim": 64,
    # A small ModifiedResNet (OpenCLIP's RN tower): convolutions learn colour and shape
    # far faster than a ViT on this little data.
    "vision_cfg": {"image_size": SIZE, "layers": [1, 1, 1, 1], "width": 16, "head_width": 16},
    "text_cfg": {"context_length": 16, "vocab_size": 49408, "width": 64, "heads": 4, "layers": 2},
}
PREPROCESS_CFG = {"mean": [0.5, 0.5, 0.5], "std": [0.25, 0.25, 0.25], "interpolation": "bicubic",
                  "resize_mode": "shortest"}


def _polygon(shape: str, cx: float, cy: float, r: float, angle: float) -> list[tuple[float, float]]:
    if shape == "square":
        pts = [(math.cos(angle + k * math.pi / 2 + math.pi / 4), math.sin(angle + k * math.pi / 2 + math.pi / 4))
               for k in range(4)]
    elif shape == "triangle":
        pts = [(math.cos(angle + k * 2 * math.pi / 3), math.sin(angle + k * 2 * math.pi / 3)) for k in range(3)]
    else:  # star
        pts = []
        for k in range(10):
            rr = 1.0 if k % 2 == 0 else 0.45
            a = angle + k * math.pi / 5
            pts.append((rr * math.cos(a), rr * math.sin(a)))
    return [(cx + r * x, cy + r * y) for x, y in pts]


def render(colour: str, shape: str, rng: random.Random, size: int = SIZE) -> Image.Image:
    """One picture: a shape of one colour on a background that is never that colour."""
    target = np.array(COLOURS[colour])
    while True:
        bg = np.array([rng.randint(0, 255) for _ in range(3)])
        if np.abs(bg - target).sum() > 200:
            break
    img = Image.new("RGB", (size, size), tuple(int(v) for v in bg))
    draw = ImageDraw.Draw(img)
    if rng.random() < 0.5:  # some clutter: stripes of a second background tone
        tone = tuple(int(v) for v in np.clip(bg + rng.randint(-40, 40), 0, 255))
        for y in range(0, size, rng.randint(6, 14)):
            draw.rectangle([0, y, size, y + 2], fill=tone)
    r = rng.uniform(size * 0.18, size * 0.36)
    cx, cy = rng.uniform(r, size - r), rng.uniform(r, size - r)
    jitter = tuple(int(np.clip(v + rng.randint(-25, 25), 0, 255)) for v in target)
    if shape == "circle":
        draw.ellipse([cx - r, cy - r, cx + r, cy + r], fill=jitter)
    else:
        draw.polygon(_polygon(shape, cx, cy, r, rng.uniform(0, 2 * math.pi)), fill=jitter)
    return img


def classes() -> list[tuple[str, str]]:
    return [(c, s) for c in COLOURS for s in SHAPES]


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--steps", type=int, default=450)
    parser.add_argument("--batch", type=int, default=128)
    parser.add_argument("--out", default=str(Path(__file__).resolve().parents[1] / "tests" / "fixtures" / "tiny-clip"))
    args = parser.parse_args(argv)

    import open_clip
    import torch
    import torch.nn.functional as F  # noqa: N812
    from safetensors.torch import save_file

    torch.manual_seed(0)
    rng = random.Random(0)
    open_clip.add_model_config  # noqa: B018 - fail early if open_clip is too old
    model = open_clip.CLIP(**MODEL_CFG)
    tokenizer = open_clip.get_tokenizer("ViT-B-32", context_length=MODEL_CFG["text_cfg"]["context_length"])
    mean = torch.tensor(PREPROCESS_CFG["mean"]).view(1, 3, 1, 1)
    std = torch.tensor(PREPROCESS_CFG["std"]).view(1, 3, 1, 1)
    pairs = classes()

    def batch(n):
        picks = [pairs[rng.randrange(len(pairs))] for _ in range(n)]
        imgs = np.stack([np.asarray(render(c, s, rng), dtype=np.float32) / 255.0 for c, s in picks])
        x = (torch.from_numpy(imgs).permute(0, 3, 1, 2) - mean) / std
        texts = tokenizer([rng.choice(TEMPLATES).format(c=c, s=s) for c, s in picks])
        labels = torch.tensor([pairs.index(p) for p in picks])
        return x, texts, labels

    opt = torch.optim.AdamW(model.parameters(), lr=2e-3, weight_decay=0.05)
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=2e-3, total_steps=args.steps, pct_start=0.1)
    torch.set_num_threads(max(1, torch.get_num_threads()))
    start = time.time()
    model.train()
    for step in range(args.steps):
        x, t, labels = batch(args.batch)
        img, txt, scale = model(x, t)
        logits = scale * img @ txt.T
        # Captions of the same class are positives too (several per batch).
        same = (labels[:, None] == labels[None, :]).float()
        target = same / same.sum(1, keepdim=True)
        loss_i = -(target * F.log_softmax(logits, 1)).sum(1).mean()
        loss_t = -(target * F.log_softmax(logits.T, 1)).sum(1).mean()
        loss = (loss_i + loss_t) / 2
        opt.zero_grad()
        loss.backward()
        opt.step()
        sched.step()
        if step % 100 == 0 or step == args.steps - 1:
            print(f"step {step:4d}  loss {loss.item():.3f}  {time.time() - start:.0f}s", flush=True)

    model.eval()
    with torch.no_grad():
        text = model.encode_text(tokenizer([f"a {c} {s}" for c, s in pairs]), normalize=True)
        eval_rng = random.Random(12345)
        correct = total = 0
        for _ in range(10):
            picks = [pairs[eval_rng.randrange(len(pairs))] for _ in range(100)]
            imgs = np.stack([np.asarray(render(c, s, eval_rng), dtype=np.float32) / 255.0 for c, s in picks])
            x = (torch.from_numpy(imgs).permute(0, 3, 1, 2) - mean) / std
            pred = (model.encode_image(x, normalize=True) @ text.T).argmax(1)
            correct += sum(int(pairs[p] == q) for p, q in zip(pred.tolist(), picks, strict=True))
            total += len(picks)
    accuracy = correct / total
    print(f"zero-shot accuracy on fresh pictures: {accuracy:.1%} ({args.steps} steps, {time.time() - start:.0f}s)")

    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    state = {k: v.detach().to(torch.float16).contiguous() for k, v in model.state_dict().items()}
    save_file(state, str(out / "open_clip_model.safetensors"))
    config = {"model_cfg": MODEL_CFG, "preprocess_cfg": PREPROCESS_CFG}
    (out / "open_clip_config.json").write_text(json.dumps(config, indent=2) + "\n")
    (out / "README.md").write_text(
        "Tiny CLIP for Hearth's tests, trained by scripts/train_tiny_clip.py on synthetic coloured shapes.\n"
        f"Zero-shot accuracy on fresh pictures: {correct / total:.1%}. Not for real photos.\n"
    )
    print(f"saved to {out} ({(out / 'open_clip_model.safetensors').stat().st_size / 1e6:.1f} MB)")
    return 0


if __name__ == "__main__":
    sys.exit(main())

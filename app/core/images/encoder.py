"""OpenCLIP image and text embeddings, L2-normalised. Plain Python, no Qt.

A model is either a folder as published on the hub (open_clip_config.json and
open_clip_model.safetensors: loaded through open_clip's ``local-dir:`` path)
or one checkpoint file plus its architecture name. Weights load from
safetensors or with ``weights_only=True``: nothing is unpickled.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from app.core.hardware import physical_cores
from app.core.jobs import ModelError

log = logging.getLogger(__name__)


@dataclass
class EncoderDevice:
    device: str
    precision: str
    reason: str


def choose_device(prefer: str = "auto") -> EncoderDevice:
    if prefer == "cpu":
        return EncoderDevice("cpu", "fp32", "CPU chosen in settings")
    from app.core import hardware

    choice = hardware.detect().runtime("torch")
    if choice.device == "cuda":
        return EncoderDevice("cuda", "fp16", choice.reason)
    if choice.device == "mps":
        return EncoderDevice("mps", "fp32", choice.reason)
    return EncoderDevice("cpu", "fp32", choice.reason)


class ImageEncoder:
    def __init__(self, path: Path, architecture: str = "", device: str = "auto", model_id: str = ""):
        import open_clip
        import torch

        path = Path(path)
        self.model_id = model_id or path.stem
        self.choice = choose_device(device)
        torch.set_num_threads(physical_cores())
        try:
            if path.is_dir():
                name = "local-dir:" + str(path)
                model, _, preprocess = open_clip.create_model_and_transforms(
                    name, device=self.choice.device, precision=self.choice.precision, weights_only=True
                )
                tokenizer = open_clip.get_tokenizer(name)
            else:
                if not architecture:
                    raise ModelError(f"{path.name}: an OpenCLIP checkpoint needs its architecture (e.g. ViT-B-32)")
                model, _, preprocess = open_clip.create_model_and_transforms(
                    architecture, pretrained=str(path), device=self.choice.device,
                    precision=self.choice.precision, weights_only=True,
                )
                tokenizer = open_clip.get_tokenizer(architecture)
        except ModelError:
            raise
        except Exception as exc:  # open_clip raises many kinds; all mean "this is not a usable model"
            raise ModelError(f"the image model could not be loaded: {type(exc).__name__}: {exc}") from exc
        model.eval()
        self.model, self.preprocess, self.tokenizer = model, preprocess, tokenizer
        self.torch = torch
        size = getattr(model.visual, "image_size", 224)
        self.image_size = int(size[0] if isinstance(size, (tuple, list)) else size)
        log.info("image model %s on %s (%s)", self.model_id, self.choice.device, self.choice.reason)

    def embed_images(self, batch) -> np.ndarray:
        """batch: preprocessed tensors (a list or a stacked tensor)."""
        torch = self.torch
        x = batch if isinstance(batch, torch.Tensor) else torch.stack(list(batch))
        dtype = torch.float16 if self.choice.precision == "fp16" else torch.float32
        with torch.inference_mode():
            feats = self.model.encode_image(x.to(self.choice.device, dtype), normalize=True)
        return feats.float().cpu().numpy()

    def embed_text(self, texts: list[str]) -> np.ndarray:
        torch = self.torch
        with torch.inference_mode():
            feats = self.model.encode_text(self.tokenizer(texts).to(self.choice.device), normalize=True)
        return feats.float().cpu().numpy()

    def embed_pil(self, images) -> np.ndarray:
        return self.embed_images([self.preprocess(im) for im in images])

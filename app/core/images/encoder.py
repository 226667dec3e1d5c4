"""OpenCLIP image and text embeddings, L2-normalised. Plain Python, no Qt.

A model is either a folder as published on the hub (open_clip_config.json and
open_clip_model.safetensors: loaded through open_clip's ``local-dir:`` path)
or one checkpoint file plus its architecture name. Weights load from
safetensors or with ``weights_only=True``: nothing is unpickled.

A folder whose config names a Hugging Face tokenizer (SigLIP) gets its text
tokenizer from the folder's own tokenizer.json: open_clip would otherwise ask
transformers, which is not installed and would go to the network.
"""

from __future__ import annotations

import json
import logging
from pathlib import Path

import numpy as np

from app.core.hardware import choose_device, physical_cores
from app.core.jobs import ModelError

log = logging.getLogger(__name__)


class ImageEncoder:
    def __init__(self, path: Path, architecture: str = "", device: str = "auto", model_id: str = "",
                 on_measured=None):
        """``on_measured(seconds, images, device)``: after a whole index run, the model's embedding time."""
        import open_clip
        import torch

        from app.core.models.validate import check_clip_checkpoint, check_clip_folder

        path = Path(path)
        self.model_id = model_id or path.stem
        self.on_measured = on_measured
        self.choice = choose_device("torch", device)
        torch.set_num_threads(physical_cores())
        try:
            if path.is_dir():
                check_clip_folder(path)  # the weights open_clip picks in it, before it reads them
                name = "local-dir:" + str(path)
                model, _, preprocess = open_clip.create_model_and_transforms(
                    name, device=self.choice.device, precision=self.choice.detail, weights_only=True
                )
                tokenizer = folder_tokenizer(path) or open_clip.get_tokenizer(name)
            else:
                if not architecture:
                    raise ModelError(f"{path.name}: an OpenCLIP checkpoint needs its architecture (e.g. ViT-B-32)")
                check_clip_checkpoint(path)
                model, _, preprocess = open_clip.create_model_and_transforms(
                    architecture, pretrained=str(path), device=self.choice.device,
                    precision=self.choice.detail, weights_only=True,
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
        # A GPU needs bigger batches to be busy; on a CPU small ones keep progress and memory smooth.
        self.batch_size = 128 if self.choice.device == "cuda" else 32
        self._plan = _resize_plan(preprocess)
        if self._plan is not None:
            mean, std = self._plan[3], self._plan[4]
            self._mean = torch.tensor(mean, device=self.choice.device).view(1, 3, 1, 1) * 255
            self._std = torch.tensor(std, device=self.choice.device).view(1, 3, 1, 1) * 255
        log.info("image model %s on %s (%s)", self.model_id, self.choice.device, self.choice.reason)

    def prepare(self, image):
        """A decoded picture made ready for embed_images: the model's own resize and crop in
        PIL, kept as uint8 pixels. Scaling to floats and normalising wait for the whole batch
        (on the GPU where there is one): per picture they cost more than the decode, and they
        hold the GIL that the decoding threads share."""
        if self._plan is None:
            return self.preprocess(image)
        size, crop, resample = self._plan[:3]
        if image.mode != "RGB":
            image = image.convert("RGB")
        if isinstance(size, int):  # shorter side to size, as torchvision's Resize(int) does
            w, h = image.size
            if w <= h:
                new = (size, int(size * h / w))
            else:
                new = (int(size * w / h), size)
        else:
            new = (size[1], size[0])
        if image.size != new:
            image = image.resize(new, resample)
        w, h = image.size
        ch, cw = crop
        if w < cw or h < ch:  # torchvision pads here; rare enough to take the reference path
            return self.preprocess(image)
        top, left = int(round((h - ch) / 2.0)), int(round((w - cw) / 2.0))
        image = image.crop((left, top, left + cw, top + ch))
        return np.asarray(image, dtype=np.uint8)

    def embed_images(self, batch) -> np.ndarray:
        """batch: what prepare() gave (uint8 pixels or tensors), as a list, or a stacked tensor."""
        torch = self.torch
        dtype = torch.float16 if self.choice.detail == "fp16" else torch.float32
        if not isinstance(batch, torch.Tensor) and any(isinstance(b, np.ndarray) for b in batch):
            tensors = [b for b in batch if not isinstance(b, np.ndarray)]
            if tensors:  # mixed (a padded odd one): bring every item to the reference form
                batch = [self._to_tensor(b) if isinstance(b, np.ndarray) else b for b in batch]
            else:
                pixels = torch.from_numpy(np.stack(batch)).to(self.choice.device, non_blocking=True)
                x = (pixels.permute(0, 3, 1, 2).float() - self._mean) / self._std
                with torch.inference_mode():
                    feats = self.model.encode_image(x.to(dtype), normalize=True)
                return feats.float().cpu().numpy()
        x = batch if isinstance(batch, torch.Tensor) else torch.stack(list(batch))
        with torch.inference_mode():
            feats = self.model.encode_image(x.to(self.choice.device, dtype), normalize=True)
        return feats.float().cpu().numpy()

    def report_speed(self, seconds: float, images: int) -> None:
        """Called by an index run that was not cancelled: how long embedding its pictures took."""
        if self.on_measured is not None:
            self.on_measured(seconds, images, self.choice.device)

    def _to_tensor(self, pixels: np.ndarray):
        x = self.torch.from_numpy(pixels.copy()).permute(2, 0, 1).float().unsqueeze(0)
        return ((x - self._mean.cpu()) / self._std.cpu())[0]

    def embed_text(self, texts: list[str]) -> np.ndarray:
        torch = self.torch
        with torch.inference_mode():
            feats = self.model.encode_text(self.tokenizer(texts).to(self.choice.device), normalize=True)
        return feats.float().cpu().numpy()

    def embed_pil(self, images) -> np.ndarray:
        return self.embed_images([self.prepare(im) for im in images])


MAX_TOKENIZER_BYTES = 64 << 20  # a real tokenizer.json is a few MB


class MissingTokenizer:
    """Stands in when a folder's config names a hub tokenizer whose files are not there: pictures
    still index, and a text query says what is missing instead of reaching for the network."""

    def __init__(self, folder: Path, why: str):
        self.message = f"text search needs this model's tokenizer ({why} in {folder.name}); download the model again"

    def fail(self):
        raise ModelError(self.message)

    def __call__(self, texts, context_length=None):
        self.fail()


class FolderTokenizer:
    """open_clip's HFTokenizer for a model folder, read from its tokenizer.json with the tokenizers
    library: the same cleaning, truncation and right padding to the context length, no network."""

    def __init__(self, folder: Path, text_cfg: dict):
        import torch
        from open_clip.tokenizer import get_clean_fn
        from tokenizers import Tokenizer

        kwargs = text_cfg.get("tokenizer_kwargs") or {}
        if not isinstance(kwargs, dict):
            raise ModelError(f"{folder.name}: open_clip_config.json has bad tokenizer_kwargs")
        self.torch = torch
        self.clean_fn = get_clean_fn(str(kwargs.get("clean", "whitespace")))
        self.strip_sep_token = bool(kwargs.get("strip_sep_token", False))
        self.context_length = int(text_cfg.get("context_length", 77))
        if not 0 < self.context_length <= 4096:
            raise ModelError(f"{folder.name}: bad text context_length {self.context_length}")
        source = folder / "tokenizer.json"
        if source.stat().st_size > MAX_TOKENIZER_BYTES:
            raise ModelError(f"{folder.name}: tokenizer.json is implausibly large")
        self.tokenizer = Tokenizer.from_file(str(source))
        special = _special_tokens(folder)
        pad = special.get("pad_token")
        pad_id = self.tokenizer.token_to_id(pad) if pad else None
        if pad_id is None:
            raise ModelError(f"{folder.name}: the tokenizer names no padding token that it knows")
        self.pad_token_id: int = pad_id
        sep = special.get("sep_token")
        self.sep_token_id = self.tokenizer.token_to_id(sep) if sep else None
        self.tokenizer.no_padding()
        self.tokenizer.no_truncation()

    def __call__(self, texts, context_length: int | None = None):
        if isinstance(texts, str):
            texts = [texts]
        length = context_length or self.context_length
        self.tokenizer.enable_truncation(max_length=length)
        self.tokenizer.enable_padding(length=length, pad_id=self.pad_token_id,
                                      pad_token=self.tokenizer.id_to_token(self.pad_token_id))
        rows = [e.ids for e in self.tokenizer.encode_batch([self.clean_fn(t) for t in texts])]
        ids = self.torch.tensor(rows, dtype=self.torch.long)
        if self.strip_sep_token and self.sep_token_id is not None:
            ids = self.torch.where(ids == self.sep_token_id, self.torch.full_like(ids, self.pad_token_id), ids)
        return ids


def _special_tokens(folder: Path) -> dict[str, str]:
    """pad/sep/eos names as transformers reads them: special_tokens_map.json over tokenizer_config.json."""
    found: dict[str, str] = {}
    for name in ("tokenizer_config.json", "special_tokens_map.json"):
        try:
            data = json.loads((folder / name).read_text(encoding="utf-8"))
        except (OSError, ValueError):
            continue
        if not isinstance(data, dict):
            continue
        for key in ("pad_token", "sep_token", "eos_token"):
            value = data.get(key)
            if isinstance(value, dict):
                value = value.get("content")
            if isinstance(value, str) and value:
                found[key] = value
    return found


def folder_tokenizer(folder: Path):
    """The tokenizer for a hub-style folder whose config names a Hugging Face tokenizer; None when
    open_clip's own (bundled, offline) tokenizers serve the model."""
    try:
        config = json.loads((folder / "open_clip_config.json").read_text(encoding="utf-8"))
        text_cfg = config["model_cfg"].get("text_cfg") or {}
    except (OSError, ValueError, KeyError, TypeError, AttributeError):
        return None  # open_clip reports a bad config itself
    if not isinstance(text_cfg, dict) or not text_cfg.get("hf_tokenizer_name"):
        return None
    if not (folder / "tokenizer.json").is_file():
        log.warning("%s: tokenizer.json missing; text search is unavailable", folder)
        return MissingTokenizer(folder, "tokenizer.json is missing")
    try:
        return FolderTokenizer(folder, text_cfg)
    except ModelError:
        raise
    except Exception as exc:  # the tokenizers library raises its own kinds for a bad file
        raise ModelError(f"{folder.name}: the text tokenizer could not be read: {exc}") from exc


def _resize_plan(preprocess):
    """(size, crop, resample, mean, std) when the model's transform is the usual
    resize, centre-crop, to-tensor, normalise chain; None for anything else, which
    then runs the transform itself."""
    from PIL import Image

    steps = getattr(preprocess, "transforms", None)
    if not steps:
        return None
    names = [getattr(t, "__name__", "") if type(t).__name__ == "function" else type(t).__name__ for t in steps]
    resample = {"bicubic": Image.Resampling.BICUBIC, "bilinear": Image.Resampling.BILINEAR}
    size = crop = mean = std = None
    method = None
    for t, name in zip(steps, names, strict=True):
        if name == "Resize":
            if getattr(t, "max_size", None) is not None or getattr(t, "antialias", True) is False:
                return None
            method = resample.get(str(getattr(t.interpolation, "value", t.interpolation)).lower())
            size = t.size if isinstance(t.size, int) else tuple(t.size)
            if isinstance(size, tuple) and len(size) == 1:
                size = size[0]
            if method is None:
                return None
        elif name == "CenterCrop":
            crop = tuple(t.size)
        elif name == "Normalize":
            mean, std = tuple(float(v) for v in t.mean), tuple(float(v) for v in t.std)
        elif name not in ("MaybeConvertMode", "MaybeToTensor", "ToTensor", "_convert_to_rgb"):
            return None
    if size is None or crop is None or mean is None or len(mean) != 3:
        return None
    return size, crop, method, mean, std

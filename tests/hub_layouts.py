"""Serves a shipped catalog entry's exact file layout from the loopback hub, with small stand-in bytes.

The repo, the revision and every file name come from resources/catalog.json, so
a test that installs the result walks the same URLs a user's download does; only
the bytes (and so the sizes and pinned hashes) are the tiny test models'.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

from app.core.models.catalog import find, load_catalog

ROOT = Path(__file__).resolve().parents[1]
TINY_CLIP = ROOT / "tests" / "fixtures" / "tiny-clip"


def serve_entry(hub, entry_id: str, contents: dict[str, bytes]) -> dict:
    """Serves ``contents`` (one item per file of the shipped entry) and returns a raw catalog entry
    for them: the shipped entry's repo, revision and file names, the stand-in sizes, and a pinned
    sha256 wherever the shipped entry pins one."""
    shipped = find(entry_id, load_catalog())
    assert shipped is not None, entry_id
    names = [f.path for f in shipped.files]
    assert sorted(names) == sorted(contents), f"{entry_id} lists {names}, the test serves {sorted(contents)}"
    files = []
    for f in shipped.files:
        data = contents[f.path]
        hub.add(shipped.repo, f.path, data, revision=shipped.revision)
        item = {"path": f.path, "size": len(data)}
        if f.sha256:
            item["sha256"] = hashlib.sha256(data).hexdigest()
        files.append(item)
    return {
        "id": shipped.id, "kind": shipped.kind, "name": shipped.name, "architecture": shipped.architecture,
        "source": {"repo": shipped.repo, "revision": shipped.revision, "files": files},
        "size": sum(f["size"] for f in files), "licence": shipped.licence, "languages": list(shipped.languages),
        "ram_gb": shipped.ram_gb, "vram_gb": shipped.vram_gb, "description": shipped.description,
    }


def whisper_contents(whisper_dir: Path) -> dict[str, bytes]:
    """The starter Whisper base under the large-v3 names (vocabulary.json, preprocessor_config.json)."""
    preprocessor = {"feature_size": 80, "sampling_rate": 16000, "hop_length": 160, "chunk_length": 30,
                    "n_fft": 400}  # base's 80 mel bins; faster-whisper reads this file when present
    return {
        "config.json": (whisper_dir / "config.json").read_bytes(),
        "model.bin": (whisper_dir / "model.bin").read_bytes(),
        "preprocessor_config.json": json.dumps(preprocessor).encode(),
        "tokenizer.json": (whisper_dir / "tokenizer.json").read_bytes(),
        "vocabulary.json": (whisper_dir / "vocabulary.json").read_bytes(),
    }


def openclip_contents(weights_name: str) -> dict[str, bytes]:
    """The tiny CLIP under an OpenCLIP repo's names."""
    return {
        "open_clip_config.json": (TINY_CLIP / "open_clip_config.json").read_bytes(),
        weights_name: (TINY_CLIP / "open_clip_model.safetensors").read_bytes(),
    }


SIGLIP_VOCAB = ["<pad>", "</s>", "<unk>", "a", "photo", "of", "red", "blue", "green", "yellow", "purple",
                "circle", "square", "triangle", "star"]


def siglip_tokenizer_files() -> dict[str, bytes]:
    """A tiny tokenizer in the files a SigLIP repo publishes, built with the tokenizers library:
    word-level over SIGLIP_VOCAB, </s> appended as T5's is, <pad> for padding."""
    from tokenizers import Tokenizer, models, pre_tokenizers, processors

    tok = Tokenizer(models.WordLevel({w: i for i, w in enumerate(SIGLIP_VOCAB)}, unk_token="<unk>"))
    tok.pre_tokenizer = pre_tokenizers.WhitespaceSplit()
    tok.post_processor = processors.TemplateProcessing(single="$A </s>", special_tokens=[("</s>", 1)])
    special = {"eos_token": "</s>", "pad_token": "<pad>", "unk_token": "<unk>"}
    return {
        "tokenizer.json": tok.to_str().encode(),
        "special_tokens_map.json": json.dumps(special).encode(),
        "tokenizer_config.json": json.dumps({"model_max_length": 16, "tokenizer_class": "T5Tokenizer",
                                             **special}).encode(),
    }


def siglip_contents() -> dict[str, bytes]:
    """The tiny CLIP laid out as timm/ViT-B-16-SigLIP is: its config names a hub tokenizer (which open_clip
    would fetch) and the tokenizer's files sit beside the weights."""
    config = json.loads((TINY_CLIP / "open_clip_config.json").read_text(encoding="utf-8"))
    config["model_cfg"]["text_cfg"].update(hf_tokenizer_name="timm/ViT-B-16-SigLIP",
                                           tokenizer_kwargs={"clean": "canonicalize"})
    return {
        "open_clip_config.json": json.dumps(config, indent=2).encode(),
        "open_clip_model.safetensors": (TINY_CLIP / "open_clip_model.safetensors").read_bytes(),
        **siglip_tokenizer_files(),
    }

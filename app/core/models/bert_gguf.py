"""A sentence-transformers BERT folder (safetensors + tokenizer.json) to a llama.cpp GGUF, offline.

llama.cpp's own ``convert_hf_to_gguf.py`` needs ``transformers`` (AutoConfig, AutoTokenizer) and torch
to run; this writes the same file with only ``gguf`` and numpy: BERT is a few dozen tensors whose
llama.cpp names come from ``gguf``'s own name map, and a WordPiece vocabulary read from tokenizer.json.
What it writes matches that script's BertModel: phantom-space tokens, f16 matrices, f32 norms and
biases, the pooling from the sentence-transformers Pooling config.
"""

from __future__ import annotations

import json
import struct
from pathlib import Path
from typing import Any

import numpy as np

from app.core.jobs import ModelError

_DTYPES = {"F32": np.float32, "F16": np.float16, "BF16": None, "I64": np.int64}
_SKIP = ("embeddings.position_ids", "pooler.", "cls.predictions", "cls.seq_relationship")
MAX_HEADER = 100 << 20
_ADDED = ("position_embd", "token_types")


def read_safetensors(path: Path) -> dict[str, np.ndarray]:
    """The tensors of a .safetensors file (its format: a length, a JSON header, raw little-endian data)."""
    raw = path.read_bytes()
    if len(raw) < 8:
        raise ModelError(f"{path.name} is not a safetensors file")
    (n,) = struct.unpack("<Q", raw[:8])
    if n > min(MAX_HEADER, len(raw) - 8):
        raise ModelError(f"{path.name} is damaged: its header runs past the file")
    try:
        header = json.loads(raw[8 : 8 + n])
    except ValueError:
        raise ModelError(f"{path.name} is damaged: its header is not JSON") from None
    base, out = 8 + n, {}
    for name, spec in header.items():
        if name == "__metadata__":
            continue
        dtype = _DTYPES.get(spec.get("dtype"))
        start, end = spec["data_offsets"]
        if dtype is None and spec.get("dtype") == "BF16":
            words = np.frombuffer(raw, "<u2", (end - start) // 2, base + start).astype(np.uint32) << 16
            out[name] = words.view(np.float32).reshape(spec["shape"])
            continue
        if dtype is None or base + end > len(raw):
            raise ModelError(f"{path.name}: tensor {name} cannot be read ({spec.get('dtype')})")
        count = (end - start) // np.dtype(dtype).itemsize
        out[name] = np.frombuffer(raw, np.dtype(dtype).newbyteorder("<"), count, base + start).reshape(spec["shape"])
    return out


def _pooling(folder: Path) -> Any:  # a gguf.PoolingType (gguf is imported lazily)
    import gguf

    for module in json.loads((folder / "modules.json").read_text()) if (folder / "modules.json").exists() else []:
        if str(module.get("type", "")).endswith("Pooling"):
            config = json.loads((folder / module["path"] / "config.json").read_text())
            if config.get("pooling_mode_cls_token"):
                return gguf.PoolingType.CLS
            if config.get("pooling_mode_lasttoken"):
                return gguf.PoolingType.LAST
    return gguf.PoolingType.MEAN


def _vocab(folder: Path, n_vocab: int) -> tuple[list[str], list[Any]]:  # gguf.TokenType values
    import gguf

    tok = json.loads((folder / "tokenizer.json").read_text(encoding="utf-8"))
    if tok.get("model", {}).get("type") != "WordPiece":
        raise ModelError("only WordPiece (BERT) tokenizers can be converted")
    by_id = {i: t for t, i in tok["model"]["vocab"].items()}
    special = {a["id"] for a in tok.get("added_tokens", []) if a.get("special")}
    tokens, types = [], []
    for i in range(n_vocab):
        t = by_id.get(i)
        if t is None:
            tokens.append(f"[PAD{i}]")
            types.append(gguf.TokenType.UNUSED)
        elif i in special:
            tokens.append(t)
            types.append(gguf.TokenType.CONTROL)
        else:  # llama.cpp's WordPiece marks a word's start with U+2581 instead of "##" on its continuations
            tokens.append(t[2:] if t.startswith("##") else "\u2581" + t)
            types.append(gguf.TokenType.NORMAL)
    return tokens, types


def convert_bert(folder: Path, target: Path, name: str = "") -> Path:
    """Writes ``target`` from a BERT sentence-transformers folder; ModelError for what it cannot read."""
    import gguf

    folder, target = Path(folder), Path(target)
    try:
        config = json.loads((folder / "config.json").read_text())
        if config.get("model_type") != "bert":
            raise ModelError(f"{folder.name} is a {config.get('model_type')} model, not BERT")
        tensors = read_safetensors(folder / "model.safetensors")
        n_layers = int(config["num_hidden_layers"])
        tokens, types = _vocab(folder, int(config["vocab_size"]))
    except (OSError, KeyError, ValueError) as exc:
        raise ModelError(f"{folder.name} cannot be converted: {exc}") from exc
    names = gguf.get_tensor_name_map(gguf.MODEL_ARCH.BERT, n_layers)
    writer = gguf.GGUFWriter(str(target), "bert")
    writer.add_name(name or folder.name)
    writer.add_file_type(gguf.LlamaFileType.MOSTLY_F16)
    writer.add_context_length(int(config["max_position_embeddings"]))
    writer.add_embedding_length(int(config["hidden_size"]))
    writer.add_feed_forward_length(int(config["intermediate_size"]))
    writer.add_block_count(n_layers)
    writer.add_head_count(int(config["num_attention_heads"]))
    writer.add_layer_norm_eps(float(config.get("layer_norm_eps", 1e-12)))
    writer.add_causal_attention(False)
    writer.add_pooling_type(_pooling(folder))
    writer.add_token_type_count(int(config.get("type_vocab_size", 1)))
    writer.add_tokenizer_model("bert")
    writer.add_tokenizer_pre("default")
    writer.add_token_list(tokens)
    writer.add_token_types(types)
    special = gguf.SpecialVocab(folder, n_vocab=len(tokens))
    special.special_token_ids.pop("cls", None)  # llama.cpp's BERT takes [CLS] as its BOS, which is set
    special.add_to_gguf(writer, quiet=True)
    for hf_name, data in tensors.items():
        hf_name = hf_name.removeprefix("bert.")
        if hf_name.startswith(_SKIP):
            continue
        new = names.get_name(hf_name, try_suffixes=(".weight", ".bias"))
        if new is None:
            raise ModelError(f"{folder.name}: the tensor {hf_name} has no llama.cpp name")
        # as llama.cpp's converter at f16: matrices in f16; vectors, norms and the embeddings that are
        # added (not looked up: ggml's CPU add takes no f16 operand) stay f32
        half = data.ndim == 2 and not new.startswith(_ADDED) and not new.endswith("_norm.weight")
        dtype = np.float16 if half else np.float32
        writer.add_tensor(new, np.ascontiguousarray(data, dtype=dtype))
    try:
        writer.write_header_to_file()
        writer.write_kv_data_to_file()
        writer.write_tensors_to_file()
    finally:
        writer.close()
    return target

"""A plain BERT forward pass in torch, straight from a sentence-transformers folder's safetensors:
the reference the converted starter embedding model is checked against (mean pooling, L2-normalised,
as sentence-transformers' all-MiniLM-L6-v2 does)."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np


def reference_embeddings(folder: Path, texts: list[str], max_tokens: int = 256) -> np.ndarray:
    import torch
    from safetensors.torch import load_file
    from tokenizers import Tokenizer

    config = json.loads((folder / "config.json").read_text())
    w = load_file(str(folder / "model.safetensors"))
    tok = Tokenizer.from_file(str(folder / "tokenizer.json"))
    tok.no_padding()  # the file pads to 128
    tok.enable_truncation(max_tokens)
    heads, eps = config["num_attention_heads"], config["layer_norm_eps"]

    def norm(x, name):
        return torch.nn.functional.layer_norm(x, x.shape[-1:], w[name + ".weight"], w[name + ".bias"], eps)

    def dense(x, name):
        return x @ w[name + ".weight"].T + w[name + ".bias"]

    out = []
    with torch.no_grad():
        for text in texts:
            ids = torch.tensor(tok.encode(text).ids)
            n = len(ids)
            x = w["embeddings.word_embeddings.weight"][ids] + w["embeddings.position_embeddings.weight"][:n] \
                + w["embeddings.token_type_embeddings.weight"][0]
            x = norm(x, "embeddings.LayerNorm")
            for i in range(config["num_hidden_layers"]):
                p = f"encoder.layer.{i}."
                q, k, v = (dense(x, p + f"attention.self.{m}").view(n, heads, -1).transpose(0, 1)
                           for m in ("query", "key", "value"))
                att = torch.softmax(q @ k.transpose(1, 2) / math.sqrt(q.shape[-1]), dim=-1)
                ctx = (att @ v).transpose(0, 1).reshape(n, -1)
                x = norm(x + dense(ctx, p + "attention.output.dense"), p + "attention.output.LayerNorm")
                h = torch.nn.functional.gelu(dense(x, p + "intermediate.dense"))
                x = norm(x + dense(h, p + "output.dense"), p + "output.LayerNorm")
            v = x.mean(0)
            out.append((v / v.norm()).numpy())
    return np.stack(out).astype(np.float32)

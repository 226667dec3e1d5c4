"""Resemblyzer's voice encoder weights as Hearth keeps them: its tensors in a .npz, loaded with no pickle.

The wheel's pretrained.pt is a legacy torch pickle with the optimizer's state (17 MB); it is read once,
at provisioning, by torch's weights-only unpickler, and only the encoder's tensors are kept (5 MB).
app.core.speech.voices runs them.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from app.core.jobs import ModelError

N_MELS, HIDDEN, LAYERS = 40, 256, 3


def shapes() -> dict[str, tuple[int, ...]]:
    shapes = {"linear.weight": (HIDDEN, HIDDEN), "linear.bias": (HIDDEN,)}
    for layer in range(LAYERS):
        shapes |= {f"lstm.weight_ih_l{layer}": (4 * HIDDEN, N_MELS if layer == 0 else HIDDEN),
                   f"lstm.weight_hh_l{layer}": (4 * HIDDEN, HIDDEN),
                   f"lstm.bias_ih_l{layer}": (4 * HIDDEN,), f"lstm.bias_hh_l{layer}": (4 * HIDDEN,)}
    return shapes


def convert_checkpoint(source: Path, target: Path) -> Path:
    """Resemblyzer's pretrained.pt (a torch pickle, read by the weights-only unpickler) to a .npz."""
    import torch

    try:
        state = torch.load(source, map_location="cpu", weights_only=True)["model_state"]
        arrays = {k: state[k].numpy().astype(np.float32) for k in shapes()}
    except (OSError, RuntimeError, KeyError, TypeError, AttributeError, ValueError) as exc:
        raise ModelError(f"{source.name} is not Resemblyzer's voice encoder: {exc}") from exc
    with open(target, "wb") as fh:
        np.savez(fh, **arrays)
    check_weights(target)
    return target


def check_weights(path: Path) -> dict[str, np.ndarray]:
    """The encoder's tensors, every name and shape as expected; nothing unpickled."""
    try:
        with np.load(path, allow_pickle=False) as npz:
            arrays = {k: npz[k] for k in shapes() if k in npz.files}
    except (OSError, ValueError, EOFError) as exc:
        raise ModelError(f"{Path(path).name}: not a readable speaker model ({exc})") from exc
    wrong = [k for k, shape in shapes().items() if not isinstance(arrays.get(k), np.ndarray)
             or arrays[k].shape != shape or arrays[k].dtype != np.float32]
    if wrong:
        raise ModelError(f"{Path(path).name}: not Resemblyzer's voice encoder ({', '.join(wrong[:3])} missing or "
                         f"of another shape)")
    return arrays

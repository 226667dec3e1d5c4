"""Resemblyzer's voice encoder weights as Hearth keeps them: its tensors in a .npz, loaded with no pickle.

The wheel's pretrained.pt is a legacy torch pickle with the optimizer's state (17 MB); it is read once,
at provisioning, by torch's weights-only unpickler, and only the encoder's tensors are kept (5 MB).
app.core.speech.voices runs them.
"""

from __future__ import annotations

import logging
import zipfile
from pathlib import Path

import numpy as np

from app.core.jobs import ModelError

log = logging.getLogger(__name__)
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
    """The encoder's tensors, every name and shape as expected; nothing unpickled. Each array's header is
    read before its data: a header may claim any shape, which np.load would allocate (a 4 TiB MemoryError)."""
    name = Path(path).name
    arrays: dict[str, np.ndarray] = {}
    try:
        with zipfile.ZipFile(path) as zf:
            members = set(zf.namelist())
            for key, shape in shapes().items():
                if key + ".npy" in members:
                    with zf.open(key + ".npy") as fh:
                        got = _read_array(fh, shape)
                    if got is not None:
                        arrays[key] = got
    except (OSError, ValueError, EOFError, zipfile.BadZipFile, zipfile.LargeZipFile) as exc:
        log.info("speaker model %s could not be read: %r", name, exc)
        raise ModelError(f"{name}: not a readable speaker model (a .npz of Resemblyzer's voice encoder "
                         "tensors)") from exc
    wrong = [k for k in shapes() if k not in arrays]
    if wrong:
        raise ModelError(f"{name}: not Resemblyzer's voice encoder ({', '.join(wrong[:3])} missing or "
                         f"of another shape)")
    return arrays


def _read_array(fh, shape: tuple[int, ...]) -> np.ndarray | None:
    """A little-endian float32 C-order array of exactly this shape from an .npy stream, else None."""
    version = np.lib.format.read_magic(fh)
    read_header = np.lib.format.read_array_header_1_0 if version == (1, 0) else np.lib.format.read_array_header_2_0
    got_shape, fortran, dtype = read_header(fh, max_header_size=4096)
    if tuple(got_shape) != shape or fortran or dtype != np.dtype("<f4"):
        return None
    size = 4 * int(np.prod(shape))
    data = fh.read(size)
    if len(data) != size:
        return None
    return np.frombuffer(data, dtype="<f4").reshape(shape).copy()

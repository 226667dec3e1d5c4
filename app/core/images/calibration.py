"""Duplicate thresholds per CLIP model: a cosine means different things in different models' spaces.

How each row was set: `scripts/calibrate_duplicates.py MODEL --kinds 8 --seeds 5` makes the synthetic
test sets of tests/dupe_scenes.py (textured scenes whose subject is one of the tiny CLIP's colour-shape
kinds; each photo re-encoded at JPEG quality 35, halved, cropped 4% a side, 25% brighter, blurred, and a
burst of 4 frames panning 6 px) beside distinct scenes of the same kind, and prints the pHash distance
(bits of 64) and CLIP cosine of each kind of pair. A bound sits between the worst pair that must group
and the best pair that must not.

tiny-clip, measured 2026-12-07 (40 pairs per variant, 120 burst steps, 288 distinct pairs):

    pairs                hash min..max   cosine min..max
    re-encoded            0..4           0.991..1.000
    resized               0..4           0.995..1.000
    cropped 4%            2..14          0.514..0.998
    brighter              0..8           0.746..0.998
    blurred               0..4           0.886..0.999
    burst, next frame     0..10          0.323..0.998
    distinct, same kind  20..42         -0.503..0.981

  The tiny CLIP (trained on flat coloured shapes only) cannot tell a copy from another photo
  of the same kind: distinct scenes reach 0.981 while a crop falls to 0.514. So for it the hash carries
  the decision (16 bits: between 14 and 20) and the cosine floor is set below every variant measured,
  where it only vetoes pictures of unrelated kinds. That is what the test suite exercises.
- Every other model (the catalog's CLIP and SigLIP models, a checkpoint by path): NOT measured, as
  those models are not in this repository. DEFAULT keeps tiny-clip's hash bounds and asks the vector
  for a conservative 0.92 (0.90 in a burst, where a looser hash is let through), so CLIP can only make
  groups smaller than the hash alone would. Run the script with the model installed and add its row.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Thresholds:
    near_hash: int  # most pHash bits (of 64) a near-duplicate may differ by
    near_cosine: float  # least CLIP cosine of a near-duplicate
    burst_hash: int  # the same for frames of a burst (shifted content moves the hash more)
    burst_cosine: float
    burst_seconds: float  # most seconds between two frames of a burst (EXIF date taken)
    source: str = ""  # how the row was set


DEFAULT = Thresholds(16, 0.92, 22, 0.90, 5.0, "not calibrated for this model: hash bounds from tiny-clip's sets")

CALIBRATION: dict[str, Thresholds] = {
    "tiny-clip": Thresholds(16, 0.30, 16, 0.20, 5.0, "measured: scripts/calibrate_duplicates.py, see above"),
}


def thresholds_for(model_key: str) -> Thresholds:
    """The row for an index key ("<model id>:<sha>"); DEFAULT for a model not in the table or a path."""
    model_id = model_key.split(":", 1)[0]
    return CALIBRATION.get(model_id, DEFAULT)

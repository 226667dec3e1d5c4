"""Photos made for the date and place tests: coloured shapes with EXIF dates and GPS written by Pillow."""

from __future__ import annotations

import os
import random
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from PIL import Image

from tests.helpers import shapes_module

LISBON = (38.7107, -9.1380)
PORTO = (41.1496, -8.6110)
TOKYO = (35.6812, 139.7671)
PARIS = (48.8566, 2.3522)


@dataclass
class Shot:
    name: str
    taken: str | None  # "2023:08:15 10:00:00" as EXIF writes it; None: no EXIF date
    where: tuple[float, float] | None = None
    offset: str | None = None


# Each photo's file time is 2020-01-15 (the fallback for those without a date).
SHOTS = [
    Shot("lisbon-aug-2023.jpg", "2023:08:15 10:00:00", LISBON, "+01:00"),
    Shot("porto-jul-2023.jpg", "2023:07:02 18:30:00", PORTO),
    Shot("tokyo-mar-2023.jpg", "2023:03:20 09:00:00", TOKYO, "+09:00"),
    Shot("lisbon-dec-2021.jpg", "2021:12:31 23:59:00", LISBON),
    Shot("paris-aug-2022.png", "2022:08:10 12:00:00", PARIS),
    Shot("no-gps-aug-2023.jpg", "2023:08:01 00:00:00"),
    Shot("no-exif.jpg", None),
    Shot("no-exif.png", None),
]
FILE_TIME = datetime(2020, 1, 15, 12, 0).timestamp()


def _dms(value: float) -> tuple[float, float, float]:
    value = abs(value)
    d = int(value)
    m = int((value - d) * 60)
    return float(d), float(m), round((value - d - m / 60) * 3600, 4)


def exif_for(shot: Shot) -> Image.Exif:
    exif = Image.Exif()
    if shot.taken is None:
        return exif
    exif[0x010F], exif[0x0110] = "Hearth", "Test Camera"
    sub = exif.get_ifd(0x8769)
    sub[0x9003] = shot.taken
    if shot.offset:
        sub[0x9011] = shot.offset
    if shot.where:
        gps = exif.get_ifd(0x8825)
        lat, lon = shot.where
        gps[1], gps[2] = ("N" if lat >= 0 else "S"), _dms(lat)
        gps[3], gps[4] = ("E" if lon >= 0 else "W"), _dms(lon)
    return exif


def dated_photos(folder: Path, shots: list[Shot] = SHOTS) -> dict[str, Path]:
    """name -> path of each shot, made in folder, each a different coloured shape."""
    shapes = shapes_module()
    rng = random.Random(3)
    classes = shapes.classes()
    folder.mkdir(parents=True, exist_ok=True)
    out = {}
    for i, shot in enumerate(shots):
        colour, shape = classes[i % len(classes)]
        path = folder / shot.name
        im = shapes.render(colour, shape, rng, size=96).convert("RGB")
        im.save(path, "PNG" if path.suffix == ".png" else "JPEG", exif=exif_for(shot))
        os.utime(path, (FILE_TIME, FILE_TIME))
        out[shot.name] = path
    return out

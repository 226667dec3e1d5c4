"""A photo's metadata, read from the picture already opened for the model (never a second open):
when it was taken (EXIF DateTimeOriginal, with its offset; else the file's time, marked so), the
camera, the orientation and the GPS position. EXIF is hostile input: every field is checked and
bounded, and a damaged block gives what could be read, never an error that stops indexing."""

from __future__ import annotations

import logging
import math
import re
from dataclasses import dataclass
from datetime import datetime

from app.core.images.exif_ifd import read_ifd, tiff_block

log = logging.getLogger(__name__)

EXIF_IFD, GPS_IFD = 0x8769, 0x8825
MAKE, MODEL, ORIENTATION, DATETIME = 0x010F, 0x0110, 0x0112, 0x0132
DATETIME_ORIGINAL, DATETIME_DIGITIZED, OFFSET_ORIGINAL = 0x9003, 0x9004, 0x9011
MAX_TEXT = 64
_DATE = re.compile(r"\s*(\d{4}):(\d{2}):(\d{2})[ T](\d{2}):(\d{2}):(\d{2})")
_OFFSET = re.compile(r"\s*([+-])(\d{2}):(\d{2})\s*$")
WANTED = {EXIF_IFD: frozenset({DATETIME_ORIGINAL, DATETIME_DIGITIZED, OFFSET_ORIGINAL}),
           GPS_IFD: frozenset({1, 2, 3, 4})}


@dataclass
class PhotoMeta:
    taken: str | None = None  # local time as ISO 8601 ("2023-08-15T10:00:00"), sortable as text
    taken_offset: str | None = None  # "+01:00" when the camera recorded it
    taken_source: str | None = None  # "exif" or "file" (the file's modification time, a fallback)
    make: str | None = None
    model: str | None = None
    orientation: int | None = None
    lat: float | None = None
    lon: float | None = None


def read_exif(im) -> PhotoMeta:
    """What a PIL picture's EXIF says; empty fields where it says nothing usable."""
    meta = PhotoMeta()
    try:
        exif = im.getexif()
    except Exception as exc:  # noqa: BLE001 - any damage in EXIF just means no metadata
        log.debug("unreadable EXIF: %r", exc)
        return meta
    block = tiff_block(im.info)

    def sub(tag: int):
        # The main directory is Pillow's (opening the picture to turn it upright reads it anyway); the
        # two below it are read here, and only their few tags (exif_ifd). TIFF files keep no raw block.
        return read_ifd(block, exif.get(tag), WANTED[tag]) if block is not None else exif.get_ifd(tag)

    for step in (_camera, _date, _gps):
        try:
            step(exif, sub, meta)
        except Exception as exc:  # noqa: BLE001 - one damaged part leaves the others
            log.debug("damaged EXIF field: %r", exc)
    return meta


def with_file_time(meta: PhotoMeta, mtime: float) -> PhotoMeta:
    """The file's time where EXIF gave no date, marked "file"."""
    if meta.taken is None:
        try:
            when = datetime.fromtimestamp(mtime).astimezone()
        except (OverflowError, OSError, ValueError):
            return meta
        meta.taken = when.replace(tzinfo=None, microsecond=0).isoformat()
        meta.taken_offset = _format_offset(when.utcoffset())
        meta.taken_source = "file"
    return meta


def _camera(exif, sub, meta: PhotoMeta) -> None:
    meta.make, meta.model = _text(exif.get(MAKE)), _text(exif.get(MODEL))
    o = exif.get(ORIENTATION)
    meta.orientation = o if isinstance(o, int) and 1 <= o <= 8 else None


def _date(exif, sub, meta: PhotoMeta) -> None:
    tags = sub(EXIF_IFD)
    for raw in (tags.get(DATETIME_ORIGINAL), tags.get(DATETIME_DIGITIZED), exif.get(DATETIME)):
        when = _parse_date(raw)
        if when is not None:
            meta.taken, meta.taken_source = when.isoformat(), "exif"
            offset = _text(tags.get(OFFSET_ORIGINAL))
            meta.taken_offset = offset.strip() if offset and _OFFSET.match(offset) else None
            return


def _gps(exif, sub, meta: PhotoMeta) -> None:
    gps = sub(GPS_IFD)
    lat, lon = _degrees(gps.get(2), gps.get(1), "NS"), _degrees(gps.get(4), gps.get(3), "EW")
    if lat is None or lon is None or not (-90 <= lat <= 90 and -180 <= lon <= 180) or (lat == 0 and lon == 0):
        return  # (0, 0) is what a camera without a fix writes
    meta.lat, meta.lon = round(lat, 6), round(lon, 6)


def _degrees(value, ref, signs: str) -> float | None:
    if not isinstance(value, tuple) or len(value) != 3:
        return None
    d, m, s = (float(v) for v in value)
    total = d + m / 60 + s / 3600
    if not math.isfinite(total):
        return None
    ref = _text(ref)
    if ref and ref[:1].upper() == signs[1]:
        total = -total
    return total


def _parse_date(raw) -> datetime | None:
    text = _text(raw)
    match = _DATE.match(text or "")
    if not match:
        return None
    try:
        y, mo, d, h, mi, s = (int(g) for g in match.groups())
        when = datetime(y, mo, d, h, mi, s)
    except ValueError:  # "0000:00:00 00:00:00", a 13th month
        return None
    return when if 1826 <= when.year <= 2200 else None


def _text(value) -> str | None:
    if isinstance(value, bytes):
        value = value.decode("utf-8", "replace")
    if not isinstance(value, str):
        return None
    value = value[: MAX_TEXT * 2]
    if not value.isprintable():
        value = "".join(c for c in value if c.isprintable())
    value = value.strip()[:MAX_TEXT]
    return value or None


def _format_offset(delta) -> str | None:
    if delta is None:
        return None
    minutes = int(delta.total_seconds() // 60)
    sign = "+" if minutes >= 0 else "-"
    return f"{sign}{abs(minutes) // 60:02d}:{abs(minutes) % 60:02d}"

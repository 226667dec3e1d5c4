"""The few tags Hearth reads from a picture's EXIF sub-directories (date taken, GPS), read straight from the
raw EXIF block. Pillow's `Exif.get_ifd` decodes every entry of a directory in Python (a phone's Exif
directory has dozens, and a maker note), about 0.05 ms a photo: most of what metadata cost indexing.

The block is hostile: every offset and count is checked against its length before a byte is read, a
directory is read once, and a damaged one gives {} (what Pillow's reader would give up on too)."""

from __future__ import annotations

import struct

MAX_ENTRIES = 1024  # a real directory holds under 100
MAX_TEXT = 256  # bytes of a text value kept (meta keeps 64 characters)
MAX_COUNT = 16  # numbers in one value (GPS degrees are 3)
_SIZE = {1: 1, 2: 1, 3: 2, 4: 4, 5: 8, 6: 1, 7: 1, 8: 2, 9: 4, 10: 8}  # bytes per value of each TIFF type


def tiff_block(info: dict) -> bytes | None:
    """The TIFF-structured bytes of a decoded picture's EXIF (JPEG, WebP and PNG keep them in
    info["exif"], JPEG's after an "Exif\\0\\0" mark), or None where the format keeps no such block."""
    raw = info.get("exif")
    if not isinstance(raw, bytes):
        return None
    if raw.startswith(b"Exif\x00\x00"):
        raw = raw[6:]
    return raw if raw[:4] in (b"II*\x00", b"MM\x00*") else None


def read_ifd(block: bytes, offset, wanted: frozenset[int]) -> dict[int, object]:
    """The wanted tags of the directory at `offset` (from the block's start), as Pillow would give them:
    text as str (Latin-1, up to its first NUL), a single number as int or float, several as a tuple,
    a rational with a zero denominator as nan, bytes for undefined data."""
    if not isinstance(offset, int) or isinstance(offset, bool) or offset < 8 or offset + 2 > len(block):
        return {}
    order = "<" if block[:2] == b"II" else ">"
    (count,) = struct.unpack_from(order + "H", block, offset)
    if count > MAX_ENTRIES or offset + 2 + 12 * count > len(block):
        return {}
    out: dict[int, object] = {}
    for i in range(count):
        at = offset + 2 + 12 * i
        tag, kind, n = struct.unpack_from(order + "HHL", block, at)
        if tag not in wanted or kind not in _SIZE:
            continue
        size = _SIZE[kind] * n
        if kind not in (2, 7) and not 1 <= n <= MAX_COUNT:
            continue
        where = at + 8 if size <= 4 else struct.unpack_from(order + "L", block, at + 8)[0]
        keep = min(size, MAX_TEXT) if kind in (2, 7) else size
        if where + keep > len(block):
            continue  # points outside the block: Pillow skips such an entry too
        data = block[where : where + keep]
        out[tag] = _value(order, kind, n, data)
    return out


def _value(order: str, kind: int, n: int, data: bytes) -> object:
    if kind == 2:
        return data.split(b"\x00", 1)[0].decode("latin-1")
    if kind in (1, 7):
        return data if kind == 7 else (data[0] if n == 1 else tuple(data))
    if kind in (5, 10):
        pairs = struct.unpack(order + ("L" if kind == 5 else "l") * (2 * n), data)
        values = tuple(a / b if b else float("nan") for a, b in zip(pairs[::2], pairs[1::2], strict=True))
    else:
        values = struct.unpack(order + {3: "H", 4: "L", 6: "b", 8: "h", 9: "l"}[kind] * n, data)
    return values[0] if n == 1 else values

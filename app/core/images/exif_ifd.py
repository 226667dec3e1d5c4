"""The few tags Hearth reads from a picture's EXIF sub-directories (date taken, GPS), read straight from the
raw EXIF block. Pillow's `Exif.get_ifd` decodes every entry of a directory in Python (a phone's Exif
directory has dozens, and a maker note), about 0.05 ms a photo: most of what metadata cost indexing.

The block is hostile: every offset and count is checked against its length before a byte is read, a
directory is read once, and an entry that points outside the block is left out (as Pillow leaves it out)."""

from __future__ import annotations

import struct

MAX_ENTRIES = 1024  # a real directory holds under 100
MAX_TEXT = 256  # bytes of a text value kept (meta keeps 64 characters)
MAX_COUNT = 16  # numbers in one value (GPS degrees are 3)
_SIZE = {1: 1, 2: 1, 3: 2, 4: 4, 5: 8, 6: 1, 7: 1, 8: 2, 9: 4, 10: 8, 11: 4, 12: 8, 13: 4, 16: 8}  # bytes per value
_FORMAT = {3: "H", 4: "L", 6: "b", 8: "h", 9: "l", 11: "f", 12: "d", 13: "L", 16: "Q"}  # struct's, per number type
_BYTES = (1, 2, 7)  # BYTE, ASCII and UNDEFINED: Pillow gives them whole (bytes, or text), not as numbers


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
    a rational with a zero denominator as nan, bytes for BYTE and UNDEFINED data. Of two entries of a
    tag the first readable one counts; a directory cut short gives its whole entries."""
    if not isinstance(offset, int) or isinstance(offset, bool) or offset < 8 or offset + 2 > len(block):
        return {}
    order = "<" if block[:2] == b"II" else ">"
    (count,) = struct.unpack_from(order + "H", block, offset)
    if count > MAX_ENTRIES:
        return {}
    count = min(count, (len(block) - offset - 2) // 12)  # a cut directory: its whole entries, as Pillow reads
    out: dict[int, object] = {}
    for i in range(count):
        at = offset + 2 + 12 * i
        tag, kind, n = struct.unpack_from(order + "HHL", block, at)
        if tag not in wanted or tag in out or kind not in _SIZE or n == 0:
            continue  # of two entries of a tag, Pillow keeps the first it can read; an empty one it skips
        size = _SIZE[kind] * n
        where = at + 8 if size <= 4 else struct.unpack_from(order + "L", block, at + 8)[0]
        if where + size > len(block):
            continue  # points outside the block: Pillow skips such an entry too
        if kind not in _BYTES and n > MAX_COUNT:
            out[tag] = None  # Pillow's value would be a tuple no field takes; it still hides a later entry
            continue
        out[tag] = _value(order, kind, n, block[where : where + min(size, MAX_TEXT)])
    return {tag: value for tag, value in out.items() if value is not None}


def _value(order: str, kind: int, n: int, data: bytes) -> object:
    if kind == 2:
        return data.split(b"\x00", 1)[0].decode("latin-1")
    if kind in (1, 7):
        return data
    if kind in (5, 10):
        pairs = struct.unpack(order + ("L" if kind == 5 else "l") * (2 * n), data)
        values = tuple(a / b if b else float("nan") for a, b in zip(pairs[::2], pairs[1::2], strict=True))
    else:
        values = struct.unpack(order + _FORMAT[kind] * n, data)
    return values[0] if n == 1 else values

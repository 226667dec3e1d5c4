"""The EXIF sub-directory reader (app.core.images.exif_ifd): the same values as Pillow's get_ifd for the
tags Hearth reads, in both byte orders, and never an exception or an out-of-bounds read on damage."""

from __future__ import annotations

import io
import math
import random
import struct

import pytest
from PIL import Image

from app.core.images.exif_ifd import read_ifd, tiff_block
from app.core.images.meta import EXIF_IFD, GPS_IFD, WANTED, read_exif
from tests.photo_exif import SHOTS, TOKYO, Shot, exif_for


def _saved(exif: Image.Exif, fmt: str = "JPEG") -> Image.Image:
    buf = io.BytesIO()
    Image.new("RGB", (8, 8)).save(buf, fmt, exif=exif)
    buf.seek(0)
    return Image.open(buf)


def _pillow(im: Image.Image, tag: int) -> dict:
    got = im.getexif().get_ifd(tag)
    return {k: v for k, v in got.items() if k in WANTED[tag]}


def _same(a, b) -> bool:
    if isinstance(a, tuple) and isinstance(b, tuple):
        return len(a) == len(b) and all(_same(x, y) for x, y in zip(a, b, strict=True))
    if isinstance(b, float) or isinstance(a, float):
        x, y = float(a), float(b)
        return (math.isnan(x) and math.isnan(y)) or x == pytest.approx(y, rel=1e-12)
    return a == b


@pytest.mark.parametrize("endian", ["<", ">"])
@pytest.mark.parametrize("fmt", ["JPEG", "PNG", "WEBP"])
def test_the_tags_read_are_pillows_in_both_byte_orders_and_formats(endian, fmt):
    shots = SHOTS + [Shot("south-west.jpg", "2020:02:29 23:59:59", (-33.86, -70.65), "-04:00"),
                     Shot("tokyo.jpg", "1999:12:31 00:00:00", TOKYO)]
    for shot in shots:
        exif = exif_for(shot)
        exif.endian = endian
        im = _saved(exif, fmt)
        block = tiff_block(im.info)
        if shot.taken is None:
            continue
        assert block is not None and block[:2] == (b"II" if endian == "<" else b"MM")
        for tag in (EXIF_IFD, GPS_IFD):
            mine = read_ifd(block, im.getexif().get(tag), WANTED[tag])
            theirs = _pillow(im, tag)
            assert mine.keys() == theirs.keys(), (shot, tag)
            assert all(_same(mine[k], theirs[k]) for k in mine), (shot, tag, mine, theirs)


@pytest.mark.parametrize("shot", SHOTS, ids=[s.name for s in SHOTS])
def test_read_exif_gives_the_same_metadata_through_either_reader(shot):
    """Where a format keeps no raw block (TIFF), Pillow reads the directories: both must agree."""
    fast = read_exif(_saved(exif_for(shot)))
    im = _saved(exif_for(shot))
    im.getexif()  # Pillow's reading, kept on the picture
    im.info.pop("exif", None)  # as a TIFF's info is
    assert read_exif(im) == fast
    if shot.where:
        assert fast.lat == pytest.approx(shot.where[0], abs=1e-4) and fast.taken_source == "exif"


def test_a_rational_over_zero_is_nan_and_gives_no_position():
    exif = Image.Exif()
    gps = exif.get_ifd(GPS_IFD)
    gps[1], gps[2], gps[3], gps[4] = "N", (38.0, 42.0, 0.0), "W", (9.0, 8.0, 0.0)
    saved = _saved(exif)
    block, ifd = bytearray(tiff_block(saved.info)), saved.getexif().get(GPS_IFD)
    assert read_ifd(bytes(block), ifd, frozenset({2}))[2] == (38.0, 42.0, 0.0)
    at = _offset_of_value(bytes(block), ifd, 2)
    struct.pack_into(_order(block) + "L", block, at + 4, 0)  # the degrees' denominator: 0
    assert math.isnan(read_ifd(bytes(block), ifd, frozenset({2}))[2][0])
    with Image.open(_jpeg_with_app1(b"Exif\x00\x00" + bytes(block))) as im:
        m = read_exif(im)
    assert m.lat is None and m.lon is None and im.getexif().get(GPS_IFD) == ifd


def _order(block: bytes) -> str:
    return "<" if block[:2] == b"II" else ">"


def _offset_of_value(block: bytes, ifd: int, tag: int) -> int:
    (count,) = struct.unpack_from(_order(block) + "H", block, ifd)
    for i in range(count):
        t, _, _, where = struct.unpack_from(_order(block) + "HHLL", block, ifd + 2 + 12 * i)
        if t == tag:
            return where
    raise AssertionError("tag not found")


def _jpeg_with_app1(app1: bytes) -> io.BytesIO:
    plain = io.BytesIO()
    Image.new("RGB", (8, 8)).save(plain, "JPEG")
    data = plain.getvalue()
    out = io.BytesIO(data[:2] + b"\xff\xe1" + struct.pack(">H", len(app1) + 2) + app1 + data[2:])
    return out


@pytest.mark.parametrize("offset", [None, "8", True, -1, 0, 7, 10**12])
def test_a_pointer_that_is_not_a_directory_gives_nothing(offset):
    block = tiff_block(_saved(exif_for(SHOTS[0])).info)
    assert block is not None
    assert read_ifd(block, offset, WANTED[GPS_IFD]) == {}


def test_lying_counts_and_offsets_never_read_outside_the_block():
    saved = _saved(exif_for(SHOTS[0]))
    good, ifd = tiff_block(saved.info), saved.getexif().get(GPS_IFD)
    block = bytearray(good)
    struct.pack_into(_order(good) + "H", block, ifd, 60_000)  # 60,000 entries claimed
    assert read_ifd(bytes(block), ifd, WANTED[GPS_IFD]) == {}
    block = bytearray(good)
    struct.pack_into(_order(good) + "L", block, ifd + 2 + 12 * 1 + 4, 2**32 - 1)  # tag 2 (latitude): 4 billion values
    struct.pack_into(_order(good) + "L", block, ifd + 2 + 12 * 3 + 8, 2**31)  # tag 4: values past the end
    got = read_ifd(bytes(block), ifd, WANTED[GPS_IFD])
    assert got == {1: "N", 3: "W"}  # what is whole is read, what lies is left out


def test_random_damage_never_raises_and_every_value_is_bounded():
    rng = random.Random(7)
    good = tiff_block(_saved(exif_for(SHOTS[0])).info)
    assert good is not None
    pointers = _saved(exif_for(SHOTS[0])).getexif()
    for _ in range(3000):
        block = bytearray(good)
        for _ in range(rng.randint(1, 12)):
            block[rng.randrange(len(block))] = rng.randrange(256)
        if rng.random() < 0.2:
            block = block[: rng.randrange(len(block))]
        for tag in (EXIF_IFD, GPS_IFD):
            got = read_ifd(bytes(block), pointers.get(tag), WANTED[tag])
            for value in got.values():
                assert len(value) <= 256 if isinstance(value, (str, bytes, tuple)) else True


def _crafted(order: str, entries: list[tuple[int, int, int, bytes]], claimed: int | None = None) -> bytes:
    """A TIFF block whose main directory points (GPS) at one directory of these (tag, type, count, bytes)
    entries, values over 4 bytes placed after it; `claimed` overstates its count, the block cut after them."""
    head = (b"II*\x00" if order == "<" else b"MM\x00*") + struct.pack(order + "L", 8)
    at = 8 + 2 + 12 + 4
    main = struct.pack(order + "HHHLL", 1, GPS_IFD, 4, 1, at) + b"\x00" * 4
    values_at = at + 2 + 12 * len(entries) + 4
    body, values = struct.pack(order + "H", claimed or len(entries)), b""
    for tag, kind, n, data in entries:
        if len(data) <= 4:
            body += struct.pack(order + "HHL", tag, kind, n) + data.ljust(4, b"\x00")
        else:
            body += struct.pack(order + "HHLL", tag, kind, n, values_at + len(values))
            values += data
    if claimed:
        return bytes(head + main + body)
    return bytes(head + main + body + b"\x00" * 4 + values)


def _dms(order: str, kind: str, d: float, m: float, s: float) -> bytes:
    if kind in "fd":
        return struct.pack(order + 3 * kind, d, m, s)
    return struct.pack(order + "6L", int(d), 1, int(m), 1, int(s), 1)


@pytest.mark.parametrize("order", ["<", ">"])
@pytest.mark.parametrize("case", ["byte-ref", "float-and-double", "first-of-two", "empty-then-whole",
                                  "bytes-of-three", "cut-directory", "long-text-past-the-end"])
def test_odd_but_readable_directories_read_as_pillow_reads_them(order, case):
    """Types and layouts a writer can produce that Pillow reads: the same tags and values, so the same
    position (a BYTE "S" is south, a DOUBLE latitude is one, the first of two entries is the one)."""
    lat, lon = _dms(order, "L", 38, 42, 0), _dms(order, "L", 9, 8, 0)
    claimed = None
    entries = {
        "byte-ref": [(1, 1, 1, b"S"), (2, 5, 3, lat), (3, 7, 1, b"W"), (4, 5, 3, lon)],
        "float-and-double": [(1, 2, 2, b"N\x00"), (2, 12, 3, _dms(order, "d", 38, 42, 0)), (3, 2, 2, b"W\x00"),
                             (4, 11, 3, _dms(order, "f", 9, 8, 0))],
        "first-of-two": [(1, 2, 2, b"N\x00"), (1, 2, 2, b"S\x00"), (2, 5, 3, lat), (3, 2, 2, b"W\x00"),
                         (4, 5, 3, lon), (4, 5, 3, _dms(order, "L", 1, 1, 1))],
        "empty-then-whole": [(1, 2, 0, b""), (1, 2, 2, b"S\x00"), (2, 5, 3, lat), (3, 2, 2, b"W\x00"),
                             (4, 5, 3, lon)],
        "bytes-of-three": [(1, 2, 2, b"N\x00"), (2, 1, 3, b"\x26\x2a\x00"), (3, 2, 2, b"W\x00"), (4, 5, 3, lon)],
        "cut-directory": [(1, 2, 2, b"S\x00"), (3, 2, 2, b"E\x00")],
        "long-text-past-the-end": [(1, 2, 2, b"S\x00"), (1, 2, 400, b"N" * 300)],
    }[case]
    if case == "cut-directory":
        claimed = 5
    block = _crafted(order, entries, claimed)
    exif = Image.Exif()
    exif.load(block)
    mine, theirs = read_ifd(block, exif.get(GPS_IFD), WANTED[GPS_IFD]), _pillow_of(exif, GPS_IFD)
    assert mine.keys() == theirs.keys(), (mine, theirs)
    assert all(_same(mine[k], theirs[k]) for k in mine), (mine, theirs)
    with Image.open(_jpeg_with_app1(b"Exif\x00\x00" + block)) as im:
        fast = read_exif(im)
        im.info.pop("exif")  # Pillow's own reader, as for a TIFF
        assert read_exif(im) == fast


def _pillow_of(exif: Image.Exif, tag: int) -> dict:
    return {k: (float(v) if type(v).__name__ == "IFDRational" else v) for k, v in exif.get_ifd(tag).items()
            if k in WANTED[tag]}

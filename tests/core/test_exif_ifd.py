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

"""Date and place words in a query, the offline places, and EXIF read safely (no model needed)."""

from datetime import date

import numpy as np
import pytest
from PIL import Image

from app.core.images.filters import Filters, make_filters, southern, split_query
from app.core.images.meta import read_exif, with_file_time
from app.core.images.places import fold, gazetteer, place_of
from app.core.jobs import InputError
from tests.photo_exif import LISBON, SHOTS, TOKYO, dated_photos

TODAY = date(2026, 12, 7)
KNOWN = {"lisbon", "portugal", "new york city"}


def _split(text, today=TODAY, south=False):
    return split_query(text, lambda name, marked: fold(name) in KNOWN, today, south=south)


@pytest.mark.parametrize(("text", "rest", "after", "before", "place"), [
    ("the beach last August", "the beach", date(2026, 8, 1), date(2026, 8, 31), None),
    ("Lisbon 2023", "", date(2023, 1, 1), date(2023, 12, 31), "Lisbon"),
    ("a dog in Portugal", "a dog", None, None, "Portugal"),
    ("August 2023", "", date(2023, 8, 1), date(2023, 8, 31), None),
    ("a red car last summer -night", "a red car -night", date(2026, 6, 1), date(2026, 8, 31), None),
    ("a cat in the kitchen", "a cat in the kitchen", None, None, None),
    ("sunset in new york city last year", "sunset", date(2025, 1, 1), date(2025, 12, 31), "new york city"),
    ("winter 2022 snow", "snow", date(2022, 12, 1), date(2023, 2, 28), None),
])
def test_time_and_place_words_become_filters(text, rest, after, before, place):
    got_rest, f = _split(text)
    assert (got_rest, f.after, f.before, f.place) == (rest, after, before, place)


def test_a_bare_year_is_a_time_only_where_the_library_has_photos_from_then():
    """"1984 poster" searched for photos taken in 1984 (none: an empty answer) instead of a poster; a bare
    year is now words unless the library has photos of that year. "in 1984" always means the year."""
    years = {2023}.__contains__
    assert split_query("1984 poster", lambda *_: False, TODAY, years) == ("1984 poster", Filters())
    rest, f = split_query("beach 2023", lambda *_: False, TODAY, years)
    assert (rest, f.after, f.before) == ("beach", date(2023, 1, 1), date(2023, 12, 31))
    rest, f = split_query("a poster in 1984", lambda *_: False, TODAY, years)
    assert (rest, f.after) == ("a poster", date(1984, 1, 1))
    assert split_query("August 1984 poster", lambda *_: False, TODAY, years)[1].after == date(1984, 8, 1)


def test_seasons_in_the_south_are_the_southern_months():
    """In Sydney "last summer" on 7 December 2026 is December 2025 to February 2026, not June to August."""
    assert _split("the beach last summer", south=True)[1] == Filters(date(2025, 12, 1), date(2026, 2, 28))
    assert _split("winter 2022 snow", south=True)[1] == Filters(date(2022, 6, 1), date(2022, 8, 31))
    assert _split("spring of 2023", south=True)[1] == Filters(date(2023, 9, 1), date(2023, 11, 30))
    assert _split("last autumn", date(2026, 4, 2), south=True)[1] == Filters(date(2025, 3, 1), date(2025, 5, 31))
    assert _split("August 2023", south=True)[1] == Filters(date(2023, 8, 1), date(2023, 8, 31))  # months stay


@pytest.mark.parametrize(("name", "south"), [
    ("en_AU.UTF-8", True), ("pt_BR.UTF-8", True), ("es_AR", True), ("en_NZ@euro", True), ("English_Australia", True),
    ("English_New Zealand.1252", True), ("en_US.UTF-8", False), ("en_GB", False), ("C.UTF-8", False), ("C", False),
    ("POSIX", False), ("", False), ("de_AT", False), ("en_ZA.UTF-8", True), ("Spanish_Spain.1252", False),
])
def test_the_hemisphere_is_read_from_the_locale(name, south):
    assert southern(name) is south


def test_the_locale_of_the_process_decides_where_none_is_given(monkeypatch):
    monkeypatch.delenv("LC_ALL", raising=False)
    monkeypatch.setenv("LC_TIME", "en_AU.UTF-8")
    assert split_query("last summer", lambda n, m: False, TODAY)[1].after == date(2025, 12, 1)
    monkeypatch.setenv("LC_TIME", "en_IE.UTF-8")
    assert split_query("last summer", lambda n, m: False, TODAY)[1].after == date(2026, 6, 1)


def test_last_means_the_latest_one_that_has_ended():
    assert _split("last summer", date(2026, 7, 1))[1].after == date(2025, 6, 1)
    assert _split("last August", date(2026, 8, 20))[1].after == date(2025, 8, 1)
    assert _split("last March", date(2026, 8, 20))[1].after == date(2026, 3, 1)


def test_a_date_with_no_next_day_is_said_in_words():
    """--before 9999 (or the API's "before": "9999") searched for taken < 10000-01-01, which Python cannot
    make: an OverflowError, a traceback or a 500. A year outside photos' years is now an error in words."""
    import sqlite3

    from app.core.images import metadb

    for when in ("9999", "9999-12", "9999-12-31", "0001", "0000"):
        with pytest.raises(InputError, match="not a date"):
            make_filters(None, when)
    db = sqlite3.connect(":memory:")
    metadb.v2_to_v3(db)
    assert metadb.matching_ids(db, make_filters("1800", "2199")) == set()


def test_flags_are_checked_and_say_what_is_wrong():
    f = make_filters("2023-08", "2023-08", " Lisbon ")
    assert (f.after, f.before, f.place) == (date(2023, 8, 1), date(2023, 8, 31), "Lisbon")
    assert make_filters(before="2024").before == date(2024, 12, 31)
    for bad in ("yesterday", "2023-13", "2023-02-30"):
        with pytest.raises(InputError, match="not a date"):
            make_filters(after=bad)
    with pytest.raises(InputError, match="after the end"):
        make_filters("2024", "2023")
    assert Filters(place="x").merged(Filters(date(2020, 1, 1))).after == date(2020, 1, 1)


def test_places_are_named_offline_and_typed_names_fold():
    assert place_of(*LISBON).city == "Lisbon" and place_of(*LISBON).country == "Portugal"
    assert place_of(*TOKYO).country == "Japan"
    assert place_of(38.706, -9.17).city == "Lisbon"  # a suburb's parish does not win over the city
    assert place_of(0.0, -30.0) is None  # mid-Atlantic: nothing within reach
    assert place_of(float("nan"), 10) is None and place_of(95, 0) is None
    g = gazetteer()
    assert g.knows("LISBON") and g.knows("sao paulo") and g.knows("São Paulo") and not g.knows("kitchen")


def test_a_lookup_names_the_place_a_search_of_every_place_would_name():
    """Lookups search only their cell's candidates: the answer must be the whole table's best (in float64;
    float32 put points near a suburb's edge in the wrong suburb), at the poles and the date line too."""
    g = gazetteer()
    rng = np.random.default_rng(5)
    at = rng.choice(len(g.places), 1500)
    lat = np.degrees(np.arcsin(g.xyz[at, 2])) + rng.normal(0, 0.4, at.size)
    lon = np.degrees(np.arctan2(g.xyz[at, 1], g.xyz[at, 0])) + rng.normal(0, 0.4, at.size)
    points = [(float(np.clip(a, -90, 90)), float((b + 180) % 360 - 180)) for a, b in zip(lat, lon, strict=True)]
    points += [(float(rng.uniform(-90, 90)), float(rng.uniform(-180, 180))) for _ in range(500)]
    points += [(90.0, 0.0), (-90.0, 0.0), (0.0, 180.0), (0.0, -180.0), (65.9, -179.99), (65.9, 179.99)]
    named = 0
    for i, point in enumerate(points):
        la, lo = np.radians(point[0]), np.radians(point[1])
        unit = np.array([np.cos(la) * np.cos(lo), np.cos(la) * np.sin(lo), np.sin(la)])
        km = np.arccos(np.clip(g.xyz @ unit, -1, 1)) * 6371.0
        score = km - g.pull
        best = int(np.argmin(score))
        if np.partition(score, 1)[1] - score[best] < 1e-6 or abs(km[best] - 150.0) < 1e-6:
            continue  # a tie: either answer is right
        want = g.places[best] if km[best] <= 150.0 else None
        assert g.nearest(*point) == want, (i, point)
        named += want is not None
    assert named > 1400  # most points were near a place, so the test compared names, not Nones


def test_exif_is_read_from_the_opened_picture(tmp_path):
    photos = dated_photos(tmp_path)
    with Image.open(photos["lisbon-aug-2023.jpg"]) as im:
        m = read_exif(im)
    assert (m.taken, m.taken_offset, m.taken_source) == ("2023-08-15T10:00:00", "+01:00", "exif")
    assert (m.make, m.model) == ("Hearth", "Test Camera")
    assert m.lat == pytest.approx(LISBON[0], abs=1e-4) and m.lon == pytest.approx(LISBON[1], abs=1e-4)
    with Image.open(photos["paris-aug-2022.png"]) as im:
        assert read_exif(im).taken == "2022-08-10T12:00:00"
    with Image.open(photos["no-exif.jpg"]) as im:
        m = with_file_time(read_exif(im), photos["no-exif.jpg"].stat().st_mtime)
    assert m.taken_source == "file" and m.taken.startswith("2020-01-15") and m.lat is None
    assert len(SHOTS) == len(photos)


def test_hostile_exif_gives_what_it_can_and_never_raises(tmp_path):
    exif = Image.Exif()
    exif[0x010F] = "A" * 30_000 + "\x00\x1b[31m"
    exif[0x0112] = 99
    sub = exif.get_ifd(0x8769)
    sub[0x9003] = "0000:00:00 00:00:00"
    sub[0x9004] = "2023:02:30 10:00:00"
    exif[0x0132] = "2019:05:04 03:02:01"
    sub[0x9011] = "; DROP TABLE"
    gps = exif.get_ifd(0x8825)
    gps[1], gps[2] = "N", (float("inf"), 0.0, 0.0)
    gps[3], gps[4] = "E", (1.0, 2.0)  # two parts, not three
    path = tmp_path / "hostile.jpg"
    Image.new("RGB", (16, 16)).save(path, exif=exif)
    with Image.open(path) as im:
        m = read_exif(im)
    assert m.taken == "2019-05-04T03:02:01" and m.taken_offset is None  # the one good date; a bad offset dropped
    assert m.make == "A" * 64 and m.orientation is None and m.lat is None and m.lon is None
    # A damaged EXIF block: no metadata, no error.
    raw = path.read_bytes()
    at = raw.find(b"Exif\x00\x00")
    broken = tmp_path / "broken.jpg"
    broken.write_bytes(raw[: at + 6] + b"MM\x00\x2a\xff\xff\xff\xff" + raw[at + 14:])
    with Image.open(broken) as im:
        m = read_exif(im)
    assert m.lat is None



def test_a_missing_places_table_leaves_photos_without_places_and_nothing_broken(tmp_path, monkeypatch, caplog):
    import sys

    from app.core.images import places
    from app.core.images.index import ImageIndex
    from app.core.images.query import library_places

    index = ImageIndex(tmp_path / "images.sqlite3")
    assert library_places(index)("Portugal", True)  # with the table: a known country
    monkeypatch.setattr(sys, "_MEIPASS", str(tmp_path), raising=False)  # a bundle without resources/places
    monkeypatch.setattr(places, "_loaded", None)
    assert place_of(*LISBON) is None
    assert not library_places(index)("Portugal", True)
    assert "places table could not be read" in caplog.text
    index.close()

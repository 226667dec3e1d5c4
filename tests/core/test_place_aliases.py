"""Place names in other languages (issue 28): "Lissabon", "Deutschland" or "Nueva York" find the photos of
Lisbon, Germany or New York, offline, through resources/places/aliases.tsv.gz; a damaged table leaves the
English names working."""

from __future__ import annotations

import gzip
import json
import os
import shutil
import sys
from datetime import date

import pytest

from app.core.images import places
from app.core.images.filters import make_filters, split_query
from app.core.images.index import ImageIndex, IndexSummary
from app.core.images.places import canonical_names, knows_place
from app.core.images.query import library_places, search_photos
from app.core.resources import resources_dir
from tests.conftest import run_app
from tests.photo_exif import LISBON, PORTO, Shot, dated_photos

KEY = "tiny-clip:test"
MUNICH = (48.1374, 11.5755)
SHOTS = [
    Shot("lisbon.jpg", "2023:08:15 10:00:00", LISBON),
    Shot("porto.jpg", "2023:07:02 18:30:00", PORTO),
    Shot("munich.jpg", "2022:09:20 12:00:00", MUNICH),
    Shot("no-gps.jpg", "2023:08:01 00:00:00"),
]
# What each typed place must return, exactly.
EXPECTED = {
    "Lisboa": {"lisbon.jpg"},
    "Lissabon": {"lisbon.jpg"},
    "lisbonne": {"lisbon.jpg"},
    "Deutschland": {"munich.jpg"},
    "Allemagne": {"munich.jpg"},
    "ALEMANIA": {"munich.jpg"},
    "München": {"munich.jpg"},
    "Portugalia": {"lisbon.jpg", "porto.jpg"},
    "Lisbon": {"lisbon.jpg"},  # the English names as before
    "Portugal": {"lisbon.jpg", "porto.jpg"},
    "Germany": {"munich.jpg"},
    "Kitchen": set(),
}


@pytest.fixture
def damaged_aliases(tmp_path, monkeypatch):
    """A bundle whose places folder has the real gazetteer and a damaged aliases table."""
    folder = tmp_path / "bundle" / "resources" / "places"
    shutil.copytree(resources_dir() / "places", folder)
    good = (folder / "aliases.tsv.gz").read_bytes()
    (folder / "aliases.tsv.gz").write_bytes(good[: len(good) // 2])  # cut short: a broken download
    monkeypatch.setattr(sys, "_MEIPASS", str(tmp_path / "bundle"), raising=False)
    monkeypatch.setattr(places, "_loaded", None)
    monkeypatch.setattr(places, "_aliases", None)
    return folder


def _names(hits) -> set[str]:
    return {os.path.basename(h.path) for h in hits}


def test_other_languages_names_stand_for_the_english_ones():
    assert canonical_names("Lissabon") == canonical_names("LISBOA") == {"lisbon"}
    assert canonical_names("Deutschland") == canonical_names("allemagne") == canonical_names("Alemania") == {"germany"}
    assert canonical_names("München") == canonical_names("Muenchen") == {"munich"}
    assert canonical_names("Nueva York") == {"new york city"}
    assert canonical_names("Germany") == set() and canonical_names("kitchen") == set()
    assert knows_place("Lissabon") and knows_place("Deutschland") and not knows_place("Küche")


def test_an_ambiguous_alias_matches_every_place_it_may_name():
    import sqlite3

    from app.core.images import metadb
    from app.core.images.filters import Filters
    from app.core.images.meta import PhotoMeta

    assert len(canonical_names("Kongo")) == 2  # German for both Congos
    db = sqlite3.connect(":memory:")
    metadb.v2_to_v3(db)
    for i, (lat, lon) in enumerate([(-4.2634, 15.2429), (-4.3217, 15.3126), LISBON], start=1):  # Brazzaville, Kinshasa
        metadb.store(db, i, PhotoMeta(taken="2023-01-01T10:00:00", lat=lat, lon=lon), 0)
    assert metadb.matching_ids(db, Filters(place="Kongo")) == {1, 2}
    assert metadb.matching_ids(db, Filters(place="Lissabon")) == {3}
    assert metadb.matching_ids(db, Filters(place="Kinshasa")) == {2}


def test_every_line_of_the_table_points_at_a_name_of_the_gazetteer():
    with gzip.open(resources_dir() / "places" / "aliases.tsv.gz", "rt", encoding="utf-8") as fh:
        lines = fh.read().splitlines()
    assert lines == sorted(set(lines)) and len(lines) > 1000
    names = places.gazetteer().names
    assert {line.split("\t")[1] for line in lines} <= names
    assert (resources_dir() / "places" / "aliases.tsv.gz").stat().st_size < 300_000


def test_place_words_in_another_language_become_the_place_filter(tmp_path):
    index = ImageIndex(tmp_path / "images.sqlite3")
    is_place = library_places(index)
    rest, f = split_query("Fotos in Deutschland", is_place, date(2026, 12, 7))
    assert (rest, f.place) == ("Fotos", "Deutschland")
    rest, f = split_query("ein Hund in Lissabon 2023", is_place, date(2026, 12, 7))
    assert (rest, f.place, f.after) == ("ein Hund", "Lissabon", date(2023, 1, 1))
    rest, f = split_query("a dog at Nueva York", is_place, date(2026, 12, 7))
    assert (rest, f.place) == ("a dog", "Nueva York")
    index.close()


def test_a_damaged_aliases_table_leaves_english_names_working(damaged_aliases, tmp_path, caplog):
    assert canonical_names("Lissabon") == set()
    assert "place aliases table could not be read" in caplog.text
    assert knows_place("Portugal") and not knows_place("Lissabon")
    (damaged_aliases / "aliases.tsv.gz").write_bytes(gzip.compress(b"no tab on this line\n"))
    places._aliases = None  # read again: a table of the wrong shape is no aliases either
    assert canonical_names("Lissabon") == set() and knows_place("Lisbon")
    (damaged_aliases / "aliases.tsv.gz").unlink()
    places._aliases = None
    assert canonical_names("Deutschland") == set() and knows_place("Germany")


def _library(tmp_path, encoder) -> ImageIndex:
    dated_photos(tmp_path / "photos", SHOTS)
    index = ImageIndex()
    index.add_folder(tmp_path / "photos")
    summary = [i for i in index.index(encoder, KEY) if isinstance(i, IndexSummary)][0]
    assert summary.embedded == len(SHOTS)
    return index


@pytest.mark.slow
def test_photos_are_found_by_their_place_in_another_language(clip_encoder, tmp_path):
    index = _library(tmp_path, clip_encoder)
    for place, wanted in EXPECTED.items():
        hits = search_photos(index, clip_encoder, KEY, "a shape", top=50, filters=make_filters(place=place))
        assert _names(hits) == wanted, place
    assert _names(search_photos(index, clip_encoder, KEY, "a shape in Lissabon", top=50)) == {"lisbon.jpg"}
    assert _names(search_photos(index, clip_encoder, KEY, "Fotos in Deutschland", top=50)) == {"munich.jpg"}
    assert _names(search_photos(index, clip_encoder, KEY, "in Allemagne 2023", top=50)) == set()
    index.close()


@pytest.mark.slow
def test_a_damaged_aliases_table_still_filters_by_english_names(clip_encoder, tmp_path, damaged_aliases):
    index = _library(tmp_path, clip_encoder)
    hits = search_photos(index, clip_encoder, KEY, "", top=50, filters=make_filters(place="Lisbon"))
    assert _names(hits) == {"lisbon.jpg"}
    assert search_photos(index, clip_encoder, KEY, "", top=50, filters=make_filters(place="Lissabon")) == []
    index.close()


@pytest.mark.slow
def test_the_cli_place_flag_takes_another_languages_name(clip_store, tmp_path):
    dated_photos(tmp_path / "photos", SHOTS)
    assert run_app("search", "index", str(tmp_path / "photos")).returncode == 0
    for place, wanted in (("Deutschland", {"munich.jpg"}), ("Lisboa", {"lisbon.jpg"})):
        result = run_app("search", "query", "a shape", "--place", place, "--top", "50", "--json")
        assert result.returncode == 0, result.stderr
        assert {os.path.basename(h["path"]) for h in json.loads(result.stdout)} == wanted, place


def test_a_name_that_is_a_place_itself_means_that_place_not_another_languages_country():
    """"tunis" is French for Tunisia and "granada" Spanish for Grenada, but Tunis and Granada are places of
    the table: a filter for them must not bring every photo of Tunisia, or Grenada's, with them."""
    import sqlite3

    from app.core.images import metadb
    from app.core.images.filters import Filters
    from app.core.images.meta import PhotoMeta

    db = sqlite3.connect(":memory:")
    metadb.v2_to_v3(db)
    spots = {1: (36.8065, 10.1815), 2: (34.7406, 10.7603), 3: (37.1773, -3.5986), 4: (12.0561, -61.7488),
             5: (-12.9714, -38.5014), 6: (13.6929, -89.2182), 7: (-15.7939, -47.8828), 8: (-22.9068, -43.1729)}
    for i, (lat, lon) in spots.items():  # Tunis, Sfax, Granada, St George's, Salvador, San Salvador, Brasília, Rio
        metadb.store(db, i, PhotoMeta(taken="2023-01-01T10:00:00", lat=lat, lon=lon), 0)
    assert metadb.matching_ids(db, Filters(place="Tunis")) == {1}
    assert metadb.matching_ids(db, Filters(place="Granada")) == {3}
    assert metadb.matching_ids(db, Filters(place="Salvador")) == {5}
    assert metadb.matching_ids(db, Filters(place="Brasilia")) == {7}
    assert canonical_names("Tunis") == set() and knows_place("Tunis")
    assert metadb.matching_ids(db, Filters(place="Tunisie")) == {1, 2}  # the aliases that name no place still work
    assert metadb.matching_ids(db, Filters(place="Brasilien")) == {5, 7, 8}

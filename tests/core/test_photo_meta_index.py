"""Dates, cameras and places kept in the photo index (schema 3), and searches filtered by them through
the core, the CLI and the API (issue 28)."""

from __future__ import annotations

import http.client
import json
import os
import sqlite3

import pytest
from PIL import Image

from app.core.images.filters import Filters, make_filters
from app.core.images.index import MIGRATIONS, ImageIndex, IndexSummary
from app.core.images.query import search_photos
from tests.conftest import run_app
from tests.photo_exif import SHOTS, Shot, dated_photos, exif_for

pytestmark = pytest.mark.slow
KEY = "tiny-clip:test"
# What each filter must return, exactly.
EXPECTED = {
    ("2023", None): {"lisbon-aug-2023.jpg", "porto-jul-2023.jpg", "tokyo-mar-2023.jpg", "no-gps-aug-2023.jpg"},
    ("August 2023", None): {"lisbon-aug-2023.jpg", "no-gps-aug-2023.jpg"},
    ("", "Lisbon"): {"lisbon-aug-2023.jpg", "lisbon-dec-2021.jpg"},
    ("", "portugal"): {"lisbon-aug-2023.jpg", "porto-jul-2023.jpg", "lisbon-dec-2021.jpg"},
    ("2023", "PORTUGAL"): {"lisbon-aug-2023.jpg", "porto-jul-2023.jpg"},
    ("2020", None): {"no-exif.jpg", "no-exif.png"},  # the file time, marked as such
    ("", "Île-de-France"): {"paris-aug-2022.png"},
}


def _index(index, encoder) -> IndexSummary:
    return [i for i in index.index(encoder, KEY) if isinstance(i, IndexSummary)][0]


def _names(hits) -> set[str]:
    return {os.path.basename(h.path) for h in hits}


def _library(tmp_path, encoder):
    photos = dated_photos(tmp_path / "photos")
    index = ImageIndex()
    index.add_folder(tmp_path / "photos")
    assert _index(index, encoder).embedded == len(SHOTS)
    return index, photos


def test_dates_and_places_filter_exactly(clip_encoder, tmp_path):
    index, _ = _library(tmp_path, clip_encoder)
    for (when, place), wanted in EXPECTED.items():
        after, before = (("2023-08", "2023-08") if when == "August 2023" else (when, when)) if when else (None, None)
        hits = search_photos(index, clip_encoder, KEY, "a shape", top=50, filters=make_filters(after, before, place))
        assert _names(hits) == wanted, (when, place)
    # The same in words on the query line, stripped from what CLIP sees.
    assert _names(search_photos(index, clip_encoder, KEY, "a shape in Lisbon August 2023", top=50)) == \
        {"lisbon-aug-2023.jpg"}
    assert _names(search_photos(index, clip_encoder, KEY, "Lisbon 2021", top=50)) == {"lisbon-dec-2021.jpg"}
    # a bare year no photo is from is words for CLIP, not an empty filter ("1984 poster")
    assert len(search_photos(index, clip_encoder, KEY, "a shape 1984", top=50)) == len(SHOTS)
    hit = search_photos(index, clip_encoder, KEY, "in Tokyo", top=50)
    assert [(_names(hit), hit[0].taken, hit[0].taken_source, hit[0].place)] == \
        [({"tokyo-mar-2023.jpg"}, "2023-03-20T09:00:00+09:00", "exif", "Tokyo, Japan")]
    assert search_photos(index, clip_encoder, KEY, "in Brazil", top=50) == []  # known place, no photo there
    # Words that name no place stay words.
    assert len(search_photos(index, clip_encoder, KEY, "a shape in the kitchen", top=50)) == len(SHOTS)
    newest = index.search(None, KEY, 50, filters=Filters())
    assert newest[0].taken.startswith("2023-08-15") and all(h.score == 1.0 for h in newest)
    index.close()


def test_a_changed_file_has_its_metadata_read_again(clip_encoder, tmp_path):
    index, photos = _library(tmp_path, clip_encoder)
    path = photos["no-exif.jpg"]
    with Image.open(path) as im:
        im.convert("RGB").save(path, "JPEG", exif=exif_for(Shot("x", "2019:05:04 10:00:00", (48.8566, 2.3522))))
    summary = _index(index, clip_encoder)
    assert summary.embedded == 1
    hits = search_photos(index, clip_encoder, KEY, "", top=50, filters=make_filters("2019", "2019", "Paris"))
    assert _names(hits) == {"no-exif.jpg"} and hits[0].taken_source == "exif"
    index.close()


def _v2_database(path, photos, encoder):
    """A photo index as Hearth wrote it before schema 3: its photos indexed, no metadata."""
    db = sqlite3.connect(path)
    for step in MIGRATIONS[:2]:
        step(db)
    db.execute("PRAGMA user_version = 2")
    folder = os.path.dirname(next(iter(photos.values())))
    db.execute("INSERT INTO folders (id, path) VALUES (1, ?)", (folder,))
    vecs = encoder.embed_pil([Image.open(p).convert("RGB") for p in photos.values()])
    from app.core.images.scan import quick_hash

    for i, (p, vec) in enumerate(zip(photos.values(), vecs, strict=True), start=1):
        st = os.stat(p)
        digest = quick_hash(str(p), st.st_size)
        db.execute("INSERT INTO files (id, path, folder_id, size, mtime, hash, dev) VALUES (?,?,1,?,?,?,?)",
                   (i, str(p), st.st_size, st.st_mtime, digest, st.st_dev))
        db.execute("INSERT INTO embeddings VALUES (?,?,?,?)", (i, KEY, digest, vec.astype("float16").tobytes()))
    db.commit()
    db.close()


def test_a_version_2_index_is_migrated_and_its_photos_get_metadata_without_embedding_again(clip_encoder, tmp_path):
    photos = dated_photos(tmp_path / "photos")
    path = tmp_path / "old.sqlite3"
    _v2_database(path, photos, clip_encoder)
    index = ImageIndex(path)
    assert index.db.execute("PRAGMA user_version").fetchone()[0] == 5
    assert index.db.execute("SELECT COUNT(*) FROM photo_meta").fetchone()[0] == 0
    summary = _index(index, clip_encoder)
    assert summary.embedded == 0 and summary.unchanged == len(SHOTS)  # only their EXIF was read
    hits = search_photos(index, clip_encoder, KEY, "", top=50, filters=make_filters(place="Lisbon"))
    assert _names(hits) == EXPECTED[("", "Lisbon")]
    assert _index(index, clip_encoder).unchanged == len(SHOTS)  # and not again
    index.close()


def test_the_cli_filters_by_date_and_place_and_gives_taken_and_place(clip_store, tmp_path):
    dated_photos(tmp_path / "photos")
    assert run_app("search", "index", str(tmp_path / "photos")).returncode == 0
    result = run_app("search", "query", "a shape", "--after", "2023-07", "--before", "2023-08-31",
                     "--place", "Portugal", "--top", "50", "--json")
    assert result.returncode == 0, result.stderr
    hits = json.loads(result.stdout)
    assert {os.path.basename(h["path"]) for h in hits} == {"lisbon-aug-2023.jpg", "porto-jul-2023.jpg"}
    lisbon = next(h for h in hits if h["path"].endswith("lisbon-aug-2023.jpg"))
    assert (lisbon["taken"], lisbon["place"]) == ("2023-08-15T10:00:00+01:00", "Lisbon, Portugal")
    result = run_app("search", "query", "in Lisbon 2021", "--json")
    assert [os.path.basename(h["path"]) for h in json.loads(result.stdout)] == ["lisbon-dec-2021.jpg"]
    listed = run_app("search", "query", "in Lisbon 2021").stdout.splitlines()  # no words: a listing, unscored
    assert len(listed) == 1 and listed[0].startswith("     -  ") and "lisbon-dec-2021.jpg  2021-12-31" in listed[0]
    result = run_app("search", "query", "x", "--after", "last tuesday")
    assert result.returncode != 0 and "not a date" in result.stderr and "Traceback" not in result.stderr
    # find's text output says each photo's day and place, and marks a date that is only the file's
    result = run_app("find", "Lisbon 2023", "--kind", "photo")
    assert result.returncode == 0, result.stderr
    assert [line.split("  ")[-1].rsplit("/", 1)[-1] for line in result.stdout.splitlines()[1:]] == [
        "lisbon-aug-2023.jpg · 15 Aug 2023 · Lisbon, Portugal"]
    result = run_app("find", "2020", "--kind", "photo")
    assert sorted(line.rsplit("/", 1)[-1] for line in result.stdout.splitlines()[1:]) == [
        "no-exif.jpg · 15 Jan 2020 (file date)", "no-exif.png · 15 Jan 2020 (file date)"]


def _post(server, body: dict) -> tuple[int, dict]:
    conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=120)
    try:
        conn.request("POST", "/v1/images/search", json.dumps(body), {"Content-Type": "application/json"})
        resp = conn.getresponse()
        return resp.status, json.loads(resp.read())
    finally:
        conn.close()


def test_the_api_filters_by_date_and_place(clip_store, clip_encoder, tmp_path):
    from app.core.opening import open_encoder
    from app.server.api import ServerOptions
    from app.server.backends import LocalBackends
    from app.server.run import HearthServer

    encoder, key = open_encoder("tiny-clip")
    dated_photos(tmp_path / "photos")
    index = ImageIndex()
    index.add_folder(tmp_path / "photos")
    assert [i for i in index.index(encoder, key) if isinstance(i, IndexSummary)][0].embedded == len(SHOTS)
    index.close()
    backends = LocalBackends(store=clip_store)
    server = HearthServer(backends, "127.0.0.1", 0, ServerOptions()).start()
    try:
        status, body = _post(server, {"model": "tiny-clip", "query": "a shape", "top": 50, "after": "2021",
                                      "before": "2023-07", "place": "lisbon"})
        assert status == 200, body
        assert {os.path.basename(h["path"]) for h in body["data"]} == {"lisbon-dec-2021.jpg"}
        assert body["data"][0]["place"] == "Lisbon, Portugal" and body["data"][0]["taken"] == "2021-12-31T23:59:00"
        status, body = _post(server, {"model": "tiny-clip", "top": 50, "place": "Japan"})
        assert status == 200 and [os.path.basename(h["path"]) for h in body["data"]] == ["tokyo-mar-2023.jpg"]
        status, body = _post(server, {"model": "tiny-clip", "query": "x", "after": "soon"})
        assert status == 400 and "not a date" in body["error"]["message"]
    finally:
        server.stop()
        backends.close()

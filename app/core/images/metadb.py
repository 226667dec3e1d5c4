"""The photo index's metadata table (schema 3): when each photo was taken, its camera, its GPS
position and the place that is, and the SQL that filters a search by date and place."""

from __future__ import annotations

import functools
import logging
import sqlite3
import warnings
from datetime import timedelta

from app.core.images.filters import Filters
from app.core.images.meta import PhotoMeta, read_exif, with_file_time
from app.core.images.places import Place, canonical_names, fold, place_of

log = logging.getLogger(__name__)


def v2_to_v3(db: sqlite3.Connection) -> None:
    # One row per indexed photo; place_key holds the folded names as "|lisbon|lisbon|portugal|" for LIKE.
    db.execute("CREATE TABLE photo_meta (file_id INTEGER PRIMARY KEY REFERENCES files(id) ON DELETE CASCADE,"
               " taken TEXT, taken_offset TEXT, taken_source TEXT, make TEXT, model TEXT, orientation INTEGER,"
               " lat REAL, lon REAL, city TEXT, region TEXT, country TEXT, place_key TEXT)")
    db.execute("CREATE INDEX photo_meta_by_taken ON photo_meta(taken)")


def header_meta(path: str) -> PhotoMeta:
    """The EXIF of a file whose pixels are not needed (its content is unchanged): the header only."""
    from PIL import Image

    from app.core.images.formats import open_picture

    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            with open_picture(path) as im:
                return read_exif(im)
    except Exception as exc:  # noqa: BLE001 - a file that will not open has no metadata, and that is all
        log.debug("no metadata from %s: %r", path, exc)
        return PhotoMeta()


_INSERT = ("INSERT OR REPLACE INTO photo_meta (file_id, taken, taken_offset, taken_source, make, model, orientation,"
           " lat, lon, city, region, country, place_key) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?)")


def row(file_id: int, meta: PhotoMeta, mtime: float) -> tuple:
    """The photo_meta row of a photo: its date (else the file's), camera, position and the place that is."""
    meta = with_file_time(meta, mtime)
    place = place_of(meta.lat, meta.lon)
    names = (place.city, place.region, place.country) if place else (None, None, None)
    return (file_id, meta.taken, meta.taken_offset, meta.taken_source, meta.make, meta.model, meta.orientation,
            meta.lat, meta.lon, *names, _place_key(place) if place else None)


@functools.lru_cache(maxsize=4096)
def _place_key(place: Place) -> str:
    """The folded names as "|lisbon|lisbon|portugal|" (LIKE finds any of them); a library has few places."""
    return "|" + "|".join(fold(n) for n in (place.city, place.region, place.country) if n) + "|"


def store(db: sqlite3.Connection, file_id: int, meta: PhotoMeta, mtime: float) -> None:
    db.execute(_INSERT, row(file_id, meta, mtime))


def store_rows(db: sqlite3.Connection, rows: list[tuple]) -> None:
    """A batch's rows (row()), in one statement: indexing writes them inside its batch's transaction."""
    db.executemany(_INSERT, rows)


def matching_ids(db: sqlite3.Connection, f: Filters) -> set[int]:
    """The ids of the files taken in the range and at the place. The range compares local times
    (the day on the photo's own clock), both days included."""
    where, args = [], []
    if f.after:
        where.append("taken >= ?")
        args.append(f.after.isoformat())
    if f.before:
        where.append("taken < ?")
        args.append((f.before + timedelta(days=1)).isoformat())
    if f.place:
        # The name as typed, and the places it names in another language ("Lissabon": Lisbon's photos).
        names = sorted({fold(f.place)} | canonical_names(f.place))
        names = [n.replace("\\", "").replace("%", "").replace("_", "").replace("|", "") for n in names]
        where.append("(" + " OR ".join(["place_key LIKE ? ESCAPE '\\'"] * len(names)) + ")")
        args.extend(f"%|{n}|%" for n in names)
    sql = "SELECT file_id FROM photo_meta" + (" WHERE " + " AND ".join(where) if where else "")
    return {r[0] for r in db.execute(sql, args)}


def describe(db: sqlite3.Connection, ids: list[int]) -> dict[int, tuple[str | None, str | None, str | None]]:
    """id -> (taken as ISO 8601 with its offset when known, "exif" or "file", the place's label)."""
    if not ids:
        return {}
    marks = ",".join("?" * len(ids))
    out = {}
    for i, taken, offset, source, city, region, country in db.execute(
            f"SELECT file_id, taken, taken_offset, taken_source, city, region, country FROM photo_meta"
            f" WHERE file_id IN ({marks})", ids):
        label = Place(city or "", region or "", country or "").label() if city or country else None
        out[i] = (taken + (offset or "") if taken else None, source, label)
    return out


def has_year(db: sqlite3.Connection, year: int) -> bool:
    """Whether any photo was taken in that year (its EXIF date, else its file's)."""
    return db.execute("SELECT 1 FROM photo_meta WHERE taken >= ? AND taken < ? LIMIT 1",
                      (f"{year:04d}-", f"{year + 1:04d}-")).fetchone() is not None


def place_names(db: sqlite3.Connection) -> set[str]:
    """The folded names of every place, region and country in the library."""
    names: set[str] = set()
    for (key,) in db.execute("SELECT DISTINCT place_key FROM photo_meta WHERE place_key IS NOT NULL"):
        names.update(n for n in key.split("|") if n)
    return names

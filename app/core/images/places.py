"""Places offline: a GPS position becomes (place, region, country) from the bundled GeoNames table
(resources/places/, built by scripts/build_places.py), and a typed place name is matched against them.

Nearest place on the unit sphere, weighed by size: a city draws a point from its suburbs (a photo in
central Lisbon is "Lisbon", not the parish next to it). Loaded once, on first use (about 60,000 rows).
"""

from __future__ import annotations

import gzip
import logging
import math
import threading
import unicodedata
import zlib
from dataclasses import dataclass

import numpy as np

from app.core.resources import resources_dir

log = logging.getLogger(__name__)
EARTH_KM = 6371.0
MAX_KM = 150.0  # farther than this from any place (at sea, in a desert): no place is named
PULL_KM, PULL_MAX_KM = 1.5, 25.0  # a place of p people draws points PULL_KM * sqrt(p / 10,000) nearer
CELL_DEG = 0.25  # lookups keep, per cell of this many degrees, the few places any point in it could be given
MAX_CELLS = 16384  # cells kept (a library's photos fall in a few hundred; each a few dozen numbers)


@dataclass(frozen=True)
class Place:
    city: str
    region: str
    country: str

    def label(self) -> str:
        """"Lisbon, Portugal"; the region too where it says more ("Paris, Ontario, Canada")."""
        parts = [self.city] + ([self.region] if self.region and self.region != self.city else []) + [self.country]
        return ", ".join(p for p in parts if p)


def fold(text: str) -> str:
    """Case and diacritics folded, spaces squeezed: "São  Paulo" and "sao paulo" are one name."""
    plain = unicodedata.normalize("NFKD", text.casefold())
    return " ".join("".join(c for c in plain if not unicodedata.combining(c)).split())


class Gazetteer:
    def __init__(self):
        folder = resources_dir() / "places"
        countries = {}
        for line in (folder / "countries.tsv").read_text(encoding="utf-8").splitlines():
            code, _, name = line.partition("\t")
            countries[code] = name
        lat, lon, pop, self.places = [], [], [], []
        with gzip.open(folder / "cities.tsv.gz", "rt", encoding="utf-8") as fh:
            for line in fh:
                f = line.rstrip("\n").split("\t")
                lat.append(float(f[0]))
                lon.append(float(f[1]))
                pop.append(float(f[5]))
                self.places.append(Place(f[2], f[3], countries.get(f[4], f[4])))
        # float64: near cos = 1, float32 resolves only about 2 km, enough to name the wrong suburb
        self.xyz = _unit(np.radians(np.array(lat)), np.radians(np.array(lon)))
        self.pull = np.minimum(PULL_KM * np.sqrt(np.array(pop) / 10_000), PULL_MAX_KM)
        self.names = {fold(n) for p in self.places for n in (p.city, p.region, p.country) if n}
        self._cells: dict[tuple[int, int], tuple[np.ndarray, np.ndarray, np.ndarray]] = {}

    def nearest(self, lat: float, lon: float) -> Place | None:
        if not (math.isfinite(lat) and math.isfinite(lon) and -90 <= lat <= 90 and -180 <= lon <= 180):
            return None
        # Only places near enough to be named can win: one further than MAX_KM + PULL_MAX_KM scores worse
        # than any within MAX_KM, and if none is within MAX_KM there is no name. Those lie among the
        # candidates of the point's cell, a few hundred rows at most, not 60,000 (indexing looks up every photo).
        cand, xyz, pull = self._candidates(lat, lon)
        if cand.size == 0:
            return None
        km = np.arccos(np.minimum(np.einsum("ij,j->i", xyz, _point(lat, lon)), 1.0)) * EARTH_KM
        score = np.where(km <= MAX_KM + PULL_MAX_KM, km - pull, np.inf)
        best = int(np.argmin(score))
        return self.places[int(cand[best])] if km[best] <= MAX_KM else None

    def _candidates(self, lat: float, lon: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """The places that can be the answer for some point of the cell holding (lat, lon): within reach
        (MAX_KM + PULL_MAX_KM) of it, and not beaten everywhere in it by a place that every point reaches."""
        key = (min(int(math.floor(lat / CELL_DEG)), int(90 / CELL_DEG) - 1),
               min(int(math.floor(lon / CELL_DEG)), int(180 / CELL_DEG) - 1))
        kept = self._cells.get(key)
        if kept is None:
            south, west = key[0] * CELL_DEG, key[1] * CELL_DEG
            centre = (south + CELL_DEG / 2, west + CELL_DEG / 2)
            # The farthest point of a small lat/lon cell from its centre is a corner or an edge's middle.
            edge = [(south + a * CELL_DEG, west + b * CELL_DEG) for a in (0, 0.5, 1) for b in (0, 0.5, 1)]
            radius = max(_km(centre, p) for p in edge) * 1.01 + 1.0
            reach = math.cos(min((MAX_KM + PULL_MAX_KM + radius) / EARTH_KM, math.pi)) - 1e-9
            cos = _cosines(self.xyz, _point(*centre))
            found = np.flatnonzero(cos >= reach)
            km = np.arccos(np.clip(cos[found], -1.0, 1.0)) * EARTH_KM
            # A place every point of the cell reaches scores at most km + radius - pull anywhere in it, so the
            # answer anywhere scores at most the least of those, and a place that cannot get under that
            # even at its nearest point of the cell (km - radius - pull) is never the answer.
            sure = km + radius <= MAX_KM + PULL_MAX_KM
            if sure.any():
                bound = float(np.min(km[sure] + radius - self.pull[found[sure]]))
                found = found[km - radius - self.pull[found] <= bound + 1e-6]
            kept = (found.astype(np.int32), np.ascontiguousarray(self.xyz[found]), self.pull[found])
            if len(self._cells) >= MAX_CELLS:
                self._cells.clear()
            self._cells[key] = kept
        return kept

    def knows(self, name: str) -> bool:
        """Whether a name (any case, with or without accents) is a place, region or country here."""
        return fold(name) in self.names


def _point(lat: float, lon: float) -> np.ndarray:
    la, lo = math.radians(lat), math.radians(lon)
    return np.array([math.cos(la) * math.cos(lo), math.cos(la) * math.sin(lo), math.sin(la)])


def _cosines(xyz: np.ndarray, point: np.ndarray) -> np.ndarray:
    """Row by row dot products, without BLAS: a BLAS product this size wakes OpenBLAS's threads, which
    then spin against the CLIP model's on a small machine (indexing looks up every photo)."""
    return xyz[:, 0] * point[0] + xyz[:, 1] * point[1] + xyz[:, 2] * point[2]


def _km(a: tuple[float, float], b: tuple[float, float]) -> float:
    """Great-circle distance (haversine)."""
    la1, lo1, la2, lo2 = (math.radians(v) for v in (*a, *b))
    h = math.sin((la2 - la1) / 2) ** 2 + math.cos(la1) * math.cos(la2) * math.sin((lo2 - lo1) / 2) ** 2
    return 2 * EARTH_KM * math.asin(min(1.0, math.sqrt(h)))


def _unit(lat: np.ndarray, lon: np.ndarray) -> np.ndarray:
    return np.stack([np.cos(lat) * np.cos(lon), np.cos(lat) * np.sin(lon), np.sin(lat)], axis=1)


_lock = threading.Lock()
_loaded: Gazetteer | None = None


def gazetteer() -> Gazetteer:
    global _loaded
    with _lock:
        if _loaded is None:
            _loaded = Gazetteer()
        return _loaded


def _loaded_or_none() -> Gazetteer | None:
    """The gazetteer, or None where its files are missing or damaged (a broken install): photos then have
    no place, and indexing and searching go on."""
    try:
        return gazetteer()
    except (OSError, ValueError, IndexError, EOFError) as exc:
        log.warning("the places table could not be read (%s): photos get no place names", exc)
        return None


def place_of(lat: float | None, lon: float | None) -> Place | None:
    if lat is None or lon is None:
        return None
    g = _loaded_or_none()
    return g.nearest(lat, lon) if g is not None else None


def knows_place(name: str) -> bool:
    """Whether a name is a place, region or country here, in English or in another language's name."""
    g = _loaded_or_none()
    return g is not None and any(g.knows(n) for n in {fold(name)} | canonical_names(name))


_aliases_lock = threading.Lock()
_aliases: dict[str, frozenset[str]] | None = None


def _read_aliases() -> dict[str, frozenset[str]]:
    """resources/places/aliases.tsv.gz (scripts/build_place_aliases.py): folded alias -> folded names."""
    table: dict[str, set[str]] = {}
    with gzip.open(resources_dir() / "places" / "aliases.tsv.gz", "rt", encoding="utf-8") as fh:
        for line in fh:
            alias, tab, name = line.rstrip("\n").partition("\t")
            if not tab or not alias or not name or "\t" in name:
                raise ValueError(f"a line of the aliases table is not 'alias<TAB>name': {line[:60]!r}")
            table.setdefault(alias, set()).add(name)
    return {a: frozenset(n) for a, n in table.items()}


def aliases() -> dict[str, frozenset[str]]:
    """The other languages' names of places, read once; a missing or damaged table is no aliases (logged):
    the English names still work."""
    global _aliases
    with _aliases_lock:
        if _aliases is None:
            try:
                _aliases = _read_aliases()
            except (OSError, ValueError, EOFError, zlib.error) as exc:
                log.warning("the place aliases table could not be read (%s): only English place names match", exc)
                _aliases = {}
        return _aliases


def canonical_names(name: str) -> set[str]:
    """The folded names of the places a typed name stands for in another language ("Lissabon" ->
    {"lisbon"}, "Deutschland" -> {"germany"}); several where it is ambiguous; empty where it is no alias,
    or where it names a place of the table itself: "Tunis" (French for Tunisia) means the city, and
    "Granada" (Spanish for Grenada) the one in Spain, not every photo of those countries."""
    folded, g = fold(name), _loaded_or_none()
    if g is not None and g.knows(folded):
        return set()
    return set(aliases().get(folded, ()))

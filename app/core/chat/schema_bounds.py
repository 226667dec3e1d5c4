"""How much grammar a JSON schema asks for, counted before llama.cpp's converter writes it out.

The converter spells every count out in full: ``minItems: 100000000`` is a 1.8 GB grammar, built for
seconds on the model's worker and then parsed by llama.cpp, and a larger count exhausts the memory of
the model's process. A request's schema is hostile input, so the sum of its counts is bounded first.
"""

from __future__ import annotations

import math
import re

from app.core.jobs import InputError

MAX_REPEATS = 100_000  # items, characters and properties a schema asks for in all (about 2 MB of grammar)
MAX_GRAMMAR_CHARS = 8_000_000  # what the converter wrote, checked again before llama.cpp parses it
# One count: "at most N" is written as N optionals nested in one another, and llama.cpp parses them by
# recursion: maxItems or maxLength 20,000 overflowed the model process's stack (it died, signal 11),
# and from about 3,000 llama.cpp refuses the grammar anyway. So one count above this is said in words.
MAX_ONE_COUNT = 2_000
COUNTS = frozenset({"minItems", "maxItems", "minLength", "maxLength", "minProperties", "maxProperties",
                    "minContains", "maxContains"})
_QUANTIFIER = re.compile(r"\{\s*(\d+)\s*(?:,\s*(\d*)\s*)?\}")  # a pattern's {n}, {n,} and {n,m}


def counts(schema) -> list[float]:
    """Every count in the schema (and its patterns' quantifiers), anywhere in it."""
    found: list[float] = []
    stack = [schema]
    while stack:
        node = stack.pop()
        if isinstance(node, dict):
            for key, value in node.items():
                if key in COUNTS and isinstance(value, int | float) and not isinstance(value, bool):
                    found.append(value if math.isfinite(value) else math.inf)
                elif key == "pattern" and isinstance(value, str):
                    found += [float(n) for pair in _QUANTIFIER.findall(value) for n in pair if n]
                else:
                    stack.append(value)
        elif isinstance(node, list):
            stack.extend(node)
    return found


def repeats(schema) -> float:
    """The sum of the schema's counts (and of its patterns' quantifiers), anywhere in it."""
    return sum(counts(schema))


def check_schema_size(schema) -> None:
    """InputError, in words, for a schema whose counts would make a grammar too large to build."""
    found = counts(schema)
    if sum(found) > MAX_REPEATS:
        raise InputError(f"the JSON schema asks for too much: its counts (minItems, maxLength, a pattern's "
                         f"{{n}} and the like) add up to more than {MAX_REPEATS:,}")
    if any(n > MAX_ONE_COUNT for n in found):
        raise InputError(f"the JSON schema asks for too much: one of its counts (minItems, maxLength, a "
                         f"pattern's {{n}} and the like) is over {MAX_ONE_COUNT:,}")

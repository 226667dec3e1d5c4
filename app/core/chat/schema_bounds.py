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
COUNTS = frozenset({"minItems", "maxItems", "minLength", "maxLength", "minProperties", "maxProperties",
                    "minContains", "maxContains"})
_QUANTIFIER = re.compile(r"\{\s*(\d+)\s*(?:,\s*(\d*)\s*)?\}")  # a pattern's {n}, {n,} and {n,m}


def repeats(schema) -> float:
    """The sum of the schema's counts (and of its patterns' quantifiers), anywhere in it."""
    total = 0.0
    stack = [schema]
    while stack:
        node = stack.pop()
        if isinstance(node, dict):
            for key, value in node.items():
                if key in COUNTS and isinstance(value, int | float) and not isinstance(value, bool):
                    total += value if math.isfinite(value) else math.inf
                elif key == "pattern" and isinstance(value, str):
                    total += sum(int(a) + int(b or 0) for a, b in _QUANTIFIER.findall(value))
                else:
                    stack.append(value)
        elif isinstance(node, list):
            stack.extend(node)
    return total


def check_schema_size(schema) -> None:
    """InputError, in words, for a schema whose counts would make a grammar too large to build."""
    if repeats(schema) > MAX_REPEATS:
        raise InputError(f"the JSON schema asks for too much: its counts (minItems, maxLength, a pattern's "
                         f"{{n}} and the like) add up to more than {MAX_REPEATS:,}")

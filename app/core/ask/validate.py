"""Arguments checked against a tool's JSON schema, with what is wrong said in words.

The tools' schemas use a small part of JSON Schema (an object of strings, integers and arrays of
strings, with bounds and patterns), so this checks that part and nothing more: no dependency, and a message a
person (or a model, on its next step) can act on.
"""

from __future__ import annotations

import re

_TYPES: dict[str, type | tuple[type, ...]] = {"string": str, "integer": int, "array": list, "object": dict,
                                               "boolean": bool, "number": (int, float)}


def check(value, schema: dict, where: str = "the arguments") -> str | None:
    """None when ``value`` fits ``schema``; else the first thing wrong, in words."""
    kind = schema.get("type")
    if kind is not None:
        want = _TYPES.get(kind)
        if want is None:
            return f"{where} has a type this check does not know ({kind})"
        if isinstance(value, bool) and kind not in ("boolean",):
            return f"{where} must be {_article(kind)}, not true or false"
        if not isinstance(value, want):
            return f"{where} must be {_article(kind)}, not {_name(value)}"
    if "enum" in schema and value not in schema["enum"]:
        return f"{where} must be one of {', '.join(map(str, schema['enum']))}"
    if isinstance(value, str):
        if len(value) < schema.get("minLength", 0) or (len(value.strip()) == 0 < schema.get("minLength", 0)):
            return f"{where} is empty"
        if "maxLength" in schema and len(value) > schema["maxLength"]:
            return f"{where} is longer than {schema['maxLength']} characters"
        if "pattern" in schema and not re.search(schema["pattern"], value):
            return f"{where} must be {schema.get('description', 'in the form ' + schema['pattern'])}"
    if isinstance(value, int | float) and not isinstance(value, bool):
        if "minimum" in schema and value < schema["minimum"]:
            return f"{where} must be at least {schema['minimum']}"
        if "maximum" in schema and value > schema["maximum"]:
            return f"{where} must be at most {schema['maximum']}"
    if isinstance(value, list):
        if len(value) < schema.get("minItems", 0):
            return f"{where} needs at least {schema['minItems']} item(s)"
        if "maxItems" in schema and len(value) > schema["maxItems"]:
            return f"{where} takes at most {schema['maxItems']} items"
        for i, item in enumerate(value):
            if (problem := check(item, schema.get("items", {}), f"item {i + 1} of {where}")) is not None:
                return problem
    if isinstance(value, dict):
        props = schema.get("properties", {})
        for name in schema.get("required", ()):
            if name not in value:
                return f"'{name}' is missing"
        if schema.get("additionalProperties") is False:
            extra = sorted(set(value) - set(props))
            if extra:
                return f"there is no argument '{extra[0][:40]}' (the arguments are {', '.join(props) or 'none'})"
        for name, sub in props.items():
            if name in value and (problem := check(value[name], sub, f"'{name}'")) is not None:
                return problem
    return None


def _article(kind: str) -> str:
    return {"integer": "a whole number", "array": "a list", "object": "an object", "string": "text",
            "boolean": "true or false", "number": "a number"}.get(kind, kind)


def _name(value) -> str:
    if value is None:
        return "null"
    return _article({str: "string", int: "integer", float: "number", list: "array", dict: "object"}
                    .get(type(value), type(value).__name__))

"""The words and the grammar of Ask's steps: the schema a local model's step is decided under, the
tools and the results as the model reads them, and the numbered sources its answer cites.

Tools and results are rendered as words here for a local model whose template has no tool-call tokens;
one that has them (Qwen, Llama 3.x, Hermes) gets them through its template instead (``native``).
"""

from __future__ import annotations

import json
import re

from app.core.ask.events import Citation, Step
from app.core.ask.tools import Tool
from app.core.fileio import loads_json

ANSWER = "answer"  # the "tool" of a step that answers now
MAX_SOURCES = 16  # numbered results the answer may cite
STEP_SOURCES = 6  # of them from one step (its best), so one search of 20 leaves room for the next step's
SOURCE_CHARS = 300  # of a result's text, in the prompt
GRAMMAR_STRING = 120  # a string argument's longest, under the step grammar (keeps the grammar small)
MAX_ENUM = 50  # an integer range this long or shorter is spelled out, so the grammar keeps its bounds


def _grammar_schema(schema: dict) -> dict:
    """The schema a model writes under: every property it has required, in order (no choice of which
    to leave out), strings bounded or held to their pattern, small integer ranges spelled out (the
    converter drops min/max). An optional text (search_photos' after, before and place) is not offered:
    a small model fills every field it is given, with invented dates and places (the starter Gemma did,
    null allowed or not); the query's own words say when and where ("in Lisbon last summer")."""
    kind = schema.get("type")
    if kind == "object":
        required = set(schema.get("required", ()))
        props = {k: _grammar_schema(v) for k, v in schema.get("properties", {}).items()
                 if k in required or v.get("type") != "string"}
        return {"type": "object", "properties": props, "required": list(props), "additionalProperties": False}
    if kind == "array":
        out = {k: v for k, v in schema.items() if k in ("type", "minItems", "maxItems")}
        return {**out, "items": _grammar_schema(schema.get("items", {}))}
    if kind == "string" and "pattern" in schema:
        return {"type": "string", "pattern": schema["pattern"]}
    if kind == "string":
        return {"type": "string", "minLength": max(1, schema.get("minLength", 1)),
                "maxLength": min(GRAMMAR_STRING, schema.get("maxLength", GRAMMAR_STRING))}
    if kind == "integer" and "minimum" in schema and "maximum" in schema:
        low, high = int(schema["minimum"]), int(schema["maximum"])
        if high - low < MAX_ENUM:
            return {"enum": list(range(low, high + 1))}
    return {k: v for k, v in schema.items() if k != "description"}


def step_schema(tools: list[Tool], may_answer: bool = True) -> dict:
    """One object: {"tool": NAME, "arguments": {...}} for one of ``tools`` with valid arguments, or
    {"tool": "answer"} (when ``may_answer``)."""
    choices = [{"type": "object", "additionalProperties": False, "required": ["tool", "arguments"],
                "properties": {"tool": {"const": t.name}, "arguments": _grammar_schema(t.parameters)}}
               for t in tools]
    if may_answer:
        choices.append({"type": "object", "additionalProperties": False, "required": ["tool"],
                        "properties": {"tool": {"const": ANSWER}}})
    return choices[0] if len(choices) == 1 else {"oneOf": choices}


def tools_in_words(tools: list[Tool]) -> str:
    lines = []
    for t in tools:
        offered = _grammar_schema(t.parameters).get("properties", {})  # what the step may write
        args = ", ".join(f"{k}: {v.get('type', 'value')}" for k, v in t.parameters.get("properties", {}).items()
                         if k in offered)
        lines.append(f"- {t.name}({args}): {t.description}")
    return "\n".join(lines)


def step_prompt(tools: list[Tool], question: str, steps: list[Step], sources: list[Citation]) -> tuple[str, str]:
    """(system, user) for deciding the next step."""
    system = ("You help the user with their own photos, documents, recordings and chats, using these tools:\n"
              f"{tools_in_words(tools)}\n"
              'Reply with one JSON object: {"tool": NAME, "arguments": {...}} to call a tool, or {"tool": "answer"} '
              "when the results so far are enough to answer.")
    user = question.strip()
    if steps:
        user += "\n\nSteps so far:\n" + "\n".join(f"- {s.summary or s.tool}" + (f" ({s.error})" if s.error else "")
                                                 for s in steps)
        if sources:
            user += "\n\nResults:\n" + sources_in_words(sources)
    return system, user


def answer_prompt(question: str, steps: list[Step], sources: list[Citation]) -> tuple[str, str]:
    """(system, user) for the answer: the question, the results as numbered sources (by name: the
    answer cites numbers, and paths would only cost tokens), then what to do (small models follow an
    instruction that comes last)."""
    system = "You answer questions about the user's own files. Cite sources by number, like [1]."
    if sources:
        body = "Sources:\n" + sources_in_words(sources, paths=False)
    elif steps:
        body = "The tools found nothing:\n" + "\n".join(f"- {s.error or s.summary}" for s in steps)
    else:
        body = "No tools were used."
    return system, f"{question.strip()}\n\n{body}\n\nAnswer briefly and cite the sources you use, like [1]."


def number_sources(steps: list[Step]) -> list[Citation]:
    """The results the answer may cite, numbered from 1 in the order of the steps: each step's best
    STEP_SOURCES. A step's numbers do not change when later steps come (the remote loop sends them as
    each step ends)."""
    out: list[Citation] = []
    for i, step in enumerate(steps):
        for result in step.results[:STEP_SOURCES]:
            if len(out) >= MAX_SOURCES:
                return out
            out.append(Citation(len(out) + 1, i, result))
    return out


def source_in_words(c: Citation, paths: bool = True) -> str:
    r = c.result
    where = []
    if r.get("page"):
        where.append(f"page {r['page']}")
    if isinstance(r.get("start"), int | float):
        where.append(f"at {r['start']:.0f} s")
    head = " ".join(str(x) for x in (r.get("kind", ""), r.get("title", "")) if x)
    text = " ".join(str(r.get("text", "")).split())[:SOURCE_CHARS]
    parts = [head, (r.get("path") or "") if paths else "", ", ".join(where), text]
    return f"[{c.number}] " + " | ".join(p for p in parts if p)


def sources_in_words(sources: list[Citation], paths: bool = True) -> str:
    return "\n".join(source_in_words(c, paths) for c in sources)


def results_for_tool_message(index: int, step: Step, sources: list[Citation]) -> str:
    """Step ``index``'s results as a ``role: tool`` message's content: JSON, each with its source number."""
    numbered = [{"n": c.number, **c.result} for c in sources if c.step == index]
    return json.dumps({"summary": step.summary, "error": step.error, "results": numbered}, ensure_ascii=False)


_CITED = re.compile(r"\[(\d{1,3})\]")


def cited(answer: str, sources: list[Citation]) -> list[Citation]:
    """The sources the answer cites as [n], in the order first cited."""
    by_number = {c.number: c for c in sources}
    out: list[Citation] = []
    for m in _CITED.finditer(answer):
        c = by_number.get(int(m.group(1)))
        if c is not None and c not in out:
            out.append(c)
    return out


def parse_step(text: str) -> tuple[str, dict] | str:
    """(tool, arguments) from a step the model wrote; else what is wrong, in words."""
    try:
        data = loads_json(text)
    except ValueError:
        return "the model's choice of step was not complete JSON"
    if not isinstance(data, dict) or not isinstance(data.get("tool"), str):
        return "the model's choice of step named no tool"
    args = data.get("arguments", {})
    return data["tool"], args if isinstance(args, dict) else {"": args}

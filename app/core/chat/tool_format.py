"""A model's own tool-call format, read from its chat template: how it writes a call, so a call can be
decoded under a grammar in that form (the model then sees and writes what it was trained on) and read back.

Two families are known, recognised by the template's text, never by the model's name:
- ``hermes`` (Qwen2.5/3, Hermes): ``<tool_call>\\n{"name": N, "arguments": {...}}\\n</tool_call>``, the tools
  in ``<tools>`` in the system turn, results as ``<tool_response>`` turns;
- ``llama3`` (Llama 3.1/3.2/3.3): a bare ``{"name": N, "parameters": {...}}``, results in ``ipython`` turns.
A template of either family is used for tools only when it shows a probe tool (templates.JinjaTemplate).
"""

from __future__ import annotations

import json
from dataclasses import dataclass


@dataclass(frozen=True)
class ToolStyle:
    name: str
    prefix: str  # literal text before a call's JSON
    suffix: str  # and after it
    arguments: str  # the JSON key of a call's arguments

    @property
    def opener(self) -> str:
        """The first character of a call: a reply that begins with anything else is words."""
        return (self.prefix.lstrip() or "{")[:1]

    def call_schema(self, name: str, parameters: dict) -> dict:
        """The JSON schema of a call of one tool, in this style's keys."""
        return {"type": "object", "additionalProperties": False, "required": ["name", self.arguments],
                "properties": {"name": {"const": name}, self.arguments: parameters}}

    def is_words(self, text: str) -> bool | None:
        """Whether a reply that begins with ``text`` is words rather than a call (None: not known yet)."""
        begun = text.lstrip()
        return None if not begun else begun[0] != self.opener

    def parse(self, text: str) -> tuple[str, dict] | str:
        """(name, arguments) from a call written in this style (its prefix and suffix optional: a
        template's call tokens may be special tokens that are not shown); else what is wrong, in words."""
        body = text.strip().removeprefix("<|python_tag|>")
        if self.prefix.strip():
            body = body.removeprefix(self.prefix.strip())
        if self.suffix.strip():
            body = body.removesuffix(self.suffix.strip())
        try:
            data = json.loads(body)
        except ValueError:
            return "the model's tool call was not complete JSON"
        if not isinstance(data, dict) or not isinstance(data.get("name"), str):
            return "the model's tool call named no tool"
        args = data.get(self.arguments, {})
        return data["name"], args if isinstance(args, dict) else {"": args}


STYLES = {
    "hermes": ToolStyle("hermes", "<tool_call>\n", "\n</tool_call>", "arguments"),
    "llama3": ToolStyle("llama3", "", "", "parameters"),
}


def family(source: str) -> str:
    """The tool-call family a template's text belongs to ("" when it has none)."""
    if "tools" not in source:
        return ""
    if "<tool_call>" in source:
        return "hermes"
    if ("<|python_tag|>" in source or "ipython" in source) and '"parameters"' in source:
        return "llama3"
    return ""


def style_of(engine) -> ToolStyle | None:
    """The tool style of a loaded local engine's template (None: tools go in words)."""
    fmt = getattr(engine, "format", None)
    return STYLES.get(getattr(fmt, "tool_style", "") or "")

"""A reply decoded under the tools' grammar (tools.py), read back as it arrives into OpenAI's deltas:
``{"name": N, "arguments": A}`` is one tool call (its id, type and name first, then A's text in pieces);
a reply that begins with anything but ``{`` (tool_choice auto) is words, passed on as content. The same
reader builds the whole message, so a reply streamed and not streamed say the same. A model's own call
form (tool_format.ToolStyle) is read the same way: its opening tokens (``<tool_call>``) are passed over,
and its arguments' key may be another ("parameters" for Llama 3)."""

from __future__ import annotations

import json
import re
import uuid

from app.core.chat.tool_format import ToolStyle

_NAME = r'\s*\{\s*"name"\s*:\s*"([A-Za-z0-9_-]{1,64})"\s*,\s*"'  # tools.NAME
_CALL = re.compile(_NAME + r'arguments"\s*:\s*')


class ToolReply:
    """feed(text) gives the deltas that text completes; finish() the rest. After them, `calls` and
    `content` hold the whole message."""

    def __init__(self, style: ToolStyle | None = None) -> None:
        self.prefix = style.prefix.strip() if style is not None else ""
        self.opener = style.opener if style is not None else "{"
        self.call = _CALL if style is None else re.compile(_NAME + re.escape(style.arguments) + r'"\s*:\s*')
        self.state = "head"  # head → call → done, or head → text
        self.buffer = ""
        self.calls: list[dict] = []
        self.content: str | None = None
        self._depth = 0
        self._in_string = self._escaped = False

    def feed(self, text: str) -> list[dict]:
        if self.state == "text":
            return self._words(text)
        self.buffer += text
        if self.state == "head":
            return self._head()
        if self.state == "call":
            return self._arguments()
        return []

    def finish(self) -> list[dict]:
        """At the end of the reply: text that never became a whole call's head (cut short) is content."""
        if self.state == "head" and self.buffer:
            self.state, text, self.buffer = "text", self.buffer, ""
            return self._words(text)
        return []

    def complete(self) -> bool:
        """Whether a call's arguments were whole (a reply cut by max_tokens leaves them open)."""
        return self.state == "done"

    def _words(self, text: str) -> list[dict]:
        if not text:
            return []
        self.content = (self.content or "") + text
        return [{"content": text}]

    def _head(self) -> list[dict]:
        begun = self.buffer.lstrip()
        if begun and not begun.startswith(self.opener):  # auto: words, decoded freely (the engine's rule)
            self.state, text, self.buffer = "text", self.buffer, ""
            return self._words(text)
        if self.prefix:  # the template's call tokens, when they are shown
            if self.prefix.startswith(begun):
                return []
            if begun.startswith(self.prefix):
                self.buffer = begun[len(self.prefix):]
                self.prefix, self.opener = "", "{"  # the call's JSON comes next
        call = self.call.match(self.buffer)
        if call is None:
            return []
        name = call.group(1)
        self.calls.append({"id": f"call_{uuid.uuid4().hex[:24]}", "type": "function",
                           "function": {"name": name, "arguments": ""}})
        self.state, self.buffer = "call", self.buffer[call.end():]
        first = {"index": 0, **self.calls[0], "function": {"name": name, "arguments": ""}}
        return [{"tool_calls": [first]}, *self._arguments()]

    def _arguments(self) -> list[dict]:
        """The arguments' JSON text up to where its object closes; control characters the grammar lets
        into strings are escaped, so the text parses with a strict JSON reader."""
        piece = []
        for c in self.buffer:
            if self._in_string:
                if self._escaped:
                    self._escaped = False
                elif c == "\\":
                    self._escaped = True
                elif c == '"':
                    self._in_string = False
                elif c < " ":
                    c = json.dumps(c)[1:-1]
            elif c == '"':
                self._in_string = True
            elif c in "{[":
                self._depth += 1
            elif c in "}]":
                self._depth -= 1
            elif c.isspace() and self._depth == 0:
                continue
            piece.append(c)
            if self._depth == 0 and not self._in_string:
                self.state = "done"
                break
        self.buffer = ""
        text = "".join(piece)
        if not text:
            return []
        self.calls[0]["function"]["arguments"] += text
        return [{"tool_calls": [{"index": 0, "function": {"arguments": text}}]}]

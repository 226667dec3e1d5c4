"""A reply decoded under the tools' grammar (tools.py), read back as it arrives into OpenAI's deltas:
``{"name": N, "arguments": A}`` is one tool call (its id, type and name first, then A's text in pieces),
``{"content": S}`` is S's text, unescaped piece by piece. The same reader builds the whole message, so
a reply streamed and not streamed say the same."""

from __future__ import annotations

import json
import re
import uuid

_CALL = re.compile(r'\s*\{\s*"name"\s*:\s*"((?:[^"\\]|\\.)*)"\s*,\s*"arguments"\s*:\s*')
_ANSWER = re.compile(r'\s*\{\s*"content"\s*:\s*"')
_ESCAPES = {"b": "\b", "f": "\f", "n": "\n", "r": "\r", "t": "\t"}


class ToolReply:
    """feed(text) gives the deltas that text completes; finish() the rest. After them, `calls` and
    `content` hold the whole message."""

    def __init__(self) -> None:
        self.state = "head"  # head → call | answer → done
        self.buffer = ""
        self.calls: list[dict] = []
        self.content: str | None = None
        self._depth = 0
        self._in_string = self._escaped = False

    def feed(self, text: str) -> list[dict]:
        self.buffer += text
        out: list[dict] = []
        if self.state == "head":
            out += self._head()
        if self.state == "call":
            out += self._arguments()
        elif self.state == "answer":
            out += self._answer()
        return out

    def finish(self) -> list[dict]:
        """At the end of the reply: text that never became a call or an answer (cut short) is content."""
        if self.state == "head" and self.buffer:
            self.state, self.content = "done", self.buffer
            return [{"content": self.buffer}]
        return []

    def complete(self) -> bool:
        """Whether the call's arguments were whole (a reply cut by max_tokens leaves them open)."""
        return self.state == "done"

    def _head(self) -> list[dict]:
        call = _CALL.match(self.buffer)
        if call is not None:
            name = json.loads(f'"{call.group(1)}"')
            self.calls.append({"id": f"call_{uuid.uuid4().hex[:24]}", "type": "function",
                               "function": {"name": name, "arguments": ""}})
            self.state, self.buffer = "call", self.buffer[call.end():]
            first = {"index": 0, **self.calls[0], "function": {"name": name, "arguments": ""}}
            return [{"tool_calls": [first]}]
        answer = _ANSWER.match(self.buffer)
        if answer is not None:
            self.state, self.buffer, self.content = "answer", self.buffer[answer.end():], ""
        return []

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
            if self._depth == 0 and not self._in_string and c not in " \t\r\n":
                self.state, self.buffer = "done", ""
                break
        else:
            self.buffer = ""
        text = "".join(piece)
        if not text:
            return []
        self.calls[0]["function"]["arguments"] += text
        return [{"tool_calls": [{"index": 0, "function": {"arguments": text}}]}]

    def _answer(self) -> list[dict]:
        text, used, ended = _unescape(self.buffer)
        self.buffer = self.buffer[used:]
        if ended:
            self.state, self.buffer = "done", ""
        if not text:
            return []
        self.content = (self.content or "") + text
        return [{"content": text}]


def _unescape(raw: str) -> tuple[str, int, bool]:
    """The text of a JSON string's body as far as it is whole: (text, characters read, the string ended)."""
    out: list[str] = []
    i = 0
    while i < len(raw):
        c = raw[i]
        if c == '"':
            return "".join(out), i + 1, True
        if c != "\\":
            out.append(c)
            i += 1
            continue
        if i + 1 >= len(raw):
            break
        kind = raw[i + 1]
        if kind != "u":
            out.append(_ESCAPES.get(kind, kind))
            i += 2
            continue
        code = _hex(raw[i + 2:i + 6])
        if code is None:
            break
        if 0xD800 <= code < 0xDC00:  # a surrogate pair's first half waits for its second
            if i + 12 > len(raw):
                break
            low = _hex(raw[i + 8:i + 12]) if raw[i + 6:i + 8] == "\\u" else None
            if low is not None and 0xDC00 <= low < 0xE000:
                out.append(chr(0x10000 + ((code - 0xD800) << 10) + (low - 0xDC00)))
                i += 12
                continue
            code = 0xFFFD
        out.append("\ufffd" if 0xDC00 <= code < 0xE000 else chr(code))
        i += 6
    return "".join(out), i, False


def _hex(text: str) -> int | None:
    return int(text, 16) if len(text) == 4 and all(c in "0123456789abcdefABCDEF" for c in text) else None

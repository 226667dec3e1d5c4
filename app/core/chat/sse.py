"""Server-Sent Events read from a hostile server, with every buffer bounded.

A server may send a line that never ends, `data:` lines with no blank line between them
(one event that never ends), or events for ever. Each of these stops at a bound with
StreamLimit, whose message says which bound; the caller ends the reply in words.
"""

from __future__ import annotations

from collections.abc import Iterator

MAX_LINE = 1 << 20  # one line
MAX_EVENT = 1 << 20  # one event's data, all its lines together
MAX_STREAM = 128 << 20  # all a reply's bytes, events that carry no text included


class StreamLimit(Exception):  # noqa: N818 - a bound reached, said in words by the caller
    pass


def events(resp, max_line: int = MAX_LINE, max_event: int = MAX_EVENT,
           max_stream: int = MAX_STREAM) -> Iterator[str]:
    """The data of each event (multi-line data joined), until the stream ends."""
    data: list[str] = []
    size = total = 0
    while True:
        line = resp.readline(max_line + 1)
        total += len(line)
        if len(line) > max_line:
            raise StreamLimit(f"a line longer than {_mb(max_line)}")
        if total > max_stream:
            raise StreamLimit(f"more than {_mb(max_stream)} in one reply")
        if not line:
            if data:
                yield "\n".join(data)
            return
        text = line.decode("utf-8", "replace").rstrip("\r\n")
        if not text:
            if data:
                yield "\n".join(data)
                data, size = [], 0
            continue
        if text.startswith(":"):
            continue
        field, _, value = text.partition(":")
        if field == "data":
            value = value[1:] if value.startswith(" ") else value
            size += len(value) + 1
            if size > max_event:
                raise StreamLimit(f"an event longer than {_mb(max_event)}")
            data.append(value)


def _mb(n: int) -> str:
    return f"{n / (1 << 20):g} MB"

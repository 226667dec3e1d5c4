"""A local stand-in for a model hub: the file protocol, and faults on request.

Speaks ``{repo}/resolve/{revision}/{file}`` with a redirect to a CDN path,
HEAD with ``X-Linked-Etag``/``X-Linked-Size``, and ``Range``. Tests set
``faults`` to make it drop connections, flip a byte, ignore Range, answer
errors, or crawl. Every request's headers are recorded (``headers``), any path
can redirect anywhere (``redirects``), and the CDN can be another Hub
(``cdn``): that is how a test sees where a token went.
"""

from __future__ import annotations

import hashlib
import http.server
import threading
import time
from dataclasses import dataclass, field


@dataclass
class Faults:
    drop_at: list[int] = field(default_factory=list)  # one GET each: close after this many bytes
    flip_byte: int | None = None
    ignore_range: bool = False
    statuses: list[int] = field(default_factory=list)  # answered (GET) before the real answer
    status: int | None = None  # answered always
    bytes_per_s: int | None = None
    linked_size: int | None = None  # lie about the size
    publish_hash: bool = True
    publish_size: bool = True  # False: the redirect carries no X-Linked-Size (the size is learnt later)
    no_length: bool = False  # HTTP/1.0-style bodies: no Content-Length, the end is the connection closing


class Hub:
    def __init__(self):
        self.files: dict[str, bytes] = {}
        self.faults = Faults()
        self.requests: list[tuple[str, str, str | None]] = []  # (method, path, Range)
        self.headers: list[tuple[str, str, dict[str, str]]] = []  # (method, path, every request header)
        self.redirects: dict[str, str] = {}  # path -> Location, answered with a 302 before anything else
        self.cdn: Hub | None = None  # where LFS files redirect to; None: this server's own /cdn
        self._lock = threading.Lock()
        hub = self

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args):
                pass

            def do_HEAD(self):  # noqa: N802
                hub._handle(self, head=True)

            def do_GET(self):  # noqa: N802
                hub._handle(self, head=False)

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    @property
    def endpoint(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}"

    def add(self, repo: str, filename: str, data: bytes, revision: str = "main") -> str:
        self.files[f"/{repo}/resolve/{revision}/{filename}"] = data
        return f"{self.endpoint}/{repo}/resolve/{revision}/{filename}"

    def authorizations(self) -> list[str | None]:
        """The Authorization header of every request, in order (None where none was sent)."""
        return [h.get("Authorization") for _m, _p, h in self.headers]

    def ranges(self) -> list[str | None]:
        return [r for m, p, r in self.requests if m == "GET" and p.startswith("/cdn/")]

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()

    def _handle(self, h, head: bool) -> None:
        path, rng = h.path, h.headers.get("Range")
        with self._lock:
            self.requests.append(("HEAD" if head else "GET", path, rng))
            self.headers.append(("HEAD" if head else "GET", path, dict(h.headers.items())))
            f = self.faults
            status = f.status
            if status is None and f.statuses and not head:
                status = f.statuses.pop(0)
        if status is not None:
            h.send_response(status)
            h.send_header("Content-Length", "0")
            h.end_headers()
            return
        if path in self.redirects:
            h.send_response(302)
            h.send_header("Location", self.redirects[path])
            h.send_header("Content-Length", "0")
            h.end_headers()
            return
        if path.startswith("/cdn/"):
            return self._serve(h, path[len("/cdn"):], rng, head)
        data = self.files.get(path)
        if data is None:
            h.send_response(404)
            h.send_header("Content-Length", "0")
            h.end_headers()
            return
        h.send_response(302)  # like the hub: LFS files redirect to a CDN
        if self.cdn is not None:
            self.cdn.files.setdefault(path, data)
        h.send_header("Location", f"{(self.cdn or self).endpoint}/cdn{path}")
        if f.publish_hash:
            h.send_header("X-Linked-Etag", f'"{hashlib.sha256(data).hexdigest()}"')
        if f.publish_size:
            h.send_header("X-Linked-Size", str(f.linked_size or len(data)))
        h.send_header("Content-Length", "0")
        h.end_headers()

    def _serve(self, h, path, rng, head) -> None:
        data = self.files[path]
        f = self.faults
        if f.flip_byte is not None:
            data = bytearray(data)
            data[f.flip_byte] ^= 0xFF
            data = bytes(data)
        start = 0
        if rng and not f.ignore_range:
            start = int(rng.split("=")[1].split("-")[0])
            if start >= len(data):  # as real servers answer a range past the end
                h.send_response(416)
                h.send_header("Content-Range", f"bytes */{len(data)}")
                h.send_header("Content-Length", "0")
                h.end_headers()
                return
            h.send_response(206)
            h.send_header("Content-Range", f"bytes {start}-{len(data) - 1}/{len(data)}")
        else:
            h.send_response(200)
        body = data[start:]
        if f.no_length:
            h.close_connection = True
        else:
            h.send_header("Content-Length", str(len(body)))
        h.send_header("Accept-Ranges", "bytes")
        h.end_headers()
        if head:
            return
        with self._lock:
            drop = f.drop_at.pop(0) if f.drop_at else None
        limit = len(body) if drop is None else max(0, drop - start)
        sent, step = 0, 64 * 1024
        try:
            while sent < limit:
                n = min(step, limit - sent)
                h.wfile.write(body[sent:sent + n])
                sent += n
                if f.bytes_per_s:
                    time.sleep(n / f.bytes_per_s)
            h.wfile.flush()
        except (BrokenPipeError, ConnectionResetError):
            return
        if drop is not None or f.no_length:
            h.close_connection = True
            h.connection.shutdown(2)

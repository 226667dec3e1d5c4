"""Idle and slow connections cannot lock anyone out of `serve` (#22): real sockets on loopback."""

from __future__ import annotations

import http.client
import json
import socket
import threading
import time

import pytest

from tests.helpers import wait_until

SLOW = 70  # more than the 64 that used to fill uvicorn's limit


@pytest.fixture(params=["keyless", "with-key"])
def server(request, starter_store):
    from app.server.api import ServerOptions
    from app.server.backends import LocalBackends
    from app.server.connections import ConnectionLimits
    from app.server.run import HearthServer

    key = "s3cret-key" if request.param == "with-key" else ""
    backends = LocalBackends(store=starter_store)
    options = ServerOptions(api_key=key, connections=ConnectionLimits(header_timeout_s=3.0))
    server = HearthServer(backends, "127.0.0.1", 0, options).start()
    server.key = key
    yield server
    server.stop()
    backends.close()


class Slowloris:
    """Connections that send their headers a byte at a time and never finish them."""

    def __init__(self, port: int, n: int):
        self.socks = [socket.create_connection(("127.0.0.1", port), timeout=5) for _ in range(n)]
        self.closed: set[int] = set()
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._dribble, daemon=True)
        self.thread.start()

    def _dribble(self) -> None:
        header = b"POST /v1/chat/completions HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Pad: " + b"a" * 10_000
        i = 0
        while not self.stop.is_set():
            for k, s in enumerate(self.socks):
                if k in self.closed:
                    continue
                try:
                    s.sendall(header[i % len(header) : i % len(header) + 1])
                except OSError:
                    self.closed.add(k)
            i += 1
            self.stop.wait(0.1)

    def all_closed_by_server(self) -> bool:
        for k, s in enumerate(self.socks):
            if k in self.closed:
                continue
            s.setblocking(False)
            try:
                if s.recv(4096) == b"":
                    self.closed.add(k)
            except BlockingIOError:
                pass
            except OSError:
                self.closed.add(k)
        return len(self.closed) == len(self.socks)

    def close(self) -> None:
        self.stop.set()
        self.thread.join(5)
        for s in self.socks:
            s.close()


def test_slow_connections_neither_lock_others_out_nor_stay_open(server):
    slow = Slowloris(server.port, SLOW)
    try:
        started = time.monotonic()
        conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=30)
        conn.request("GET", "/v1/models", headers={"Authorization": f"Bearer {server.key}"} if server.key else {})
        resp = conn.getresponse()
        body = json.loads(resp.read())
        conn.close()
        # It used to be a 503 ("Exceeded concurrency limit") for as long as the slow sockets stayed.
        assert resp.status == 200 and body["object"] == "list", body
        assert time.monotonic() - started < 10
        # Each is closed at its header deadline (3 s here), however many bytes it still sends.
        wait_until(slow.all_closed_by_server, timeout=30, what="the slow connections to be closed")
    finally:
        slow.close()


def test_silent_connections_from_one_address_make_room_for_a_new_one(server):
    """Connections that send nothing at all: the oldest waiting ones are closed as new ones come."""
    socks = [socket.create_connection(("127.0.0.1", server.port), timeout=5) for _ in range(SLOW)]
    try:
        for _ in range(3):  # again and again, each time at once
            conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=30)
            conn.request("GET", "/v1/models", headers={"Authorization": f"Bearer {server.key}"} if server.key else {})
            resp = conn.getresponse()
            assert resp.status == 200
            resp.read()
            conn.close()
    finally:
        for s in socks:
            s.close()


def test_a_body_that_stops_arriving_is_dropped(starter_store):
    from app.server.api import ServerOptions
    from app.server.backends import LocalBackends
    from app.server.connections import ConnectionLimits
    from app.server.run import HearthServer

    backends = LocalBackends(store=starter_store)
    options = ServerOptions(connections=ConnectionLimits(body_idle_s=2.0))
    server = HearthServer(backends, "127.0.0.1", 0, options).start()
    s = socket.create_connection(("127.0.0.1", server.port), timeout=30)
    try:
        s.sendall(b"POST /v1/chat/completions HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
                  b"Content-Length: 1000\r\n\r\n{\"messages\": ")
        started = time.monotonic()
        data = b""
        while chunk := s.recv(4096):  # the server ends it: EOF (after an error response, if any)
            data += chunk
        assert time.monotonic() - started < 20
    finally:
        s.close()
        server.stop()
        backends.close()

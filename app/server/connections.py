"""Connections that send nothing, or their headers a byte at a time, cannot lock others out.

uvicorn closes a connection idle after a response, but not one that never finishes its headers
(slowloris), and it counted every open connection against one limit: 70 idle sockets got every
later request a 503. Here a connection that is not inside a request ("waiting": before its
headers are complete, or idle between requests) must finish its headers within a deadline that
bytes do not extend; waiting connections are capped per client address and in all, and the
oldest is closed to make room, so a new client is always heard; a request's body must keep
arriving. Requests under way are counted apart (see KeyCheck: authorised ones apart from keyless).
"""

from __future__ import annotations

import asyncio
import logging
import time
from dataclasses import dataclass

log = logging.getLogger(__name__)
_BUSY_BODY = b'{"error": {"message": "too many connections from this address; try again shortly", "type": "busy"}}'
BUSY = (b"HTTP/1.1 503 Service Unavailable\r\nContent-Type: application/json\r\nRetry-After: 1\r\n"
        b"Connection: close\r\nContent-Length: " + str(len(_BUSY_BODY)).encode() + b"\r\n\r\n" + _BUSY_BODY)


@dataclass
class ConnectionLimits:
    header_timeout_s: float = 10.0  # from connecting (or the last response) to a request's last header
    body_idle_s: float = 30.0  # the longest pause while a request body arrives
    max_waiting: int = 32  # connections not inside a request, in all
    max_waiting_per_client: int = 8
    # A client address's connections, waiting or not: above the 64 requests that may run at once plus its
    # idle ones, since every local program shares 127.0.0.1.
    max_per_client: int = 80


class ConnectionGuard:
    """Shared by one server's connections (on its event loop only, so no lock)."""

    def __init__(self, limits: ConnectionLimits):
        self.limits = limits
        self.waiting: dict[object, float] = {}  # protocol -> when it began waiting; oldest first
        self.per_client: dict[str, int] = {}
        self.counted: set[object] = set()  # open connections, until closed or dropped (a drop counts at once:
        self._timers: dict[object, asyncio.TimerHandle] = {}  # in a burst of accepts its connection_lost comes later)

    @staticmethod
    def _address(proto) -> str:
        return proto.client[0] if proto.client else ""

    def opened(self, proto) -> bool:
        """False: the client has too many connections, none of them idle; this one is closed."""
        address = self._address(proto)
        if self.per_client.get(address, 0) >= self.limits.max_per_client:
            idle = next((p for p in self.waiting if self._address(p) == address), None)
            if idle is None:  # a reply a client retries as "busy", not a reset it cannot tell from a crash
                log.warning("refused a connection from %s: %d open already", address, self.per_client[address])
                proto.transport.write(BUSY)
                proto.transport.close()
                return False
            self._drop(idle, "too many connections from its address")  # the newest is heard
        self.counted.add(proto)
        self.per_client[address] = self.per_client.get(address, 0) + 1
        return True

    def _uncount(self, proto) -> None:
        if proto not in self.counted:
            return
        self.counted.discard(proto)
        address = self._address(proto)
        left = self.per_client.get(address, 1) - 1
        if left > 0:
            self.per_client[address] = left
        else:
            self.per_client.pop(address, None)

    def closed(self, proto) -> None:
        self._uncount(proto)
        self.waiting.pop(proto, None)
        self._cancel(proto)

    def update(self, proto) -> None:
        """After bytes arrive or a response ends: waiting, reading a body, or running."""
        if proto.transport is None or proto.transport.is_closing():
            return
        cycle = proto.cycle
        if cycle is not None and not cycle.response_complete:
            self.waiting.pop(proto, None)
            if cycle.more_body:  # every chunk of the body restarts its pause
                self._arm(proto, self.limits.body_idle_s, "sent no more of its request body")
            else:
                self._cancel(proto)
            return
        if proto in self.waiting:
            return  # its deadline stands, however many bytes trickle in
        self.waiting[proto] = time.monotonic()
        self._arm(proto, self.limits.header_timeout_s, "did not finish its request headers")
        self._make_room(self._address(proto))

    def _make_room(self, address: str) -> None:
        mine = [p for p in self.waiting if self._address(p) == address]
        if len(mine) > self.limits.max_waiting_per_client:
            self._drop(mine[0], "too many idle connections from its address")
        if len(self.waiting) > self.limits.max_waiting:
            self._drop(next(iter(self.waiting)), "too many idle connections")

    def _drop(self, proto, why: str) -> None:
        log.info("closed a connection from %s: %s", self._address(proto), why)
        self.waiting.pop(proto, None)
        self._cancel(proto)
        self._uncount(proto)
        proto.transport.close()

    def _arm(self, proto, seconds: float, why: str) -> None:
        self._cancel(proto)
        self._timers[proto] = proto.loop.call_later(seconds, self._drop, proto, f"{why} within {seconds:g} s")

    def _cancel(self, proto) -> None:
        timer = self._timers.pop(proto, None)
        if timer is not None:
            timer.cancel()


def guarded_protocol(guard: ConnectionGuard):
    """uvicorn's HTTP protocol class, reporting each connection's state to the guard."""
    from uvicorn.protocols.http.auto import AutoHTTPProtocol

    class GuardedProtocol(AutoHTTPProtocol):  # type: ignore[valid-type,misc]  # uvicorn picks the class at import
        def connection_made(self, transport) -> None:
            super().connection_made(transport)
            if guard.opened(self):
                guard.update(self)

        def data_received(self, data: bytes) -> None:
            super().data_received(data)
            guard.update(self)

        def on_response_complete(self) -> None:
            super().on_response_complete()
            guard.update(self)

        def connection_lost(self, exc) -> None:
            guard.closed(self)
            super().connection_lost(exc)

    return GuardedProtocol

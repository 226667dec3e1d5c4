"""Which hosts and web pages the server answers.

A keyless loopback server is reachable by any web page the user opens: a page on another
site can POST to it (a "simple" cross-site request needs no preflight), and one that rebinds
its own DNS name to 127.0.0.1 can read the answers. So:
- the Host header must name this server: a loopback name or address, the address it listens
  on, or a name the user allowed (--allow-host); a DNS-rebinding page sends its own name;
- a request that carries an Origin (browsers send one with every cross-site request and every
  POST) is refused unless that origin was allowed with --cors. The server serves no pages of
  its own, so no browser page is trusted by default, not even one from localhost;
- a wildcard ('*') CORS origin or Host name needs an API key.
"""

from __future__ import annotations

import ipaddress
import json
import logging

from app.core.jobs import InputError

log = logging.getLogger(__name__)
WILDCARD_BINDS = {"0.0.0.0", "::", ""}


def is_loopback(host: str) -> bool:
    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False  # a host name may resolve anywhere


def normalise_origins(cors: list[str]) -> list[str]:
    """Origins as a browser sends them (lower case, no trailing slash): the guard and the CORS layer must
    agree, or a page the guard lets through gets no CORS headers and cannot read the reply."""
    return [o if o == "*" else o.strip().rstrip("/").lower() for o in cors]


def check_options(api_key: str, cors: list[str], allow_hosts: list[str]) -> None:
    """Refuses what would open a keyless server to every web page."""
    if api_key:
        return
    if "*" in cors:
        raise InputError("refusing --cors '*' without --api-key: every web page you open could then use the "
                         "models and read your photo paths. Name the page's origin (--cors http://host:port), "
                         "or give a key")
    if "*" in allow_hosts:
        raise InputError("refusing --allow-host '*' without --api-key: any web page could reach the server "
                         "through a DNS name it controls. Name the host (--allow-host NAME), or give a key")


def host_name(value: str) -> str:
    """'[::1]:8765' -> '::1', 'LocalHost.:80' -> 'localhost'."""
    value = value.strip().lower()
    if value.startswith("["):
        name = value[1:].partition("]")[0]
    else:
        name = value.rpartition(":")[0] if value.count(":") == 1 else value
    return name.rstrip(".")


def _refuse(status: int, message: str, code: str) -> tuple[dict, bytes]:
    body = json.dumps({"error": {"message": message, "type": "invalid_request_error", "param": None,
                                 "code": code}}).encode()
    return ({"type": "http.response.start", "status": status,
             "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]},
            body)


class HostOriginGuard:
    """The outermost layer: answers 421 for a Host it was not started for, 403 for a web page's Origin
    that --cors does not name. Preflights from named origins pass on to the CORS layer."""

    def __init__(self, app, bound_host: str, allow_hosts: list[str], cors: list[str]):
        self.app = app
        bound = bound_host.strip("[]").lower()
        self.any_host = bound in WILDCARD_BINDS or "*" in allow_hosts  # a wildcard bind needs a key
        self.hosts = {"localhost", bound} | {host_name(h) for h in allow_hosts}
        self.any_origin = "*" in cors
        self.origins = {o.rstrip("/").lower() for o in cors}

    def host_ok(self, host: str) -> bool:
        name = host_name(host)
        return self.any_host or name in self.hosts or is_loopback(name)

    def origin_ok(self, origin: str) -> bool:
        return self.any_origin or origin.rstrip("/").lower() in self.origins

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        host = origin = None
        for name, value in scope.get("headers", []):
            if name == b"host":
                host = value.decode("latin-1")
            elif name == b"origin":
                origin = value.decode("latin-1")
        refusal = None
        if host is not None and not self.host_ok(host):
            log.warning("refused a request for host %r (not this server's name)", host[:100])
            refusal = _refuse(421, f"this server answers only for its own address, not '{host[:100]}'. If you "
                              "reach it by another name, start it with --allow-host NAME", "host_not_allowed")
        elif origin is not None and not self.origin_ok(origin):
            log.warning("refused a request from the web page origin %r", origin[:100])
            refusal = _refuse(403, f"web pages may not call this server (the request came from '{origin[:100]}'). "
                              "To let a page you trust call it, start the server with --cors ORIGIN",
                              "origin_not_allowed")
        if refusal is None:
            return await self.app(scope, receive, send)
        start, body = refusal
        await send(start)
        await send({"type": "http.response.body", "body": body})

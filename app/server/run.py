"""Starting and stopping the server: the bind rule, the socket, uvicorn."""

from __future__ import annotations

import logging
import socket
import threading

from app.core.jobs import InputError
from app.server.guard import check_options, is_loopback  # noqa: F401 - is_loopback is this module's rule too

log = logging.getLogger(__name__)
DEFAULT_PORT = 8765


def check_bind(host: str, api_key: str) -> None:
    if not is_loopback(host) and not api_key:
        raise InputError(
            f"refusing to listen on {host} without --api-key: anyone who can reach this computer could use its "
            "models. Give a key (clients send it as 'Authorization: Bearer KEY'), or keep the default 127.0.0.1")


class HearthServer:
    """The API on a socket of its own; run() blocks (the CLI), start() runs it on a thread (tests, the window)."""

    def __init__(self, backends, host: str = "127.0.0.1", port: int = DEFAULT_PORT, options=None):
        import uvicorn

        from app.server.api import ServerOptions, create_app
        from app.server.connections import ConnectionGuard, guarded_protocol
        from app.server.reply import OpenReplies

        options = options or ServerOptions()
        check_bind(host, options.api_key)
        check_options(options.api_key, options.cors, options.allow_hosts)
        family = socket.AF_INET6 if ":" in host.strip("[]") else socket.AF_INET
        self.sock = socket.socket(family, socket.SOCK_STREAM)
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            self.sock.bind((host.strip("[]"), port))
        except OSError as exc:
            self.sock.close()
            raise InputError(f"cannot listen on {host}:{port}: {exc.strerror or exc}") from None
        self.sock.listen(128)
        self.host, self.port = host, self.sock.getsockname()[1]
        self.backends = backends
        # Requests under way are limited by KeyCheck, idle and slow connections by the guard.
        protocol = guarded_protocol(ConnectionGuard(options.connections))
        self.replies = OpenReplies()
        config = uvicorn.Config(create_app(backends, options, host, self.replies), http=protocol, lifespan="off",
                                log_level="warning", access_log=False, timeout_keep_alive=5,
                                timeout_graceful_shutdown=3, h11_max_incomplete_event_size=64 * 1024)
        self.server = uvicorn.Server(config)
        exit_on_signal = self.server.handle_exit

        def handle_exit(sig, frame) -> None:  # Ctrl+C or SIGTERM for `serve`: its streams end in words too
            self.replies.close_all()
            exit_on_signal(sig, frame)

        self.server.handle_exit = handle_exit  # type: ignore[method-assign]
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}/v1"

    def run(self) -> None:
        try:
            self.server.run(sockets=[self.sock])
        finally:
            self.sock.close()

    def start(self, timeout: float = 30) -> HearthServer:
        self._thread = thread = threading.Thread(target=self.run, name="hearth-serve", daemon=True)
        thread.start()
        ready = threading.Event()

        def poll():
            while not (self.server.started or not thread.is_alive()):
                ready.wait(0.01)
            ready.set()

        threading.Thread(target=poll, daemon=True).start()
        if not ready.wait(timeout) or not self.server.started:
            raise RuntimeError("the server did not start")
        return self

    def stop(self, timeout: float = 10) -> None:
        self.replies.close_all()  # each open stream ends with an error event, not a cut connection
        self.server.should_exit = True
        if self._thread is not None:
            self._thread.join(timeout)

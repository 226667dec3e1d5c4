import socket
import threading

import pytest

from tests.conftest import NetworkBlockedError


def test_non_loopback_connection_fails_before_any_packet():
    # TEST-NET-1 (RFC 5737): the guard refuses before connect() reaches the kernel.
    with pytest.raises(NetworkBlockedError):
        socket.create_connection(("192.0.2.1", 80), timeout=1)
    with pytest.raises(NetworkBlockedError):
        socket.socket().connect_ex(("192.0.2.1", 443))


def test_loopback_is_allowed():
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(1)
    port = server.getsockname()[1]
    t = threading.Thread(target=lambda: server.accept()[0].close())
    t.start()
    with socket.create_connection(("127.0.0.1", port), timeout=5):
        pass
    t.join(5)
    server.close()

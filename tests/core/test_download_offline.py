"""Offline, a download fails at once with words, not after a minute of retries with a urlopen error (#14);
on a network that works, a server that refuses or never answers is retried, then said in words."""

import errno
import os
import socket

import pytest

from app.core.jobs import DownloadError
from app.core.models.download import Downloader, OfflineError, reachable


def test_a_name_that_does_not_resolve_fails_fast_and_says_no_internet(tmp_path, monkeypatch):
    asked = []

    def no_resolver(host, *args, **kwargs):  # the system resolver offline: a boundary that cannot exist here
        asked.append(host)
        raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")

    monkeypatch.setattr(socket, "getaddrinfo", no_resolver)
    with pytest.raises(DownloadError) as exc:
        Downloader(retries=5, backoff=5, timeout=5).download("https://huggingface.co/org/m/resolve/main/w.bin",
                                                           tmp_path / "w.bin")
    text = str(exc.value)
    assert text.startswith("No internet connection: huggingface.co could not be found")
    assert "urlopen" not in text and "Errno" not in text
    assert asked == ["huggingface.co"], "no retries (with backoff 5 s, five of them would take a minute)"
    assert not (tmp_path / "w.bin").exists()


@pytest.mark.parametrize("code", [errno.ENETUNREACH, errno.EHOSTUNREACH])
def test_no_route_to_the_host_fails_fast_and_says_no_internet(tmp_path, monkeypatch, code):
    tried = []

    def no_route(sock, address):  # a computer with no network up: the kernel's answer, a boundary here
        tried.append(address)
        raise OSError(code, os.strerror(code))

    monkeypatch.setattr(socket.socket, "connect", no_route)
    with pytest.raises(OfflineError) as exc:
        Downloader(retries=5, backoff=5, timeout=5).download("https://203.0.113.5/org/m/resolve/main/w.bin",
                                                           tmp_path / "w.bin")
    text = str(exc.value)
    assert text.startswith("No internet connection: 203.0.113.5 cannot be reached from this computer")
    assert "urlopen" not in text and "Errno" not in text
    assert len(tried) == 1 and exc.value.host == "203.0.113.5"


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_a_refused_connection_is_retried_then_said_in_words(tmp_path):
    url = f"http://127.0.0.1:{_closed_port()}/org/m/resolve/main/w.bin"
    with pytest.raises(DownloadError) as exc:
        Downloader(retries=2, backoff=0.01, timeout=5).download(url, tmp_path / "w.bin")
    assert not isinstance(exc.value, OfflineError), "the network is up: a server that is down may come back"
    text = str(exc.value)
    assert text == ("the download from 127.0.0.1 failed after 3 attempts: 127.0.0.1 refused the connection "
                    "(the server is down or not accepting downloads). What was already downloaded is kept.")


def test_a_server_that_never_answers_times_out_in_words(tmp_path):
    silent = socket.socket()
    silent.bind(("127.0.0.1", 0))
    silent.listen(8)  # connections are accepted by the kernel and never answered
    try:
        url = f"http://127.0.0.1:{silent.getsockname()[1]}/org/m/resolve/main/w.bin"
        with pytest.raises(DownloadError) as exc:
            Downloader(retries=1, backoff=0.01, timeout=0.3).download(url, tmp_path / "w.bin")
    finally:
        silent.close()
    text = str(exc.value)
    assert "failed after 2 attempts: 127.0.0.1 did not answer in time" in text
    assert "urlopen" not in text and "Errno" not in text


def test_reachable_is_a_real_connect(hub):
    assert reachable(hub.endpoint)
    assert not reachable(f"http://127.0.0.1:{_closed_port()}/")
    assert not reachable("https://hub.invalid/")  # a name under .invalid never resolves


def test_behind_a_proxy_reachable_checks_the_proxy(hub, monkeypatch):
    # The proxy is this computer's hub; the host behind it would need DNS, which a proxy user may lack.
    monkeypatch.setenv("https_proxy", hub.endpoint)
    monkeypatch.delenv("no_proxy", raising=False)
    monkeypatch.delenv("NO_PROXY", raising=False)
    assert reachable("https://hub.invalid/org/m/resolve/main/w.bin")
    monkeypatch.setenv("https_proxy", f"http://127.0.0.1:{_closed_port()}")
    assert not reachable("https://hub.invalid/org/m/resolve/main/w.bin")

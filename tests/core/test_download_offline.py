"""Offline, a download fails at once with words, not after a minute of retries with a urlopen error (#14)."""

import socket

import pytest

from app.core.jobs import DownloadError
from app.core.models.download import Downloader


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

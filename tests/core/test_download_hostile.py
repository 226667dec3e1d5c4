"""Downloads under attack (issue #15: 1, 3, 5, 8, 12): where the token goes, where bytes land, what is installed.

Every server here is a loopback Hub that records each request's headers.
"""

import hashlib
import os

import pytest

from app.core.jobs import DownloadError
from app.core.models.download import Downloader
from app.core.models.store import ModelStore
from tests.hub_server import Hub

DATA = os.urandom(2 * 1024 * 1024 + 777)
SHA = hashlib.sha256(DATA).hexdigest()


@pytest.fixture
def other():
    """A second server: another origin (its own port), like a pasted URL's host or a CDN."""
    server = Hub()
    yield server
    server.close()


def fast(**kw) -> Downloader:
    return Downloader(backoff=0.01, max_backoff=0.05, timeout=5, **kw)


# --- 1: the access token goes to the configured hub only -------------------------------
def test_the_token_goes_to_the_hub_and_not_to_its_cdn_on_another_origin(hub, other, tmp_path):
    hub.cdn = other
    url = hub.add("org/model", "weights.bin", DATA)
    result = fast(token="secret", hub=hub.endpoint).download(url, tmp_path / "w.bin")
    assert result.sha256 == SHA
    assert hub.authorizations() and set(hub.authorizations()) == {"Bearer secret"}, "the hub gets the token"
    assert other.requests and set(other.authorizations()) == {None}, "its CDN, another origin, never does"






# --- 8: every hop is held to https-or-loopback ------------------------------------------
def test_a_redirect_to_plain_http_elsewhere_is_refused_not_followed(hub, tmp_path):
    hub.redirects["/evil/model.gguf"] = "http://10.255.255.1/model.gguf"
    # Followed, the socket guard would raise NetworkBlockedError instead of this message.
    with pytest.raises(DownloadError, match=r"refused a redirect.*https"):
        fast().download(f"{hub.endpoint}/evil/model.gguf", tmp_path / "m.gguf")
    assert not (tmp_path / "m.gguf").exists() and not (tmp_path / "m.gguf.part").exists()


def test_a_redirect_chain_is_checked_at_every_hop(hub, other, tmp_path):
    hub.redirects["/a"] = f"{other.endpoint}/b"  # loopback to loopback: allowed
    other.redirects["/b"] = "http://10.255.255.1/c"  # the second hop leaves: refused
    with pytest.raises(DownloadError, match="refused a redirect"):
        fast().download(f"{hub.endpoint}/a", tmp_path / "m.bin")
    assert [p for _m, p, _r in other.requests if p == "/b"], "the first hop was followed"


def test_plain_http_to_another_host_is_refused_before_any_request(tmp_path):
    with pytest.raises(DownloadError, match="https"):
        fast().download("http://10.255.255.1/model.gguf", tmp_path / "m.gguf")


# --- 5: a truncated download is never installed ------------------------------------------
def test_a_redirected_download_that_closes_early_resumes_to_the_whole_file(hub, tmp_path):
    url = hub.add("org/model", "weights.bin", DATA)
    hub.faults.publish_size = False  # the redirect says nothing of the size…
    hub.faults.publish_hash = False  # …or the hash: only the final response's length can tell
    hub.faults.drop_at = [1_000_000]
    result = fast().download(url, tmp_path / "w.bin")
    assert result.size == len(DATA) and result.sha256 == SHA
    assert (tmp_path / "w.bin").read_bytes() == DATA
    assert hub.ranges() == [None, "bytes=1000000-"], "the short body was a drop, and it resumed"


def _gguf_with_big_tensor(path):
    """A GGUF whose last megabyte is tensor data: cut there, its header still reads as whole."""
    import gguf
    import numpy as np

    writer = gguf.GGUFWriter(str(path), "llama")
    writer.add_tensor("token_embd.weight", np.ones((256, 1024), dtype=np.float32))
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()
    return path




# --- 3: an id that is a path never gets a byte ------------------------------------------






# --- 12: two downloads of one file leave no orphan ---------------------------------------






def _leftovers(store: ModelStore) -> list[str]:
    """Files with bytes in them under .downloads (the install locks are empty and stay)."""
    root = store.root / ".downloads"
    return sorted(str(p.relative_to(root)) for p in root.rglob("*") if p.is_file() and p.stat().st_size) \
        if root.exists() else []

"""Downloads under attack (issue #15: 1, 3, 5, 8, 12): where the token goes, where bytes land, what is installed.

Every server here is a loopback Hub that records each request's headers.
"""

import hashlib
import os
import threading

import pytest

from app.core.jobs import DownloadError, ModelError
from app.core.models.download import Downloader
from app.core.models.installer import discard_partial, install_url
from app.core.models.store import ModelStore
from tests.conftest import run_app
from tests.helpers import make_gguf
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


def test_a_pasted_url_never_receives_the_token(hub, other, tmp_path):
    """The GUI's "Download from URL": a Downloader with the user's token, a URL on another host."""
    model = make_gguf(tmp_path / "tiny.gguf").read_bytes()
    url = other.add("someone/tiny", "tiny.gguf", model)
    entry = install_url(url, "chat", ModelStore(), downloader=fast(token="secret"))
    assert entry.id == "tiny"
    assert other.requests and set(other.authorizations()) == {None}
    # Even with the configured hub named, a URL elsewhere goes without it.
    url2 = other.add("someone/tiny2", "tiny2.gguf", model)
    install_url(url2, "chat", ModelStore(), downloader=fast(token="secret"), endpoint=hub.endpoint)
    assert set(other.authorizations()) == {None}


def test_cli_download_url_sends_the_token_only_to_the_configured_hub(hub, other, tmp_path):
    model = make_gguf(tmp_path / "tiny.gguf").read_bytes()
    elsewhere = other.add("someone/tiny", "tiny.gguf", model)
    on_hub = hub.add("org/tiny", "tiny-hub.gguf", model)
    env = {"HF_TOKEN": "secret", "HF_ENDPOINT": hub.endpoint}
    first = run_app("models", "download", elsewhere, "--kind", "chat", env=env)
    assert first.returncode == 0, first.stderr
    assert other.requests and set(other.authorizations()) == {None}
    second = run_app("models", "download", on_hub, "--kind", "chat", env=env)
    assert second.returncode == 0, second.stderr
    assert set(hub.authorizations()) == {"Bearer secret"}, "a URL on the configured hub may carry it"


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


def test_a_body_without_a_length_that_drops_halfway_is_resumed_not_installed_short(hub, tmp_path):
    """#22.13: an HTTP/1.0-style body (no Content-Length) ends with the connection, as a drop does."""
    url = hub.add("org/model", "weights.bin", DATA)
    hub.faults.publish_size = hub.faults.publish_hash = False
    hub.faults.no_length = True
    hub.faults.drop_at = [1_000_000]
    result = fast().download(url, tmp_path / "w.bin")
    assert result.size == len(DATA) and result.sha256 == SHA
    assert (tmp_path / "w.bin").read_bytes() == DATA
    assert hub.ranges()[:2] == [None, "bytes=1000000-"], "asked what follows the short body, and resumed"


def test_a_whole_body_without_a_length_is_confirmed_by_asking_past_its_end(hub, tmp_path):
    url = hub.add("org/model", "weights.bin", DATA)
    hub.faults.publish_size = hub.faults.publish_hash = False
    hub.faults.no_length = True
    result = fast().download(url, tmp_path / "w.bin")
    assert result.size == len(DATA) and not result.verified
    assert hub.ranges() == [None, f"bytes={len(DATA)}-"], "one more request, answered 416: nothing follows"


def test_a_lengthless_server_that_ignores_range_cannot_be_confirmed_and_is_not_installed(hub, tmp_path):
    url = hub.add("org/model", "weights.bin", DATA)
    hub.faults.publish_size = hub.faults.publish_hash = False
    hub.faults.no_length = hub.faults.ignore_range = True
    hub.faults.drop_at = [1_000_000] * 2  # the same cut twice: two copies that agree prove nothing
    with pytest.raises(DownloadError, match="dropped connection cannot be told from the end"):
        fast().download(url, tmp_path / "w.bin")
    assert not (tmp_path / "w.bin").exists()


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


def test_a_truncated_model_is_not_installed_from_a_url(hub, tmp_path):
    model = _gguf_with_big_tensor(tmp_path / "tiny.gguf").read_bytes()
    url = hub.add("org/tiny", "tiny.gguf", model)
    hub.faults.publish_size = hub.faults.publish_hash = False
    hub.faults.drop_at = [len(model) - 5000]  # inside the tensor data: the import check cannot see it
    entry = install_url(url, "chat", ModelStore(), downloader=fast())
    assert entry.size == len(model) and entry.sha256 == hashlib.sha256(model).hexdigest()
    assert ModelStore().verify("tiny")


# --- 3: an id that is a path never gets a byte ------------------------------------------
def test_cli_download_with_a_dotdot_id_is_refused_before_the_first_byte(hub, hearth_home, tmp_path):
    url = hub.add("org/tiny", "tiny.gguf", make_gguf(tmp_path / "tiny.gguf").read_bytes())
    res = run_app("models", "download", url, "--kind", "chat", "--id", "../../../x")
    assert res.returncode == 1 and "not a valid model id" in res.stderr
    assert "Traceback" not in res.stderr
    assert hub.requests == [], "nothing was asked of the server"
    assert not any(p.name == "x" for p in hearth_home.parent.rglob("x")), "nothing was written anywhere"


def test_a_dotdot_file_name_in_a_url_stays_in_the_staging_folder(hub, tmp_path):
    model = make_gguf(tmp_path / "tiny.gguf").read_bytes()
    hub.files["/org/x/resolve/main/%2e%2e"] = model  # an encoded ".." reaches the server as is
    url = f"{hub.endpoint}/org/x/resolve/main/%2e%2e"
    entry = install_url(url, "chat", ModelStore(), "dots", downloader=fast())
    assert ModelStore().path_of(entry).is_file()


def test_discarding_a_partial_never_deletes_outside(tmp_path):
    store = ModelStore()
    victim = store.root.parent / "victim"
    victim.mkdir()
    (victim / "keep.txt").write_text("mine")
    with pytest.raises(ModelError, match="not a valid model id"):
        discard_partial(store, "../../victim")
    (store.root / ".downloads").mkdir()
    (store.root / ".downloads" / "linked").symlink_to(victim, target_is_directory=True)
    with pytest.raises(ModelError, match="outside"):
        discard_partial(store, "linked")
    assert (victim / "keep.txt").read_text() == "mine"


# --- 12: two downloads of one file leave no orphan ---------------------------------------
def test_downloading_an_installed_url_again_downloads_nothing_and_leaves_nothing(hub, tmp_path):
    url = hub.add("org/tiny", "tiny.gguf", make_gguf(tmp_path / "tiny.gguf").read_bytes())
    store = ModelStore()
    install_url(url, "chat", store, downloader=fast())
    asked = len(hub.requests)
    with pytest.raises(ModelError, match="already installed"):
        install_url(url, "chat", store, downloader=fast())
    assert len(hub.requests) == asked
    assert _leftovers(store) == []


def test_two_simultaneous_downloads_of_one_file_install_once_and_leave_no_orphan(hub, tmp_path):
    url = hub.add("org/tiny", "tiny.gguf", make_gguf(tmp_path / "tiny.gguf", chat_template="y" * 400_000)
                  .read_bytes())
    hub.faults.bytes_per_s = 2_000_000
    store = ModelStore()
    outcomes: list = []
    start = threading.Barrier(2)

    def run():
        start.wait()
        try:
            outcomes.append(install_url(url, "chat", ModelStore(), downloader=fast()).id)
        except ModelError as exc:
            outcomes.append(str(exc))

    threads = [threading.Thread(target=run) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert sorted(outcomes, key=len) == ["tiny", "a model with id 'tiny' is already installed"]
    assert len(hub.ranges()) == 1, "the second waited and found it installed: one body was sent"
    assert _leftovers(store) == [] and store.verify("tiny")


def test_an_invalid_download_leaves_no_orphan(hub, tmp_path):
    url = hub.add("org/bad", "bad.gguf", b"not a gguf at all" * 1000)
    store = ModelStore()
    with pytest.raises(ModelError, match="not a GGUF"):
        install_url(url, "chat", store, downloader=fast())
    assert _leftovers(store) == []


def _leftovers(store: ModelStore) -> list[str]:
    """Files with bytes in them under .downloads (the install locks are empty and stay)."""
    root = store.root / ".downloads"
    return sorted(str(p.relative_to(root)) for p in root.rglob("*") if p.is_file() and p.stat().st_size) \
        if root.exists() else []

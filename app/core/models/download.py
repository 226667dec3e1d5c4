"""Downloads that never corrupt and always resume. Plain Python, no Qt.

The bytes go to ``<target>.part`` beside the target. A restart resumes with
``Range`` and trusts only a ``206`` whose ``Content-Range`` starts where the
part ends; a ``200`` restarts from byte 0. The file is hashed as it is
written, checked against the catalog's pin or the server's published LFS hash
(``X-Linked-Etag``/``ETag``) and only then renamed into place, so the target
path never holds a bad file. One process owns a target at a time (a lock file).

Every hop, redirects included, must be https (or http to this computer), and
the access token goes only to the configured hub's origin: never to a pasted
URL's host, never to the host a redirect leads to.
"""

from __future__ import annotations

import copy
import errno
import hashlib
import http.client
import ipaddress
import logging
import os
import re
import shutil
import socket
import ssl
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from app import __version__
from app.core.fileio import sha256_file
from app.core.jobs import Cancelled, CancelToken, DownloadError

log = logging.getLogger(__name__)

CHUNK = 1 << 20
SPACE_MARGIN = 64 << 20  # free space kept beyond the file itself
PROGRESS_EVERY_S = 0.25
_SHA256 = re.compile(r"^[0-9a-f]{64}$")


def _is_loopback(host: str | None) -> bool:
    if not host:
        return False
    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]").split("%")[0]).is_loopback
    except ValueError:
        return False


def check_url(url: str) -> str:
    """The one rule for every address Hearth fetches from: https, or http to this computer."""
    parts = urllib.parse.urlsplit(url)
    if parts.scheme != "https" and not (parts.scheme == "http" and _is_loopback(parts.hostname)):
        raise DownloadError(f"only https URLs can be downloaded (or http on this computer), not {url}")
    if not parts.hostname:
        raise DownloadError(f"{url} names no host")
    return url


def _origin(url: str) -> tuple[str, str, int | None]:
    parts = urllib.parse.urlsplit(url)
    try:
        port = parts.port or {"https": 443, "http": 80}.get(parts.scheme)
    except ValueError:
        port = None
    return parts.scheme, (parts.hostname or "").lower(), port


def hub_url(endpoint: str, repo: str, revision: str, filename: str) -> str:
    quoted = "/".join(urllib.parse.quote(p) for p in filename.split("/"))
    return f"{endpoint.rstrip('/')}/{repo}/resolve/{urllib.parse.quote(revision, safe='')}/{quoted}"


@dataclass
class DownloadProgress:
    done: int
    total: int | None
    rate: float  # bytes per second, smoothed
    eta_s: float | None
    resumed_from: int = 0


@dataclass
class DownloadResult:
    path: Path
    size: int
    sha256: str
    verified: bool  # False: no pinned or published hash was available
    resumed_from: int = 0
    attempts: int = 1


class PauseToken(CancelToken):
    """Cancel keeps the .part when ``paused`` is set (pause), deletes it otherwise."""

    def __init__(self) -> None:
        super().__init__()
        self.paused = False

    def pause(self) -> None:
        self.paused = True
        self.cancel()


class OfflineError(DownloadError):
    """No network to reach ``host`` with: retrying at once only keeps the user waiting."""

    def __init__(self, message: str, host: str, url: str):
        super().__init__(message)
        self.host, self.url = host, url


# The errno of "this computer has no route there": no network, or none up.
NO_ROUTE = {errno.ENETUNREACH, errno.EHOSTUNREACH, errno.ENETDOWN}


def _cause(exc: BaseException) -> BaseException:
    """What a URLError wraps (its reason), else the exception itself."""
    reason = getattr(exc, "reason", None)
    return reason if isinstance(reason, BaseException) else exc


def _offline(exc: BaseException, url: str) -> OfflineError | None:
    """The error in words if ``exc`` means there is no network to reach ``url``'s host; else None."""
    cause = _cause(exc)
    host = urllib.parse.urlsplit(url).hostname or url
    if isinstance(cause, socket.gaierror):  # the name did not resolve: offline, or no such host
        text = f"No internet connection: {host} could not be found"
    elif isinstance(cause, OSError) and cause.errno in NO_ROUTE:
        text = f"No internet connection: {host} cannot be reached from this computer (no network route)"
    else:
        return None
    return OfflineError(f"{text}. What was already downloaded is kept.", host, url)


def in_words(exc: BaseException, host: str) -> str:
    """A network failure as a sentence for the user (never "<urlopen error ...>")."""
    cause = _cause(exc)
    if isinstance(exc, _Retry):
        return str(exc)
    if isinstance(exc, urllib.error.HTTPError):
        return f"{host} answered {exc.code} ({exc.reason})" if exc.reason else f"{host} answered {exc.code}"
    if isinstance(cause, ConnectionRefusedError):
        return f"{host} refused the connection (the server is down or not accepting downloads)"
    if isinstance(cause, (TimeoutError, socket.timeout)) or "timed out" in str(cause):
        return f"{host} did not answer in time"
    if isinstance(cause, (ConnectionResetError, ConnectionAbortedError, http.client.RemoteDisconnected,
                          http.client.IncompleteRead)):
        return f"the connection to {host} broke off"
    if isinstance(cause, http.client.HTTPException):
        return f"{host} sent an answer that is not valid HTTP"
    if isinstance(cause, OSError) and cause.strerror:
        return f"could not reach {host}: {cause.strerror.lower()}"
    return f"could not reach {host} ({type(cause).__name__})"


def _certificate_error(exc: BaseException, url: str) -> DownloadError | None:
    cause = _cause(exc)
    if not isinstance(cause, ssl.SSLCertVerificationError):
        return None
    host = urllib.parse.urlsplit(url).hostname or url
    return DownloadError(
        f"{host}'s certificate could not be verified ({cause.verify_message or 'not trusted'}). A network that "
        "intercepts secure connections (a hotel or office login page) does this: sign in to it, then try again."
    )


class _Retry(Exception):  # noqa: N818 - internal control flow
    pass


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args, **kwargs):
        return None


class _SameHostAuth(urllib.request.HTTPRedirectHandler):
    """Follows a redirect only to an allowed address, and never with the token to another origin (a CDN)."""

    def redirect_request(self, req, fp, code, msg, headers, newurl):
        newurl = urllib.parse.urljoin(req.full_url, newurl)
        try:
            check_url(newurl)
        except DownloadError as exc:
            raise DownloadError(f"refused a redirect from {req.full_url}: {exc}") from None
        new = super().redirect_request(req, fp, code, msg, headers, newurl)
        if new is not None and _origin(newurl) != _origin(req.full_url):
            new.remove_header("Authorization")
        return new


def hold_lock(path: Path, cancel: CancelToken):
    """An exclusive lock on ``path``; waits (cancellably) while another process or thread holds it."""
    from filelock import FileLock, Timeout

    lock = FileLock(str(path), thread_local=False)
    while True:
        try:
            lock.acquire(timeout=0)
            return lock
        except Timeout:
            if cancel.wait(0.2):
                raise Cancelled() from None


def _replace_with_retry(src: Path, dst: Path, tries: int = 10) -> None:
    """os.replace, retried: on Windows a virus scanner may hold the new file briefly."""
    for i in range(tries):
        try:
            os.replace(src, dst)
            return
        except PermissionError:
            if i == tries - 1:
                raise
            time.sleep(0.1 * (i + 1))


def _published_hash(headers) -> str | None:
    for key in ("X-Linked-Etag", "ETag"):
        value = (headers.get(key) or "").strip().strip('"')
        if value.startswith("W/"):
            value = value[2:].strip('"')
        if _SHA256.match(value.lower()):
            return value.lower()
    return None


class Downloader:
    def __init__(
        self,
        token: str | None = None,
        timeout: float = 30.0,
        retries: int = 6,
        backoff: float = 0.5,
        max_backoff: float = 8.0,
        disk_free: Callable[[Path], int] | None = None,
        hub: str | None = None,
    ):
        self.auth_token = token if token is not None else os.environ.get("HF_TOKEN") or None
        self.hub = hub  # the configured hub's address: the only origin the token is sent to
        self.timeout, self.retries = timeout, retries
        self.backoff, self.max_backoff = backoff, max_backoff
        self.disk_free = disk_free or (lambda p: shutil.disk_usage(p).free)
        # Proxies come from the environment (http_proxy, https_proxy, no_proxy).
        self._opener = urllib.request.build_opener(urllib.request.ProxyHandler(), _SameHostAuth())
        self._probe_opener = urllib.request.build_opener(urllib.request.ProxyHandler(), _NoRedirect())

    def for_hub(self, hub: str | None) -> Downloader:
        """This downloader with ``hub`` as the one origin its token may go to (None: nowhere)."""
        if hub == self.hub:
            return self
        twin = copy.copy(self)
        twin.hub = hub
        return twin

    def _request(self, url: str, method: str = "GET", headers: dict | None = None) -> urllib.request.Request:
        check_url(url)
        req = urllib.request.Request(url, method=method, headers=headers or {})
        req.add_header("User-Agent", f"Hearth/{__version__}")
        req.add_header("Accept-Encoding", "identity")
        if self.auth_token and self.hub and _origin(url) == _origin(self.hub):
            req.add_header("Authorization", f"Bearer {self.auth_token}")
        return req

    # --- probing -------------------------------------------------------------------
    def probe(self, url: str) -> tuple[int | None, str | None]:
        """(size, published sha256) from the first answer, before any redirect is followed."""
        try:
            resp = self._probe_opener.open(self._request(url, "HEAD"), timeout=self.timeout)
            headers, status = resp.headers, resp.status
            resp.close()
        except urllib.error.HTTPError as exc:  # a 3xx lands here with the no-redirect handler
            headers, status = exc.headers, exc.code
            if status not in (301, 302, 303, 307, 308):
                self._raise_for_status(status, url)
        size = headers.get("X-Linked-Size") or (headers.get("Content-Length") if status == 200 else None)
        return (int(size) if size and size.isdigit() else None), _published_hash(headers)

    @staticmethod
    def _raise_for_status(status: int, url: str) -> None:
        if status in (401, 403):
            raise DownloadError(
                f"the server refused access ({status}): this is a gated or private model. "
                "Accept its licence on the hub and add an access token in Settings (or HF_TOKEN)."
            )
        if status == 404:
            raise DownloadError(f"not found on the server (404): {url}")
        if status == 416:
            raise _Retry("range not satisfiable")
        if status >= 500 or status == 429:
            raise _Retry(f"server error {status}")
        raise DownloadError(f"the server answered {status} for {url}")

    # --- the download --------------------------------------------------------------
    def download(
        self,
        url: str,
        target: Path,
        expected_sha256: str | None = None,
        expected_size: int | None = None,
        cancel: CancelToken | None = None,
        progress: Callable[[DownloadProgress], None] | None = None,
    ) -> DownloadResult:
        cancel = cancel or CancelToken()
        check_url(url)
        target = Path(target)
        target.parent.mkdir(parents=True, exist_ok=True)
        part = target.with_name(target.name + ".part")
        lock = hold_lock(target.with_name(target.name + ".lock"), cancel)
        try:
            return self._download_locked(url, target, part, expected_sha256, expected_size, cancel, progress)
        except Cancelled:
            if not getattr(cancel, "paused", False):
                part.unlink(missing_ok=True)
            raise
        finally:
            lock.release()
            # Not left beside the file (a speech model's folder is moved whole into the store).
            target.with_name(target.name + ".lock").unlink(missing_ok=True)

    def _download_locked(self, url, target, part, expected_sha256, expected_size, cancel, progress):
        expected_sha256 = expected_sha256.lower() if expected_sha256 else None
        attempt, delay = 0, self.backoff
        size, published = None, None
        while True:
            attempt += 1
            try:
                if size is None and published is None:
                    size, published = self.probe(url)
                    size = size or expected_size
                want = expected_sha256 or published
                if target.exists():  # another owner finished it while we waited for the lock
                    digest = sha256_file(target)
                    if want is None or digest == want:
                        return DownloadResult(target, target.stat().st_size, digest, want is not None, 0, attempt)
                    target.unlink()
                digest, total, resumed, learned = self._fetch(url, part, size, cancel, progress)
                size = size if size is not None else learned
                if size is None and want is None:  # the body ended with the connection, as a drop ends it too
                    size = self._confirm_end(url, total, cancel)  # (a known sha256 tells a cut file itself)
                if size is not None and total != size:
                    raise _Retry(f"size mismatch: got {total} bytes, expected {size}")
                if want is not None and digest != want:
                    part.unlink(missing_ok=True)
                    raise DownloadError(
                        f"the download is corrupt: sha256 {digest[:12]}… does not match the expected {want[:12]}…; "
                        "the file was deleted"
                    )
                _replace_with_retry(part, target)
                log.info("downloaded %s (%d bytes, resumed from %d)", target.name, total, resumed)
                return DownloadResult(target, total, digest, want is not None, resumed, attempt)
            except (_Retry, urllib.error.URLError, ConnectionError, TimeoutError, http.client.HTTPException) as exc:
                # No network, or a certificate a login page swapped in: retrying only keeps the user waiting.
                fatal = _offline(exc, url) or _certificate_error(exc, url)
                if fatal is not None:
                    raise fatal from exc
                if isinstance(exc, urllib.error.HTTPError):
                    try:
                        self._raise_for_status(exc.code, url)
                    except _Retry:
                        pass
                host = urllib.parse.urlsplit(url).hostname or url
                if attempt > self.retries:
                    raise DownloadError(
                        f"the download from {host} failed after {attempt} attempts: {in_words(exc, host)}. "
                        "What was already downloaded is kept."
                    ) from exc
                log.warning("download of %s: %s; retrying in %.1fs", url, exc, delay)
                if cancel.wait(delay):
                    raise Cancelled() from None
                delay = min(delay * 2, self.max_backoff)

    def _confirm_end(self, url: str, total: int, cancel: CancelToken) -> int:
        """The whole size of a body that had no length, confirmed by asking for what would follow it.

        416 (nothing past the end) or a 206 that says the size confirms it; a 206 with more bytes
        means the connection dropped (_Retry resumes from the part). A server that ignores Range
        sends the file again: its length must match what we have, and without one nothing can tell."""
        try:
            resp = self._opener.open(self._request(url, headers={"Range": f"bytes={total}-"}), timeout=self.timeout)
        except urllib.error.HTTPError as exc:
            exc.close()
            if exc.code == 416:
                return total
            self._raise_for_status(exc.code, url)
        with resp, _CancelWatch(resp, cancel):
            if resp.status == 206:
                _start, whole = _content_range(resp.headers.get("Content-Range"))
                if whole == total:
                    return total
                raise _Retry(f"the connection closed early after {total} bytes; resuming")
            length = _int_header(resp.headers.get("Content-Length"))
            if length is not None:
                if length == total:
                    return total
                raise _Retry(f"the connection closed early: {total} of {length} bytes; restarting")
        # Two copies that agree prove nothing (a proxy cutting every body at one size agrees with itself).
        raise DownloadError(
            f"{urllib.parse.urlsplit(url).hostname or url} sent the file without saying its size and cannot "
            "send a part of it, so a dropped connection cannot be told from the end: it was not installed"
        )

    def _check_space(self, part: Path, remaining: int) -> None:
        free = self.disk_free(part.parent)
        if remaining + SPACE_MARGIN > free:
            raise DownloadError(
                f"not enough disk space: {remaining / 2**20:.0f} MB more needed (plus a margin), "
                f"{free / 2**20:.0f} MB free in {part.parent}"
            )

    def _fetch(self, url, part: Path, size: int | None, cancel: CancelToken, progress):
        """One attempt: resume the part, stream to it while hashing.

        Returns (sha256, bytes in the part, resumed_from, the size the final response announced).
        A body that ends before its announced length is a dropped connection (_Retry), never the end.
        """
        have = part.stat().st_size if part.exists() else 0
        if size is not None and have > size:
            part.unlink()
            have = 0
        self._check_space(part, (size - have) if size is not None else 0)
        cancel.raise_if_cancelled()
        headers = {"Range": f"bytes={have}-"} if have else {}
        try:
            resp = self._opener.open(self._request(url, headers=headers), timeout=self.timeout)
        except urllib.error.HTTPError as exc:
            if exc.code == 416 and size is not None and have == size:
                resp = None  # the part is already whole
            else:
                self._raise_for_status(exc.code, url)
        digest = hashlib.sha256()
        resumed = 0
        if resp is None:
            _hash_into(part, digest)
            return digest.hexdigest(), have, have, size
        with resp, _CancelWatch(resp, cancel):
            length = _int_header(resp.headers.get("Content-Length"))
            if have and resp.status == 206:
                start, announced = _content_range(resp.headers.get("Content-Range"))
                if start != have:
                    raise _Retry(f"server resumed at byte {start}, not {have}")
                if announced is None and length is not None:
                    announced = have + length
                _hash_into(part, digest)
                mode, resumed = "ab", have
            else:
                if have:
                    log.info("server ignored Range (answered %s); restarting %s from byte 0", resp.status, part.name)
                mode, have, announced = "wb", 0, length
            total = size if size is not None else announced
            if size is None and announced is not None:
                self._check_space(part, announced - have)
            done, started, last_emit = have, time.monotonic(), 0.0
            rate = 0.0
            try:
                with open(part, mode) as out:
                    while True:
                        if cancel.cancelled:
                            out.flush()
                            raise Cancelled()
                        try:
                            chunk = resp.read1(CHUNK)  # what has arrived: a slow server never delays a cancel
                        except (OSError, ValueError, http.client.HTTPException) as exc:
                            if cancel.cancelled:
                                out.flush()
                                raise Cancelled() from None
                            host = urllib.parse.urlsplit(url).hostname or url
                            raise _Retry(f"{in_words(exc, host)} after {done} bytes; resuming") from exc
                        if not chunk:
                            if cancel.cancelled:
                                raise Cancelled()
                            break
                        out.write(chunk)
                        digest.update(chunk)
                        done += len(chunk)
                        now = time.monotonic()
                        if progress and now - last_emit >= PROGRESS_EVERY_S:
                            elapsed = max(now - started, 1e-6)
                            rate = (done - have) / elapsed
                            eta = (total - done) / rate if total and rate > 0 else None
                            progress(DownloadProgress(done, total, rate, eta, resumed))
                            last_emit = now
            except OSError as exc:  # writing the part (reading the network is handled above)
                if exc.errno == errno.ENOSPC:
                    raise DownloadError(
                        f"the disk filled up while downloading; {done / 2**20:.0f} MB are kept and the "
                        "download resumes once there is space"
                    ) from exc
                raise DownloadError(f"could not write the download to {part.parent}: {exc.strerror or exc}") from exc
        if length is not None and done - have < length:
            raise _Retry(f"the connection closed early: {done} of {have + length} bytes; resuming")
        if progress:
            progress(DownloadProgress(done, total or done, rate, 0.0, resumed))
        return digest.hexdigest(), done, resumed, announced


def reachable(url: str, timeout: float = 5.0) -> bool:
    """Can this computer open a connection to ``url``'s host now? A cheap check (a name lookup and a
    TCP connect, no request) that a download which failed offline may start again. Behind a proxy
    (http_proxy, https_proxy), the proxy is what has to be reached."""
    parts = urllib.parse.urlsplit(url)
    proxy = urllib.request.getproxies().get(parts.scheme)
    if proxy and not urllib.request.proxy_bypass(parts.hostname or ""):
        parts = urllib.parse.urlsplit(proxy if "://" in proxy else f"http://{proxy}")
    try:
        port = parts.port or {"https": 443, "http": 80}.get(parts.scheme, 443)
        with socket.create_connection((parts.hostname or "", port), timeout=timeout):
            return True
    except (OSError, ValueError):
        return False


class _CancelWatch:
    """Unblocks a read stuck on a stalled server when the download is cancelled."""

    def __init__(self, resp, cancel: CancelToken):
        self.resp, self.cancel = resp, cancel
        self.finished = threading.Event()

    def __enter__(self):
        threading.Thread(target=self._watch, daemon=True, name="download-cancel-watch").start()
        return self

    def _watch(self) -> None:
        while not self.finished.is_set():
            if self.cancel.wait(0.1):
                sock = getattr(getattr(getattr(self.resp, "fp", None), "raw", None), "_sock", None)
                if sock is not None and not self.finished.is_set():
                    try:
                        sock.shutdown(socket.SHUT_RDWR)
                    except OSError:
                        pass
                return

    def __exit__(self, *exc):
        self.finished.set()
        return False


def _int_header(value: str | None) -> int | None:
    value = (value or "").strip()
    return int(value) if value.isdigit() else None


def _content_range(value: str | None) -> tuple[int | None, int | None]:
    """(first byte, whole size) of a Content-Range; None where it does not say."""
    m = re.match(r"bytes (\d+)-\d+/(\d+|\*)", value or "")
    if not m:
        return None, None
    return int(m.group(1)), (int(m.group(2)) if m.group(2).isdigit() else None)


def _hash_into(path: Path, digest) -> None:
    with open(path, "rb") as fh:
        while chunk := fh.read(CHUNK):
            digest.update(chunk)

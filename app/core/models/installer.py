"""Catalog entries and direct URLs, downloaded into the store.

Files land in a staging folder inside the models folder (stable across
restarts, so a ``.part`` resumes), are verified by the downloader, and then go
through ``ModelStore.import_path`` (validation, move, registration) like any
import. A model is installed whole or not at all. The id is checked before the
first byte, and a download that cannot be installed leaves nothing behind.
"""

from __future__ import annotations

import contextlib
import re
import shutil
import urllib.parse
from collections.abc import Callable
from pathlib import Path

from app.core.jobs import CancelToken, DownloadError, ModelError
from app.core.models.catalog import CatalogEntry
from app.core.models.download import Downloader, DownloadProgress, check_url, hold_lock, hub_url
from app.core.models.records import check_id, check_kind, inside
from app.core.models.store import ModelEntry, ModelStore, slugify
from app.core.settings import HUB_ENDPOINT


def staging_dir(store: ModelStore, model_id: str) -> Path:
    return store.root / ".downloads" / check_id(model_id)


@contextlib.contextmanager
def _installing(store: ModelStore, model_id: str, cancel: CancelToken | None):
    """One install of an id at a time (across processes); a second finds it installed, downloading nothing.

    The lock lives beside the staging folder, not in it, so removing the staging never unlocks a waiter.
    """
    locks = store.root / ".downloads" / ".locks"
    locks.mkdir(parents=True, exist_ok=True)
    lock = hold_lock(locks / model_id, cancel or CancelToken())
    try:
        if store.get(model_id) is not None:
            raise ModelError(f"a model with id '{model_id}' is already installed")
        yield
    finally:
        lock.release()


def _import_or_clean(store: ModelStore, staging: Path, src: Path, kind: str, model_id: str, **kw) -> ModelEntry:
    """Imports the downloaded files; if they cannot be installed, they are not kept (no orphan)."""
    try:
        return store.import_path(src, kind, model_id, mode="move", **kw)
    except ModelError:
        shutil.rmtree(staging, ignore_errors=True)
        raise


def install_entry(
    entry: CatalogEntry,
    store: ModelStore,
    endpoint: str = HUB_ENDPOINT,
    downloader: Downloader | None = None,
    cancel: CancelToken | None = None,
    progress: Callable[[DownloadProgress], None] | None = None,
) -> ModelEntry:
    check_kind(entry.kind)
    if store.get(check_id(entry.id)) is not None:
        raise ModelError(f"{entry.id} is already installed")
    downloader = (downloader or Downloader()).for_hub(endpoint)
    staging = staging_dir(store, entry.id)
    if not all(inside(staging, staging / f.path) for f in entry.files):
        raise ModelError(f"{entry.id}: a file of the catalog entry leaves its folder")
    with _installing(store, entry.id, cancel):
        return _install_entry_files(entry, store, endpoint, downloader, staging, cancel, progress)


def _install_entry_files(entry, store, endpoint, downloader, staging, cancel, progress) -> ModelEntry:
    staging.mkdir(parents=True, exist_ok=True)
    verified = True
    done_before = 0
    for i, f in enumerate(entry.files):
        url = hub_url(endpoint, entry.repo, entry.revision, f.path)
        later = sum(x.size for x in entry.files[i + 1 :])  # the catalog's sizes, until the server tells

        def forward(p: DownloadProgress, base=done_before, later=later, size=f.size):
            if progress:
                total = base + (p.total or size) + later
                eta = (total - base - p.done) / p.rate if p.rate > 0 else None
                progress(DownloadProgress(base + p.done, total, p.rate, eta, p.resumed_from))

        result = downloader.download(url, staging / f.path, f.sha256, cancel=cancel, progress=forward)
        # Small non-LFS files (configs) publish no sha256; the weights always do on the hub.
        if not result.verified and f.size > 10 * 1024 * 1024:
            verified = False
        done_before += result.size
    gguf = entry.kind in ("chat", "embedding")
    single = gguf or (entry.kind == "images" and len(entry.files) == 1)
    src = staging / (entry.model_file.path if gguf else entry.files[0].path) if single else staging
    # A vision entry's projector is checked against its model and registered with it: one model, two files.
    projector = staging / entry.projector.path if entry.projector else None
    installed = _import_or_clean(store, staging, src, entry.kind, entry.id, source=f"catalog:{entry.id}",
                                 architecture=entry.architecture, projector=projector)
    shutil.rmtree(staging, ignore_errors=True)
    if not verified:
        installed = store.set_verified(entry.id, False)
    return installed


def install_url(
    url: str,
    kind: str,
    store: ModelStore,
    model_id: str | None = None,
    architecture: str = "",
    downloader: Downloader | None = None,
    cancel: CancelToken | None = None,
    progress: Callable[[DownloadProgress], None] | None = None,
    endpoint: str | None = None,
) -> ModelEntry:
    """``endpoint``: the configured hub; the access token goes with the URL only when it points there."""
    check_url(url)
    check_kind(kind)
    if kind == "speech":
        raise DownloadError("a speech model is a folder of files: download it from the catalog or import a folder")
    filename = safe_filename(Path(urllib.parse.unquote(urllib.parse.urlsplit(url).path)).name)
    model_id = check_id(model_id or slugify(re.sub(r"\.(gguf|safetensors|pt|bin)$", "", filename)))
    if store.get(model_id) is not None:
        raise ModelError(f"a model with id '{model_id}' is already installed")
    downloader = downloader or Downloader()
    if endpoint is not None:
        downloader = downloader.for_hub(endpoint)
    staging = staging_dir(store, model_id)
    with _installing(store, model_id, cancel):
        staging.mkdir(parents=True, exist_ok=True)
        result = downloader.download(url, staging / filename, cancel=cancel, progress=progress)
        installed = _import_or_clean(store, staging, staging / filename, kind, model_id, source=url,
                                     architecture=architecture)
        shutil.rmtree(staging, ignore_errors=True)
    if not result.verified:
        installed = store.set_verified(model_id, False)
    return installed


def safe_filename(name: str) -> str:
    """A URL's last segment as one plain file name: no separators, no leading dot."""
    return re.sub(r"[^\w.+-]+", "_", name).lstrip(".") or "model"


def discard_partial(store: ModelStore, model_id: str) -> None:
    staging = staging_dir(store, model_id)  # refuses an id that is not one
    if staging.exists() and not inside(store.root / ".downloads", staging):
        raise ModelError(f"refused: the partial download of {model_id} resolves outside the models folder")
    shutil.rmtree(staging, ignore_errors=True)

"""Catalog entries and direct URLs, downloaded into the store.

Files land in a staging folder inside the models folder (stable across
restarts, so a ``.part`` resumes), are verified by the downloader, and then go
through ``ModelStore.import_path`` (validation, move, registration) like any
import. A model is installed whole or not at all.
"""

from __future__ import annotations

import re
import shutil
import urllib.parse
from collections.abc import Callable
from pathlib import Path

from app.core.jobs import CancelToken, DownloadError, ModelError
from app.core.models.catalog import CatalogEntry
from app.core.models.download import Downloader, DownloadProgress, hub_url
from app.core.models.store import ModelEntry, ModelStore, slugify
from app.core.settings import HUB_ENDPOINT


def staging_dir(store: ModelStore, model_id: str) -> Path:
    return store.root / ".downloads" / model_id


def install_entry(
    entry: CatalogEntry,
    store: ModelStore,
    endpoint: str = HUB_ENDPOINT,
    downloader: Downloader | None = None,
    cancel: CancelToken | None = None,
    progress: Callable[[DownloadProgress], None] | None = None,
) -> ModelEntry:
    if store.get(entry.id) is not None:
        raise ModelError(f"{entry.id} is already installed")
    downloader = downloader or Downloader()
    staging = staging_dir(store, entry.id)
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
    single = entry.kind == "chat" or (entry.kind == "images" and len(entry.files) == 1)
    src = staging / entry.files[0].path if single else staging
    installed = store.import_path(
        src, entry.kind, entry.id, mode="move", source=f"catalog:{entry.id}", architecture=entry.architecture
    )
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
) -> ModelEntry:
    parts = urllib.parse.urlsplit(url)
    loopback = parts.hostname in ("127.0.0.1", "localhost", "::1")
    if parts.scheme != "https" and not (parts.scheme == "http" and loopback):
        raise DownloadError("only https URLs can be downloaded (or http on this computer)")
    filename = Path(urllib.parse.unquote(parts.path)).name or "model"
    if kind == "speech":
        raise DownloadError("a speech model is a folder of files: download it from the catalog or import a folder")
    model_id = model_id or slugify(re.sub(r"\.(gguf|safetensors|pt|bin)$", "", filename))
    downloader = downloader or Downloader()
    staging = staging_dir(store, model_id)
    staging.mkdir(parents=True, exist_ok=True)
    result = downloader.download(url, staging / filename, cancel=cancel, progress=progress)
    installed = store.import_path(staging / filename, kind, model_id, mode="move", source=url,
                                  architecture=architecture)
    shutil.rmtree(staging, ignore_errors=True)
    if not result.verified:
        installed = store.set_verified(model_id, False)
    return installed


def discard_partial(store: ModelStore, model_id: str) -> None:
    shutil.rmtree(staging_dir(store, model_id), ignore_errors=True)

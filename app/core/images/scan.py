"""Finding and opening pictures: folder walks that survive loops, and safe decoding."""

from __future__ import annotations

import base64
import fnmatch
import hashlib
import logging
import os
import threading
import time
import warnings
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

from app.core.images.formats import NOT_A_PICTURE, open_picture
from app.core.jobs import Cancelled, CancelToken

log = logging.getLogger(__name__)

IMAGE_EXTS = {".jpg", ".jpeg", ".png", ".webp", ".gif", ".bmp", ".tif", ".tiff", ".heic", ".heif"}
MAX_PIXELS = 120_000_000  # beyond this a file is treated as a decompression bomb
HASH_SPAN = 256 * 1024
DECODE_BUDGET = 512 * 1024 * 1024  # bytes of decoded pixels the decode pool may hold at once, whatever its size


def display_path(path: str) -> str:
    """A path fit to show: bytes that are not UTF-8 (kept losslessly as surrogates) become U+FFFD."""
    return os.fsencode(path).decode("utf-8", "replace") if isinstance(path, str) else str(path)


def path_fields(path: str) -> dict:
    """A path in JSON (the API's answers, the CLI's --json): "path" is always valid UTF-8 (display_path);
    a name that is not UTF-8 also gives its exact bytes as "path_base64", so a client can still open it."""
    raw = os.fsencode(path)
    try:
        raw.decode("utf-8")
        return {"path": path}
    except UnicodeDecodeError:
        return {"path": display_path(path), "path_base64": base64.b64encode(raw).decode("ascii")}


class MemoryBudget:
    """Decodes take their picture's size from a shared budget and wait while it is spent: memory is
    bounded by bytes, not by the number of threads. A picture larger than the budget runs alone."""

    def __init__(self, limit: int):
        self.limit = limit
        self.used = 0
        self.peak = 0
        self._cond = threading.Condition()

    def acquire(self, n: int) -> None:
        with self._cond:
            self._cond.wait_for(lambda: self.used == 0 or self.used + n <= self.limit)
            self.used += n
            self.peak = max(self.peak, self.used)

    def release(self, n: int) -> None:
        with self._cond:
            self.used -= n
            self._cond.notify_all()


_budget = MemoryBudget(DECODE_BUDGET)


class RequestBudget:
    """What one request may spend decoding its pictures: pixels and seconds in all, and its cancel
    token (a client that left). Each picture is charged its size before its pixels are decoded."""

    def __init__(self, pixels: int, seconds: float, cancel: CancelToken | None = None):
        self.pixels, self.seconds, self.cancel = pixels, seconds, cancel
        self.spent = 0
        self.deadline: float | None = None  # from the first picture: time queued for the model is not decoding

    def charge(self, pixels: int) -> None:
        if self.cancel is not None and self.cancel.cancelled:
            raise Cancelled()
        now = time.monotonic()
        if self.deadline is None:
            self.deadline = now + self.seconds
        elif now > self.deadline:
            raise SkipImage(f"the pictures took longer than {self.seconds:.0f} s to decode in all")
        self.spent += pixels
        if self.spent > self.pixels:
            raise SkipImage(f"the pictures are too large together (over {self.pixels // 1_000_000} megapixels)")


@dataclass
class FoundFile:
    path: str
    size: int
    mtime: float
    dev: int | None = None  # the device of its folder: a nested mount point's differs from the root's


@dataclass
class ScanReport:
    found: list[FoundFile]
    unreadable: list[str]  # folders that could not be listed
    dev: int | None = None  # the root's device


def scan_folder(root: Path, exclude: tuple[str, ...] = ()) -> ScanReport:
    """All picture files below root, following links but never in a loop."""
    found, unreadable = [], []
    seen: set[tuple[int, int]] = set()
    try:
        root_dev = os.stat(root).st_dev
    except OSError:
        root_dev = None

    def onerror(err: OSError) -> None:
        unreadable.append(str(err.filename))

    for dirpath, dirnames, filenames in os.walk(root, followlinks=True, onerror=onerror):
        try:
            st = os.stat(dirpath)
        except OSError:
            continue
        key = (st.st_dev, st.st_ino)
        if key in seen:  # a symlink loop, or the same folder twice
            dirnames[:] = []
            continue
        seen.add(key)
        dirnames[:] = [d for d in dirnames if not _excluded(os.path.join(dirpath, d), exclude)]
        for name in filenames:
            if Path(name).suffix.lower() not in IMAGE_EXTS:
                continue
            full = os.path.join(dirpath, name)
            if _excluded(full, exclude):
                continue
            try:
                fst = os.stat(full)
            except OSError:
                continue  # deleted while we looked, or a dangling link
            found.append(FoundFile(full, fst.st_size, fst.st_mtime, st.st_dev))
    return ScanReport(found, unreadable, root_dev)


@dataclass
class KnownFile:
    """What the index holds for one file, and whether the current model has embedded it (and from what)."""

    id: int
    size: int | None
    mtime: float | None
    hash: str | None
    status: str
    reason: str
    embedded_hash: str | None  # the hash the current model's vector was made from; None: no vector
    dev: int | None = None  # the device its folder was on when it was indexed
    has_meta: bool = True  # its metadata (date, camera, place) is in the index


@dataclass
class Todo:
    """A file to hash and maybe decode and embed; reusable is a hash whose vector is still good."""

    folder_id: int
    path: str
    size: int
    mtime: float
    reusable: str | None
    dev: int | None = None


@dataclass
class FolderPlan:
    scanned: int = 0
    unchanged: int = 0
    skipped: Counter = field(default_factory=Counter)  # reasons of files skipped before, still the same
    todo: list[Todo] = field(default_factory=list)
    gone: list[int] = field(default_factory=list)  # ids of indexed files no longer there
    unmounted: list[int] = field(default_factory=list)  # ids of files on a nested drive not mounted now: kept
    unmounted_dirs: set[str] = field(default_factory=set)  # where those drives were mounted
    moved_dev: list[tuple[int, int]] = field(default_factory=list)  # (device, id) of unchanged files to record
    lost_all: bool = False  # it had indexed pictures and none is there now: an empty mount point?


def plan_folder(folder_id: int, found: list[FoundFile], known: dict[str, KnownFile],
                root: str | None = None, root_dev: int | None = None) -> FolderPlan:
    """The diff between a folder on disk and the index: what is unchanged, what to (re)do, what is gone.

    root_dev is the device the folder root was on when last indexed: a missing file that was on another
    device (a nested mount point) whose folder is now back on the root's device was unmounted, not deleted."""
    plan = FolderPlan()
    present = set()
    for f in found:
        plan.scanned += 1
        present.add(f.path)
        old = known.get(f.path)
        same = old is not None and old.size == f.size and old.mtime == f.mtime
        if same and old is not None and (old.status == "skipped" or (old.embedded_hash is not None and old.has_meta)):
            plan.unchanged += 1
            if f.dev is not None and old.dev != f.dev:
                plan.moved_dev.append((f.dev, old.id))
            if old.status == "skipped":
                plan.skipped[old.reason or "skipped"] += 1
            continue
        # Hashing happens in the decode pool: a touched-but-same file costs a read, not an embed (and an
        # indexed one without metadata, as after the schema 3 migration, only has its EXIF read).
        reusable = old.hash if old is not None and old.hash and old.embedded_hash == old.hash else None
        plan.todo.append(Todo(folder_id, f.path, f.size, f.mtime, reusable, f.dev))
    mounts = _MountCheck(root, root_dev) if root is not None and root_dev is not None else None
    for p, k in known.items():
        if p in present:
            continue
        where = mounts.unmounted(p, k.dev) if mounts is not None and k.dev is not None else None
        if where is None:
            plan.gone.append(k.id)
        else:
            plan.unmounted.append(k.id)
            plan.unmounted_dirs.add(where)
    indexed = [p for p, k in known.items() if k.status != "skipped"]
    plan.lost_all = bool(indexed) and not any(p in present for p in indexed)
    return plan


class _MountCheck:
    """Was a missing file's drive unmounted? It was on a device other than the root's, and the nearest
    folder of its path that is still there is now on the root's device (an empty mount point, or none)."""

    def __init__(self, root: str, root_dev: int):
        self.root, self.root_dev = root, root_dev
        self._dev: dict[str, int | None] = {}

    def unmounted(self, path: str, dev: int) -> str | None:
        """The folder where its drive was mounted, if it is not mounted now; None: the file is gone."""
        if dev == self.root_dev:
            return None
        folder = os.path.dirname(path)
        while folder.startswith(self.root) and len(folder) > len(self.root) and not os.path.isdir(folder):
            folder = os.path.dirname(folder)
        now, root_now = self._device(folder), self._device(self.root)
        if now is None or now == dev or now != root_now:
            return None  # its drive is there (or another is mounted there): the file was deleted
        return folder

    def _device(self, folder: str) -> int | None:
        if folder not in self._dev:
            try:
                self._dev[folder] = os.stat(folder).st_dev
            except OSError:
                self._dev[folder] = None
        return self._dev[folder]


def _excluded(path: str, patterns: tuple[str, ...]) -> bool:
    return any(fnmatch.fnmatch(path, p) or fnmatch.fnmatch(os.path.basename(path), p) for p in patterns)


def quick_hash(path: str, size: int) -> str:
    """Size plus the first and last 256 KB: tells an edited file from a touched one without reading it all."""
    h = hashlib.sha256(str(size).encode())
    with open(path, "rb") as fh:
        h.update(fh.read(HASH_SPAN))
        if size > 2 * HASH_SPAN:
            fh.seek(-HASH_SPAN, 2)
            h.update(fh.read(HASH_SPAN))
    return h.hexdigest()


class SkipImage(Exception):  # noqa: N818 - a reason to skip, not a failure
    pass


def open_image(path: str, target: int = 224, budget: RequestBudget | None = None, on_load=None):
    """A decoded RGB picture, upright (EXIF), shrunk early; SkipImage says why not. on_load(im) sees the
    picture once its data is read, before it is shrunk (the index reads its EXIF there: one open).

    JPEG decodes at 1/2, 1/4 or 1/8 scale (DCT scaling) and other formats are reduced right after
    decoding, before any copy (transpose, mode conversion) is made; the full-size pixels count
    against a budget shared by every decode thread."""
    from PIL import Image, ImageOps, UnidentifiedImageError

    Image.MAX_IMAGE_PIXELS = MAX_PIXELS
    try:
        if os.path.getsize(path) == 0:
            raise SkipImage("empty file")
        with warnings.catch_warnings():
            # Pillow warns between its limit and twice it; we refuse above our own limit instead.
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            im = open_picture(path)  # raster formats only: never a plug-in that runs a program
        with im:
            if im.width * im.height > MAX_PIXELS:
                raise SkipImage("too large (decompression bomb guard)")
            if budget is not None:
                budget.charge(im.width * im.height)
            stored_pixels = im.width * im.height  # before draft and thumbnail shrink it
            im.draft("RGB", (target, target))  # JPEG: never below the model's input size
            cost = im.width * im.height * max(4, len(im.getbands()))
            _budget.acquire(cost)
            try:
                im.load()
                if on_load is not None:
                    on_load(im)
                if max(im.size) > target * 4:  # huge: shrink (Image.reduce, then resample) before any copy
                    im.thumbnail((target * 4, target * 4), reducing_gap=2.0)
            finally:
                _budget.release(cost)
            out = ImageOps.exif_transpose(im).convert("RGB")
            out.info["hearth_pixels"] = stored_pixels  # the file's own size, for the duplicates' keeper
            return out
    except SkipImage:
        raise
    except Image.DecompressionBombError as exc:
        raise SkipImage("too large (decompression bomb guard)") from exc
    except UnidentifiedImageError as exc:
        raise SkipImage(NOT_A_PICTURE) from exc
    except FileNotFoundError as exc:
        raise SkipImage(DELETED) from exc
    except PermissionError as exc:
        raise SkipImage("unreadable (permission denied)") from exc
    except (OSError, ValueError, SyntaxError) as exc:  # truncated or corrupt data
        raise SkipImage(f"corrupt ({exc})") from exc


DELETED = "deleted while indexing"

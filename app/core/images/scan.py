"""Finding and opening pictures: folder walks that survive loops, and safe decoding."""

from __future__ import annotations

import fnmatch
import hashlib
import logging
import os
import warnings
from dataclasses import dataclass
from pathlib import Path

log = logging.getLogger(__name__)

IMAGE_EXTS = {".jpg", ".jpeg", ".png", ".webp", ".gif", ".bmp", ".tif", ".tiff", ".heic", ".heif"}
MAX_PIXELS = 120_000_000  # beyond this a file is treated as a decompression bomb
HASH_SPAN = 256 * 1024


@dataclass
class FoundFile:
    path: str
    size: int
    mtime: float


@dataclass
class ScanReport:
    found: list[FoundFile]
    unreadable: list[str]  # folders that could not be listed


def _register_heif() -> None:
    try:
        from pillow_heif import register_heif_opener

        register_heif_opener()
    except ImportError:
        pass  # HEIC only where the plugin is installed


def scan_folder(root: Path, exclude: tuple[str, ...] = ()) -> ScanReport:
    """All picture files below root, following links but never in a loop."""
    found, unreadable = [], []
    seen: set[tuple[int, int]] = set()

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
            found.append(FoundFile(full, fst.st_size, fst.st_mtime))
    return ScanReport(found, unreadable)


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


def open_image(path: str, target: int = 224):
    """A decoded RGB picture, upright (EXIF), shrunk early; SkipImage says why not."""
    from PIL import Image, ImageOps, UnidentifiedImageError

    _register_heif()
    Image.MAX_IMAGE_PIXELS = MAX_PIXELS
    try:
        if os.path.getsize(path) == 0:
            raise SkipImage("empty file")
        with warnings.catch_warnings():
            # Pillow warns between its limit and twice it; we refuse above our own limit instead.
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            im = Image.open(path)
        with im:
            if im.width * im.height > MAX_PIXELS:
                raise SkipImage("too large (decompression bomb guard)")
            # JPEG: decode at 1/2, 1/4 or 1/8 scale (DCT scaling, a proper low-pass), never below the
            # model's input size: the cheapest large step of indexing a camera's photos.
            im.draft("RGB", (target, target))
            im = ImageOps.exif_transpose(im)
            if max(im.size) > target * 4:  # huge panoramas: shrink before anything else
                im.thumbnail((target * 4, target * 4))
            return im.convert("RGB")
    except SkipImage:
        raise
    except Image.DecompressionBombError as exc:
        raise SkipImage("too large (decompression bomb guard)") from exc
    except UnidentifiedImageError as exc:
        raise SkipImage("not an image") from exc
    except FileNotFoundError as exc:
        raise SkipImage("deleted while indexing") from exc
    except PermissionError as exc:
        raise SkipImage("unreadable (permission denied)") from exc
    except (OSError, ValueError, SyntaxError) as exc:  # truncated or corrupt data
        raise SkipImage(f"corrupt ({exc})") from exc

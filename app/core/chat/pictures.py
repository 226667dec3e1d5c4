"""Pictures for the chat: decoded safely in Hearth's process, downscaled, stored once by content.

A picture from a drop, a paste, a file dialog or the Images pane is hostile until decoded here with
the decoder the Images pane uses (EXIF orientation, decompression-bomb guard, truncated files). What
the model sees is the downscaled PNG this module writes; the model process only ever gets its bytes.
Files live under the data folder as ``pictures/<sha256[:2]>/<sha256>.png``.
"""

from __future__ import annotations

import hashlib
import io
import logging
import os
import re
import tempfile
from dataclasses import dataclass
from pathlib import Path

from app.core import paths
from app.core.fileio import atomic_write_bytes
from app.core.images.scan import RequestBudget, SkipImage, open_image
from app.core.jobs import InputError

log = logging.getLogger(__name__)

SHA_RX = re.compile(r"^[0-9a-f]{64}$")
DEFAULT_SIDE = 1024
THUMB_SIDE = 192  # a sent picture's thumbnail: shown at 96 px, twice that for a HiDPI screen
MAX_FILE_BYTES = 200 * 1024 * 1024  # a picture bigger than this is not read into memory at all
# Encoders that tile or take any resolution: give them detail, within reason. The others take one size.
DYNAMIC = ("qwen2vl", "qwen2.5vl", "qwen25vl", "qwen3vl", "qwen3vl_merger", "idefics3", "internvl", "llama4",
           "pixtral", "kimivl", "lfm2", "minicpmv")


class PictureError(InputError):
    """A picture that cannot be used; the message says why, for the user."""


@dataclass(frozen=True)
class Picture:
    sha256: str
    name: str  # the file name the user gave (display and export only; never a path)
    width: int
    height: int
    data: bytes  # the PNG the model sees


def target_side(projector_type: str = "", image_size: int = 0) -> int:
    """The longest side a picture is shrunk to before it goes to the model."""
    if not image_size or projector_type.lower() in DYNAMIC:
        return DEFAULT_SIDE
    return max(64, min(image_size, 2048))


def side_for_projector(projector: Path | None) -> int:
    """The side pictures are shrunk to for this projector (its header says what its encoder takes)."""
    if projector is None:
        return DEFAULT_SIDE
    from app.core.models.projector import projector_info

    info = projector_info(projector)
    return target_side(info.projector_type, info.image_size)


def display_name(name: str) -> str:
    """A shown/exported name: the last component, printable, short; never used to build a path alone."""
    base = re.split(r"[\\/]", str(name))[-1]
    base = "".join(c for c in base if c.isprintable()).strip() or "picture"
    return base[:120]


def prepare(source: Path | bytes, name: str = "", side: int = DEFAULT_SIDE,
            budget: RequestBudget | None = None) -> Picture:
    """Decodes, turns upright and shrinks a picture; PictureError says plainly what is wrong with it.
    A budget (a server request's) is charged the picture's pixels and stops a request that left."""
    label = display_name(name or (source.name if isinstance(source, Path) else "pasted picture"))
    if isinstance(source, bytes | bytearray):
        return _prepare_bytes(bytes(source), label, side, budget)
    path = Path(source)
    try:
        size = path.stat().st_size
    except OSError as exc:
        raise PictureError(f"{label}: cannot be read ({exc.strerror or exc})") from exc
    if size > MAX_FILE_BYTES:
        raise PictureError(f"{label}: the file is too large to be a picture ({size // (1024 * 1024)} MB)")
    try:
        im = open_image(str(path), target=side, budget=budget)
    except SkipImage as exc:
        log.warning("picture %s refused: %s", label, exc)
        raise PictureError(f"{label} cannot be used as a picture: {exc}") from exc
    return _finish(im, label, side)


def _prepare_bytes(data: bytes, label: str, side: int, budget: RequestBudget | None) -> Picture:
    if len(data) > MAX_FILE_BYTES:
        raise PictureError(f"{label}: too large to be a picture")
    # open_image works on files (its guards need a size and a seekable source); a private temp file it is.
    fd, tmp = tempfile.mkstemp(prefix="paste-", dir=paths.cache_dir())
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
        return prepare(Path(tmp), label, side, budget)
    finally:
        os.unlink(tmp)


def _finish(im, label: str, side: int) -> Picture:
    from PIL import Image

    if max(im.size) > side:
        im.thumbnail((side, side), Image.Resampling.LANCZOS)
    buf = io.BytesIO()
    im.save(buf, format="PNG", optimize=False)
    data = buf.getvalue()
    return Picture(hashlib.sha256(data).hexdigest(), label, im.width, im.height, data)


def thumbnail(data: bytes, side: int = THUMB_SIDE) -> bytes:
    """A small PNG of one of our prepared pictures (a PNG this module wrote), to show beside a message.
    Made where the picture is prepared: Qt's decoder keeps Python's lock for all its ~30-60 ms, so one
    run beside the GUI thread, or on it, stalls the window; Pillow's lets go."""
    from PIL import Image

    with Image.open(io.BytesIO(data), formats=["PNG"]) as im:
        im.thumbnail((side, side), Image.Resampling.LANCZOS)
        buf = io.BytesIO()
        im.save(buf, format="PNG")
    return buf.getvalue()


class PictureStore:
    """Content-addressed files: one per distinct picture, whatever number of messages use it."""

    def __init__(self, root: Path | None = None):
        self.root = Path(root) if root else paths.pictures_dir()
        self.root.mkdir(parents=True, exist_ok=True)

    def path_of(self, sha256: str) -> Path:
        if not isinstance(sha256, str) or not SHA_RX.match(sha256):
            raise PictureError(f"not a picture id: {sha256!r}")
        return self.root / sha256[:2] / f"{sha256}.png"

    def put(self, picture: Picture) -> Path:
        if hashlib.sha256(picture.data).hexdigest() != picture.sha256:
            raise PictureError(f"{picture.name}: its bytes do not match its id")
        path = self.path_of(picture.sha256)
        if not path.exists():
            path.parent.mkdir(parents=True, exist_ok=True)
            atomic_write_bytes(path, picture.data)
        return path

    def read(self, sha256: str) -> bytes:
        """The stored bytes, checked against their name (a file changed on disk is not sent)."""
        path = self.path_of(sha256)
        try:
            data = path.read_bytes()
        except OSError as exc:
            raise PictureError(f"picture {sha256[:12]}… is missing from {self.root}") from exc
        if hashlib.sha256(data).hexdigest() != sha256:
            raise PictureError(f"picture {sha256[:12]}… was changed on disk; it is not sent")
        return data

    def exists(self, sha256: str) -> bool:
        return self.path_of(sha256).is_file()

    def remove_unused(self, candidates: set[str], in_use: set[str]) -> list[str]:
        """Removes the candidates no message uses any more; returns the ids removed."""
        removed = []
        for sha in sorted(candidates - in_use):
            path = self.path_of(sha)
            try:
                path.unlink()
                removed.append(sha)
            except FileNotFoundError:
                pass
            except OSError as exc:
                log.warning("could not remove picture %s: %s", path, exc)
        return removed

"""The one list of picture formats Hearth decodes: raster formats decoded in-process.

Pillow opens any format it knows whatever a file is called; some of its plug-ins run another
program (EPS and PostScript start Ghostscript, which runs the file as a program). Every decoder
in Hearth (Pillow here, Qt's image readers in the GUI) asks this module which formats it may use.
"""

from __future__ import annotations

import logging
import os

log = logging.getLogger(__name__)

# Pillow's names. MPO (a JPEG that cameras write with a second picture inside) is opened by JPEG's opener.
RASTER = ("JPEG", "MPO", "PNG", "WEBP", "GIF", "BMP", "TIFF")
OPTIONAL = ("HEIF", "AVIF")  # where pillow-heif (or Pillow's own AVIF) is installed
NOT_A_PICTURE = "not a picture"
# Qt's reader for each format it can decode itself; HEIF/AVIF have none in Qt.
QT_FORMAT = {"JPEG": "jpeg", "MPO": "jpeg", "PNG": "png", "WEBP": "webp", "GIF": "gif", "BMP": "bmp", "TIFF": "tiff"}


def _register_heif() -> None:
    try:
        from pillow_heif import register_heif_opener

        register_heif_opener()
    except ImportError:
        pass  # HEIC only where the plugin is installed


def allowed() -> list[str]:
    """The Pillow formats a picture may be decoded as, here."""
    from PIL import Image

    _register_heif()
    Image.init()
    return [f for f in (*RASTER, *OPTIONAL) if f in Image.OPEN]  # MPO opens through JPEG's own check


def open_picture(source):
    """Image.open restricted to the allow-list: anything else raises UnidentifiedImageError, and
    no other plug-in ever sees the bytes."""
    from PIL import Image

    return Image.open(source, formats=allowed())


def identify(path: str) -> str | None:
    """The allowed format a file's content is (Pillow's name), or None: its header is read, not its pixels."""
    from PIL import Image, UnidentifiedImageError

    try:
        with open_picture(path) as im:
            return im.format
    except (UnidentifiedImageError, Image.DecompressionBombError, OSError, ValueError, SyntaxError) as exc:
        log.info("%s is not a picture Hearth decodes: %s", os.fsencode(path).decode("utf-8", "replace"), exc)
        return None


def qt_format(path: str) -> str | None:
    """The name of the one Qt reader that may decode this file, or None (not a picture Qt may read)."""
    return QT_FORMAT.get(identify(path) or "")

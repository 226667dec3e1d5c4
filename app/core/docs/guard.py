"""Reading a hostile file: bounded sizes, zips that are not bombs, XML without entities."""

from __future__ import annotations

import io
import os
import posixpath
import zipfile
from pathlib import Path
from urllib.parse import unquote, urldefrag

import defusedxml.ElementTree as SafeET  # noqa: N812 - the stdlib's name, defused
from defusedxml import DefusedXmlException

from app.core.docs.model import Limits, UnreadableDocument
from app.core.fileio import NotRegularFileError, open_regular

MB = 1 << 20


def read_bytes(path: Path, limits: Limits) -> bytes:
    """The whole file, refused if it is not a regular file, empty, or past the size limit."""
    try:
        with open_regular(path) as fh:
            size = os.fstat(fh.fileno()).st_size
            if size > limits.max_file_bytes:
                raise UnreadableDocument(too_large(size, limits.max_file_bytes))
            data = fh.read(limits.max_file_bytes + 1)
    except NotRegularFileError:
        raise UnreadableDocument("not a regular file (a folder, pipe or device)") from None
    except OSError as exc:
        raise UnreadableDocument(f"could not be read ({exc.strerror or 'input/output error'})") from None
    if len(data) > limits.max_file_bytes:  # it grew while we read
        raise UnreadableDocument(too_large(len(data), limits.max_file_bytes))
    if not data:
        raise UnreadableDocument("empty file")
    return data


def too_large(size: int, limit: int) -> str:
    return f"too large ({size / MB:.0f} MB, limit {limit / MB:.0f} MB)"


class SafeZip:
    """A zip (DOCX, ODT, EPUB) checked before anything is inflated: member count, declared total size,
    compression ratio; each member read is bounded again by its declared size."""

    def __init__(self, data: bytes, limits: Limits):
        self.limits = limits
        try:
            self.zip = zipfile.ZipFile(io.BytesIO(data))
            infos = self.zip.infolist()
        except (zipfile.BadZipFile, zipfile.LargeZipFile, ValueError, EOFError):
            raise UnreadableDocument("truncated or damaged (not a readable zip)") from None
        if len(infos) > limits.max_zip_members:
            raise UnreadableDocument(f"refused: a zip bomb ({len(infos)} members, limit {limits.max_zip_members})")
        total = sum(i.file_size for i in infos)
        if total > limits.max_unzipped_bytes:
            raise UnreadableDocument(f"refused: a zip bomb ({total / MB:.0f} MB unzipped, "
                                     f"limit {limits.max_unzipped_bytes / MB:.0f} MB)")
        for info in infos:
            if info.file_size > MB and info.file_size > limits.max_zip_ratio * max(info.compress_size, 1):
                raise UnreadableDocument(f"refused: a zip bomb ({info.filename} inflates "
                                         f"{info.file_size // max(info.compress_size, 1)} times)")
        self.names = {i.filename: i for i in infos}

    def has(self, name: str) -> bool:
        return name in self.names

    def read(self, name: str) -> bytes:
        info = self.names.get(name)
        if info is None:
            raise UnreadableDocument(f"truncated or damaged ({name} is missing)")
        if info.file_size > self.limits.max_member_bytes:
            raise UnreadableDocument(f"{name} is too large ({info.file_size / MB:.0f} MB, "
                                     f"limit {self.limits.max_member_bytes / MB:.0f} MB)")
        if info.flag_bits & 0x1:
            raise UnreadableDocument("encrypted document (password needed)")
        try:
            with self.zip.open(info) as fh:
                data = fh.read(info.file_size + 1)  # zipfile stops at the declared size; bounded anyway
        except (zipfile.BadZipFile, OSError, EOFError, ValueError, NotImplementedError):
            raise UnreadableDocument(f"truncated or damaged ({name} does not unpack)") from None
        return data[: info.file_size]

    def resolve(self, base: str, href: str) -> str:
        """A relative link inside the zip (an EPUB chapter from its OPF), as a member name."""
        href = unquote(urldefrag(href)[0])
        return posixpath.normpath(posixpath.join(posixpath.dirname(base), href)).lstrip("/")


def parse_xml(data: bytes, what: str):
    """An XML part's root element; entities and external references refused (defusedxml)."""
    try:
        return SafeET.fromstring(data)
    except DefusedXmlException:
        raise UnreadableDocument(f"refused: {what} declares XML entities") from None
    except (SafeET.ParseError, ValueError, RecursionError):
        raise UnreadableDocument(f"truncated or damaged ({what} is not well-formed XML)") from None

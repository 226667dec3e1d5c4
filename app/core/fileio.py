"""Small file helpers: atomic writes, hashing, and reading files that may be hostile."""

from __future__ import annotations

import json
import os
import stat
import tempfile
from pathlib import Path

CHUNK = 1 << 20
MAX_JSON_BYTES = 64 << 20  # a registry, settings or server list is a few KB


class NotRegularFileError(OSError):
    """A FIFO, a device or a folder where a file was expected: reading it could block forever."""


def open_regular(path: Path | str, mode: str = "rb"):
    """Opens a regular file for reading, never blocking on a FIFO (opened non-blocking, then checked)."""
    fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_BINARY", 0))
    try:
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode):
            raise NotRegularFileError(f"{Path(path).name} is not a regular file")
        if hasattr(os, "set_blocking"):
            os.set_blocking(fd, True)
        return os.fdopen(fd, mode)
    except BaseException:
        os.close(fd)
        raise


def read_text_regular(path: Path | str, limit: int = MAX_JSON_BYTES) -> str:
    """A regular file's UTF-8 text, refused (ValueError) past ``limit`` bytes."""
    with open_regular(path) as fh:
        data = fh.read(limit + 1)
    if len(data) > limit:
        raise ValueError(f"{Path(path).name} is larger than {limit >> 20} MB")
    return data.decode("utf-8")


def loads_json(text: str):
    """json.loads, with nesting too deep for the parser reported as bad JSON (a ValueError)."""
    try:
        return json.loads(text)
    except RecursionError:
        raise ValueError("nested too deeply") from None


def read_json_regular(path: Path | str, limit: int = MAX_JSON_BYTES):
    return loads_json(read_text_regular(path, limit))


def atomic_write_text(path: Path, text: str) -> None:
    """Write via a temp file and rename, so a crash never leaves half a file."""
    atomic_write_bytes(path, text.encode("utf-8"))


def atomic_write_bytes(path: Path, data: bytes) -> None:
    """Write via a temp file and rename, so a crash never leaves half a file."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=path.name + ".", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def atomic_write_json(path: Path, data: object) -> None:
    atomic_write_text(path, json.dumps(data, indent=2, sort_keys=True) + "\n")


def sha256_file(path: Path) -> str:
    import hashlib  # not on the start-up path

    digest = hashlib.sha256()
    with open_regular(path) as fh:
        while chunk := fh.read(CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def tree_size(path: Path) -> int:
    if path.is_file():
        return path.stat().st_size
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file())


def sha256_tree(path: Path) -> str:
    """Hash of a file, or of a folder as sorted (relative name, file hash) pairs."""
    if path.is_file():
        return sha256_file(path)
    import hashlib

    digest = hashlib.sha256()
    for item in sorted(p for p in path.rglob("*") if p.is_file()):
        digest.update(item.relative_to(path).as_posix().encode() + b"\0")
        digest.update(sha256_file(item).encode() + b"\n")
    return digest.hexdigest()

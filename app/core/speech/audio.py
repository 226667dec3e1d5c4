"""Audio in: any file PyAV reads, as 16 kHz mono float32, in bounded chunks."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from app.core.jobs import InputError

SAMPLE_RATE = 16000
CHUNK_S = 300  # long files are transcribed five minutes at a time: memory stays bounded


@dataclass
class AudioInfo:
    duration_s: float | None
    codec: str
    container: str


def _open(path: Path):
    import av

    path = Path(path)
    if not path.exists():
        raise InputError(f"{path.name} does not exist")
    if path.stat().st_size == 0:
        raise InputError(f"{path.name} is empty")
    try:
        container = av.open(str(path), metadata_errors="ignore")
    except (av.error.FFmpegError, UnicodeDecodeError, ValueError) as exc:
        # The decoder's own words ("[Errno 1094995529] Invalid data found…") go to the log, not the user.
        logging.getLogger(__name__).info("could not open %s: %s", path, exc)
        raise InputError(f"{path.name} is not an audio or video file Hearth can read: its contents are not in "
                         "a sound format Hearth knows, or the file is damaged") from exc
    if not container.streams.audio:
        container.close()
        raise InputError(f"{path.name} has no audio track")
    return container


def probe(path: Path) -> AudioInfo:
    container = _open(path)
    try:
        stream = container.streams.audio[0]
        duration = None
        if stream.duration and stream.time_base:
            duration = float(stream.duration * stream.time_base)
        elif container.duration:
            duration = container.duration / 1_000_000
        return AudioInfo(duration, stream.codec_context.name, container.format.name)
    finally:
        container.close()


def iter_chunks(path: Path, chunk_s: float = CHUNK_S) -> Iterator[np.ndarray]:
    """Yields float32 arrays of at most ``chunk_s`` seconds, decoded and resampled as it goes."""
    import av

    container = _open(path)
    resampler = av.AudioResampler(format="s16", layout="mono", rate=SAMPLE_RATE)
    limit = int(chunk_s * SAMPLE_RATE)
    parts: list[np.ndarray] = []
    have = 0
    decoded_any = False
    try:
        stream = container.streams.audio[0]
        try:
            for frame in container.decode(stream):
                decoded_any = True
                for out in resampler.resample(frame):
                    parts.append(out.to_ndarray().reshape(-1))
                    have += parts[-1].size
                while have >= limit:
                    joined = np.concatenate(parts)
                    yield joined[:limit].astype(np.float32) / 32768.0
                    rest = joined[limit:]
                    parts, have = ([rest] if rest.size else []), rest.size
            for out in resampler.resample(None):
                parts.append(out.to_ndarray().reshape(-1))
                have += parts[-1].size
        except av.error.FFmpegError as exc:
            if not decoded_any:  # the decoder's own words go to the log, as in _open
                logging.getLogger(__name__).info("could not decode %s: %s", path, exc)
                raise InputError(f"{Path(path).name}: the audio could not be decoded: the file is damaged or "
                                 "its sound is in a format Hearth cannot read") from exc
            # A damaged tail: keep what decoded.
        if not decoded_any:
            raise InputError(f"{Path(path).name}: no audio could be decoded")
        if have:
            yield np.concatenate(parts).astype(np.float32) / 32768.0
    finally:
        container.close()

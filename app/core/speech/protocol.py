"""What a speech engine offers its callers (the GUI's worker, the CLI, the server, live captions):
``app.core.opening.open_transcriber`` returns this type; Transcriber (transcriber.py) keeps it."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:
    import numpy as np

    from app.core.jobs import CancelToken
    from app.core.speech.transcriber import DecodeClock, Segment, TranscribeOptions, TranscriptProgress


class TranscriberProtocol(Protocol):
    model_id: str
    notices: list[str]

    def transcribe(self, path: Path, options: TranscribeOptions | None = None,
                   cancel: CancelToken | None = None) -> Iterator[Segment | TranscriptProgress]:
        """A file's segments and progress, chunk by chunk."""
        ...

    def transcribe_array(self, audio: np.ndarray, options: TranscribeOptions | None = None,
                         cancel: CancelToken | None = None, offset: float = 0.0, ramp: bool = True,
                         clock: DecodeClock | None = None) -> Iterator[Segment | TranscriptProgress]:
        """The same for audio in memory (16 kHz mono float)."""
        ...

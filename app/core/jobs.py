"""What engines share: cancellation, progress and typed errors."""

from __future__ import annotations

import threading
from dataclasses import dataclass


class HearthError(Exception):
    """An error with a message meant for the user."""


class ModelError(HearthError):
    pass


class DownloadError(HearthError):
    pass


class InputError(HearthError):
    """Bad input from the user: an unreadable file, an empty prompt."""


class Cancelled(Exception):  # noqa: N818 - an outcome, not an error
    """The job was cancelled; not an error."""


class CancelToken:
    """Set from any thread; engines check it between items."""

    def __init__(self) -> None:
        self._event = threading.Event()

    def cancel(self) -> None:
        self._event.set()

    @property
    def cancelled(self) -> bool:
        return self._event.is_set()

    def raise_if_cancelled(self) -> None:
        if self._event.is_set():
            raise Cancelled()

    def wait(self, timeout: float) -> bool:
        return self._event.wait(timeout)


@dataclass(frozen=True)
class Progress:
    done: float
    total: float | None = None
    message: str = ""

    @property
    def fraction(self) -> float | None:
        if not self.total:
            return None
        return max(0.0, min(1.0, self.done / self.total))

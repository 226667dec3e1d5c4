"""What engines share: cancellation and typed errors (each engine yields progress of its own kind)."""

from __future__ import annotations

import threading


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

"""What an image encoder offers its callers (the index, the query, the GUI's worker, the CLI, the server):
``app.core.opening.open_encoder`` returns this type; ImageEncoder (encoder.py) keeps it."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:
    import numpy as np


class ImageEncoderProtocol(Protocol):
    model_id: str
    image_size: int  # the side pictures are decoded to
    batch_size: int

    def prepare(self, image: Any) -> Any:
        """A decoded picture made ready for embed_images."""
        ...

    def embed_images(self, batch: Any) -> np.ndarray:
        """What prepare() gave, as one vector per picture."""
        ...

    def embed_text(self, texts: list[str]) -> np.ndarray: ...

    def embed_pil(self, images: Any) -> np.ndarray: ...

    def report_speed(self, seconds: float, images: int) -> None:
        """Called after an index run that was not cancelled: the model's embedding time."""
        ...

"""One way to write a size for people, used by the GUI and the CLI alike: decimal units
(1 MB = 10^6 bytes, 1 GB = 10^9), as the hubs and disk makers write them, so a model's size
reads the same on the Models page, in the chat's model picker and in `models list`."""

from __future__ import annotations


def human_size(n: int | float) -> str:
    """``253 MB``, ``4.68 GB``, ``12 kB``; ``—`` when not known yet (0, a download from a URL)."""
    if n <= 0:
        return "—"
    if n >= 1e9:
        return f"{n / 1e9:.2f} GB"
    if n >= 1e6:
        return f"{n / 1e6:.0f} MB"
    return f"{max(1, round(n / 1e3))} kB"


def human_rate(bytes_per_s: float) -> str:
    return f"{bytes_per_s / 1e6:.1f} MB/s"

"""Hearth: multimodal AI on your own computer, offline."""

__version__ = "0.1.0"

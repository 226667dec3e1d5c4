"""Hearth's OpenAI-compatible HTTP API (`python -m app serve`). Imported only when serving."""

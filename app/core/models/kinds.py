"""The kinds of model Hearth runs, each with a pane of its own. The one list (catalog, store, CLI)."""

KINDS = ("chat", "images", "speech", "embedding")  # embedding: text vectors for document search

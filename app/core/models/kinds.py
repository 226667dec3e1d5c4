"""The kinds of model Hearth runs, each with a pane of its own. The one list (catalog, store, CLI)."""

KINDS = ("chat", "images", "speech", "embedding", "speaker")  # embedding: text vectors for document search;
# speaker: voice embeddings that tell a transcript's speakers apart (used by the Speech pane)

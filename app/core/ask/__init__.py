"""Ask Hearth (#26): the chat model calls Hearth's own read-only search, vision and transcription as
tools (``tools``), one step at a time (``loop``), and shows its work (``events``). Plain Python, no Qt."""

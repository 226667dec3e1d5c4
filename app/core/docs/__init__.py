"""Documents: reading the user's files (every one hostile) into text with its places, and chunks of it."""

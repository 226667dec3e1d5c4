"""Text embeddings: a GGUF text-embedding model through llama.cpp (app.core.embeddings.engine)."""

"""Knowledge base: articles, their chunks and embeddings, import formats, and the in-memory search index."""

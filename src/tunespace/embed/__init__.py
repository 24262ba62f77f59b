"""Embedding extraction (the Python :class:`~tunespace.embed.model.Model` and ``tunespace embed``)
and the EMB folder format."""

from .format import EmbeddingSet, read_embeddings, write_embeddings

__all__ = ["EmbeddingSet", "read_embeddings", "write_embeddings"]

"""tunespace: music audio embeddings trained by contrastive learning with chosen data
augmentation, and the neighbourhood analysis that tells which musical properties they keep.

Data flows: audio -> corpus/datasets -> features -> augment -> pairs -> models -> losses ->
train -> embed -> neighbours / index -> locality / probes -> study -> serve -> cli.

The public Python API, importable from the package top::

    import tunespace
    model = tunespace.load_model("pretrained:ts+ps+eq+rev")   # shipped; or a run folder, a checkpoint
    v = model.embed(audio, sample_rate)            # (D,) track embedding; or model.embed("song.mp3")
    index = tunespace.Index.load("indexes/ts")     # `tunespace index build`
    index.neighbours_of("some/track", k=10)        # [Neighbour(rank, id, similarity), ...]
    index.search(v, k=10)                          # neighbours of a vector
    tunespace.Index.from_vectors(ids, vectors, model=model)   # an index of vectors held in memory

Both are imported lazily, so ``import tunespace`` stays light.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"

__all__ = ["Index", "Model", "Neighbour", "__version__", "load_model"]

if TYPE_CHECKING:
    from .embed.model import Model, load_model
    from .index import Index, Neighbour

_LAZY = {"load_model": "embed.model", "Model": "embed.model", "Index": "index", "Neighbour": "index"}


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        import importlib

        return getattr(importlib.import_module(f".{_LAZY[name]}", __name__), name)
    raise AttributeError(f"module 'tunespace' has no attribute {name!r}")

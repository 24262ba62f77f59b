"""Leave-one-out nearest-neighbour retrieval: majority vote of N_k(i) against the true label.

Ties between labels with the same vote count are broken by the nearest: the tied label whose
nearest member ranks first among the neighbours wins. Written by hand (scikit-learn's
KNeighborsClassifier breaks ties by label order, not by distance rank).
"""

from __future__ import annotations

import numpy as np


def vote(neighbour_codes: np.ndarray, k: int) -> np.ndarray:
    """Majority label (N,) of the first ``k`` columns of (N, K) integer label codes (>= 0)."""
    c = neighbour_codes[:, :k]
    n = c.shape[0]
    v = int(c.max()) + 1
    counts = np.zeros((n, v), dtype=np.int64)
    first = np.full((n, v), k, dtype=np.int64)
    rows = np.repeat(np.arange(n), k)
    np.add.at(counts, (rows, c.ravel()), 1)
    np.minimum.at(first, (rows, c.ravel()), np.tile(np.arange(k), n))
    return np.argmax(counts * (k + 1) - first, axis=1)


def retrieval_accuracy(codes: np.ndarray, neighbours: np.ndarray, ks: list[int]) -> dict[int, float]:
    """Leave-one-out k-NN accuracy for each k.

    Args:
        codes: (N,) integer label codes of the items.
        neighbours: (N, K) neighbour indices (K >= max(ks)), query excluded.
        ks: neighbourhood sizes.
    """
    nc = codes[neighbours]
    return {k: float((vote(nc, k) == codes).mean()) for k in ks}

"""Row iteration shared by the waveform augmentations."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from ..base import Params


def map_rows(x: np.ndarray, params: Params, fn: Callable[[np.ndarray, int], np.ndarray]) -> np.ndarray:
    """Apply ``fn(row, item)`` to each row of ``x`` whose ``params["applied"][item]`` is true.

    Args:
        x: ``(samples,)`` (one item) or ``(B, samples)`` audio.
        params: per-item parameters with an ``applied`` array of length 1 or B.
        fn: returns a row of the same length.
    Returns:
        float32 array of ``x``'s shape (rows not applied are copied unchanged).
    """
    x = np.asarray(x, dtype=np.float32)
    rows = x[None] if x.ndim == 1 else x
    applied = np.asarray(params["applied"], dtype=bool).reshape(-1)
    if applied.shape[0] != rows.shape[0]:
        raise ValueError(f"params for {applied.shape[0]} items, audio has {rows.shape[0]}")
    out = rows.copy()
    for i in range(rows.shape[0]):
        if applied[i]:
            out[i] = fn(rows[i], i)
    return out[0] if x.ndim == 1 else out


def place_centred(y: np.ndarray, length: int, offset: int) -> np.ndarray:
    """Put ``y`` into a zero array of ``length`` samples starting at ``offset`` (may be negative)."""
    out = np.zeros(length, dtype=np.float32)
    lo, hi = max(0, offset), min(length, offset + y.shape[0])
    if hi > lo:
        out[lo:hi] = y[lo - offset:hi - offset]
    return out

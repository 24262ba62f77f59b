"""Broadband gain in dB (a multiplication; numpy)."""

from __future__ import annotations

import numpy as np

from ..base import GainSpec, Params
from ._rows import map_rows


class Gain(GainSpec):
    """Multiply each item by ``10 ** (gain_db / 20)``. Args: ``**spec`` of ``GainSpec``."""

    def __init__(self, sample_rate: int = 16000, **spec) -> None:
        super().__init__(**spec)
        self.sample_rate = int(sample_rate)

    def apply(self, x: np.ndarray, params: Params) -> np.ndarray:
        """``x``: ``(samples,)`` or ``(B, samples)``; params ``gain_db`` ``(B,)``."""
        g = np.asarray(params["gain_db"], dtype=np.float64).reshape(-1)
        return map_rows(x, params, lambda row, i: (row * 10.0 ** (g[i] / 20.0)).astype(np.float32))

"""Additive white Gaussian noise at a given SNR (numpy)."""

from __future__ import annotations

import numpy as np

from ..base import NoiseSpec, Params
from ._rows import map_rows


class Noise(NoiseSpec):
    """Add white noise with power ``mean(x**2) / 10 ** (snr_db / 10)``, drawn from ``noise_seed``.

    Args:
        sample_rate: Hz (unused; kept for a uniform constructor).
        **spec: ranges and ``p`` of ``NoiseSpec``.
    """

    def __init__(self, sample_rate: int = 16000, **spec) -> None:
        super().__init__(**spec)
        self.sample_rate = int(sample_rate)

    def apply(self, x: np.ndarray, params: Params) -> np.ndarray:
        """``x``: ``(samples,)`` or ``(B, samples)``; params ``snr_db``, ``noise_seed`` ``(B,)``."""
        snr = np.asarray(params["snr_db"], dtype=np.float64).reshape(-1)
        seed = np.asarray(params["noise_seed"], dtype=np.int64).reshape(-1)

        def one(row: np.ndarray, i: int) -> np.ndarray:
            power = float(np.mean(row.astype(np.float64) ** 2))
            noise = np.random.default_rng(int(seed[i])).standard_normal(row.shape[0])
            return (row + noise * np.sqrt(power / 10.0 ** (snr[i] / 10.0))).astype(np.float32)

        return map_rows(x, params, one)

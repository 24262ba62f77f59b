"""Random EQ with real biquad filters (RBJ peaking and shelving sections, ``scipy.signal.sosfilt``)."""

from __future__ import annotations

import numpy as np
from scipy.signal import sosfilt

from ..base import EqualiserSpec, Params
from ..biquad import equaliser_sos
from ._rows import map_rows


class Equaliser(EqualiserSpec):
    """Cascade of ``n_peaks`` peaking biquads, a low shelf and a high shelf, per item.

    Args:
        sample_rate: Hz (every filter frequency must be below Nyquist).
        **spec: ranges and ``p`` of :class:`~tunespace.augment.base.EqualiserSpec`.
    """

    def __init__(self, sample_rate: int = 16000, **spec) -> None:
        super().__init__(**spec)
        self.sample_rate = int(sample_rate)
        self.check_sample_rate(self.sample_rate)

    def apply(self, x: np.ndarray, params: Params) -> np.ndarray:
        """``x``: ``(samples,)`` or ``(B, samples)`` float32; params as ``EqualiserSpec``."""
        def one(row: np.ndarray, i: int) -> np.ndarray:
            sos = equaliser_sos(params, i, self.sample_rate, self.SHELF_Q)
            return sosfilt(sos, row.astype(np.float64)).astype(np.float32)

        return map_rows(x, params, one)

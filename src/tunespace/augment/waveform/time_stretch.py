"""Time-stretch with Rubber Band (``pedalboard.time_stretch``), pitch unchanged."""

from __future__ import annotations

import numpy as np
import pedalboard

from ..base import Params, TimeStretchSpec
from ._rows import map_rows, place_centred


class TimeStretch(TimeStretchSpec):
    """Rubber Band time-stretch by ``rate`` (``r > 1`` faster).

    With ``keep_length`` (default) the output has the input's length and its centre aligned:
    output sample ``t`` holds the input content at ``c + (t - c) * r``, ``c`` the centre sample;
    where that falls outside the input the output is zero. The pipeline crops the centre.
    With ``keep_length=False`` (one item only) the full stretched signal is returned
    (``round(samples / r)`` samples), for listening.

    Args:
        sample_rate: Hz.
        keep_length: see above.
        **spec: ranges and ``p`` of :class:`~tunespace.augment.base.TimeStretchSpec`.
    """

    def __init__(self, sample_rate: int = 16000, keep_length: bool = True, **spec) -> None:
        super().__init__(**spec)
        self.sample_rate = int(sample_rate)
        self.keep_length = bool(keep_length)

    def apply(self, x: np.ndarray, params: Params) -> np.ndarray:
        """``x``: ``(samples,)`` or ``(B, samples)`` float32; params ``rate`` ``(B,)``."""
        rate = np.asarray(params["rate"], dtype=np.float64).reshape(-1)
        if not self.keep_length:
            x = np.asarray(x, dtype=np.float32)
            if x.ndim != 1:
                raise ValueError("keep_length=False needs a single (samples,) signal")
            if not bool(np.asarray(params["applied"]).reshape(-1)[0]):
                return x.copy()
            return self._stretch(x, float(rate[0]))

        def one(row: np.ndarray, i: int) -> np.ndarray:
            r = float(rate[i])
            y = self._stretch(row, r)
            c = (row.shape[0] - 1) / 2.0
            return place_centred(y, row.shape[0], int(round(c - c / r)))

        return map_rows(x, params, one)

    def _stretch(self, row: np.ndarray, rate: float) -> np.ndarray:
        return pedalboard.time_stretch(np.ascontiguousarray(row[None]), float(self.sample_rate),
                                       stretch_factor=rate)[0]

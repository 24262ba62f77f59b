"""Room reverb with pedalboard's ``Reverb`` (Freeverb)."""

from __future__ import annotations

import numpy as np
import pedalboard

from ..base import Params, ReverbSpec
from ._rows import map_rows


class Reverb(ReverbSpec):
    """Freeverb with ``room_size``, ``wet_level`` and dry level ``1 - wet_level`` per item.

    Args:
        sample_rate: Hz.
        **spec: ranges and ``p`` of ``ReverbSpec``.
    """

    def __init__(self, sample_rate: int = 16000, **spec) -> None:
        super().__init__(**spec)
        self.sample_rate = int(sample_rate)

    def apply(self, x: np.ndarray, params: Params) -> np.ndarray:
        """``x``: ``(samples,)`` or ``(B, samples)``; params ``room_size``, ``wet_level`` ``(B,)``."""
        room = np.asarray(params["room_size"], dtype=np.float64).reshape(-1)
        wet = np.asarray(params["wet_level"], dtype=np.float64).reshape(-1)

        def one(row: np.ndarray, i: int) -> np.ndarray:
            fx = pedalboard.Reverb(room_size=float(room[i]), wet_level=float(wet[i]),
                                   dry_level=float(1.0 - wet[i]))
            return fx(np.ascontiguousarray(row[None]), float(self.sample_rate))[0]

        return map_rows(x, params, one)

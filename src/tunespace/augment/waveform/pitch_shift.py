"""Pitch-shift with Rubber Band (``pedalboard.time_stretch`` with ``pitch_shift_in_semitones``)."""

from __future__ import annotations

import numpy as np
import pedalboard

from ..base import Params, PitchShiftSpec
from ._rows import map_rows, place_centred


class PitchShift(PitchShiftSpec):
    """Rubber Band pitch-shift by ``semitones`` (duration unchanged).

    The whole spectrum moves, formants included (``preserve_formants=False``): pedalboard's
    default formant preservation keeps the spectral envelope in place, which attenuates
    partials shifted out of it and is not what the spectral backend does either.

    Args:
        sample_rate: Hz.
        **spec: ranges, ``integer`` and ``p`` of :class:`~tunespace.augment.base.PitchShiftSpec`.
    """

    def __init__(self, sample_rate: int = 16000, **spec) -> None:
        super().__init__(**spec)
        self.sample_rate = int(sample_rate)

    def apply(self, x: np.ndarray, params: Params) -> np.ndarray:
        """``x``: ``(samples,)`` or ``(B, samples)`` float32; params ``semitones`` ``(B,)``."""
        semis = np.asarray(params["semitones"], dtype=np.float64).reshape(-1)

        def one(row: np.ndarray, i: int) -> np.ndarray:
            y = pedalboard.time_stretch(np.ascontiguousarray(row[None]), float(self.sample_rate),
                                        stretch_factor=1.0, pitch_shift_in_semitones=float(semis[i]),
                                        preserve_formants=False)[0]
            return place_centred(y, row.shape[0], 0)

        return map_rows(x, params, one)

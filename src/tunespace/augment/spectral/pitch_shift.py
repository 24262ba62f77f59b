"""Spectral pitch-shift: resample each item's linear-frequency axis (written here; no library does it).

For a shift of ``n`` semitones (factor ``s = 2 ** (n / 12)``) output bin ``k`` reads the
input at bin ``k / s`` with linear interpolation, so a partial at ``f`` Hz moves to ``s * f``;
bins that read above Nyquist are zero. Applied before the mel projection. Duration and
onsets are unchanged; a partial's peak keeps its height (its width scales by ``s``).
"""

from __future__ import annotations

import torch

from ...features.logmel import FrontEnd
from ..base import Params, PitchShiftSpec
from ._common import applied_mask, param, resample_axis


class PitchShift(PitchShiftSpec):
    """Per-item pitch-shift of ``(B, F, T)`` linear power spectrograms by ``semitones``.

    Args:
        frontend: front-end settings (unused beyond the interface; kept uniform).
        **spec: ranges, ``integer`` and ``p`` of :class:`~tunespace.augment.base.PitchShiftSpec`.
    """

    def __init__(self, frontend: FrontEnd | None = None, **spec) -> None:
        super().__init__(**spec)
        self.frontend = frontend or FrontEnd()

    def apply(self, x: torch.Tensor, params: Params) -> torch.Tensor:
        """``x``: ``(B, F, T)`` power; params ``semitones`` ``(B,)`` -> ``(B, F, T)``."""
        factor = torch.exp2(param(params, "semitones", x) / 12.0)
        k = torch.arange(x.shape[1], device=x.device, dtype=torch.float32)
        pos = k[None, :] / factor[:, None]
        return torch.where(applied_mask(params, x), resample_axis(x, pos, 1), x)

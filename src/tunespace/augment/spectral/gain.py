"""Spectral gain: multiply the power spectrogram by ``10 ** (gain_db * power / 20)``."""

from __future__ import annotations

import torch

from ...features.logmel import FrontEnd
from ..base import GainSpec, Params
from ._common import applied_mask, param


class Gain(GainSpec):
    """Per-item broadband gain of ``(B, F, T)`` spectrograms. Args: ``frontend``, ``**spec`` of ``GainSpec``."""

    def __init__(self, frontend: FrontEnd | None = None, **spec) -> None:
        super().__init__(**spec)
        self.frontend = frontend or FrontEnd()

    def apply(self, x: torch.Tensor, params: Params) -> torch.Tensor:
        """``x``: ``(B, F, T)``; params ``gain_db`` ``(B,)``."""
        factor = torch.pow(10.0, param(params, "gain_db", x) * (self.frontend.power / 20.0))
        return torch.where(applied_mask(params, x), x * factor[:, None, None], x)

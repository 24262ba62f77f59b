"""Spectral time-stretch: resample each item's frames along time (written here; no library does it).

Output frame ``t`` of an item with rate ``r`` is the input power spectrogram read at frame
``c + (t - c) * r`` (``c`` the centre frame), linearly interpolated between the two nearest
frames; outside the input it is zero. Stretching magnitudes does not move partials in
frequency, so the pitch is unchanged; onsets are smeared by at most one frame.
"""

from __future__ import annotations

import torch

from ...features.logmel import FrontEnd
from ..base import Params, TimeStretchSpec
from ._common import applied_mask, param, resample_axis


class TimeStretch(TimeStretchSpec):
    """Per-item time-stretch of ``(B, F, T)`` power spectrograms by ``rate`` (``r > 1`` faster).

    Args:
        frontend: front-end settings (unused beyond the interface; kept uniform).
        **spec: ranges and ``p`` of :class:`~tunespace.augment.base.TimeStretchSpec`.
    """

    def __init__(self, frontend: FrontEnd | None = None, **spec) -> None:
        super().__init__(**spec)
        self.frontend = frontend or FrontEnd()

    def apply(self, x: torch.Tensor, params: Params) -> torch.Tensor:
        """``x``: ``(B, F, T)`` power; params ``rate`` ``(B,)`` -> ``(B, F, T)``."""
        rate = param(params, "rate", x)
        t = torch.arange(x.shape[2], device=x.device, dtype=torch.float32)
        c = (x.shape[2] - 1) / 2.0
        pos = c + (t[None, :] - c) * rate[:, None]
        return torch.where(applied_mask(params, x), resample_axis(x, pos, 2), x)

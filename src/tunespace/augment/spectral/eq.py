"""Spectral EQ: multiply by the power response of random RBJ biquads (written here).

The gain curve over frequency is the exact squared magnitude response of the same peaking
and shelving sections the waveform backend filters with (``tunespace.augment.biquad``),
evaluated at each STFT bin frequency: a smooth curve of bumps and shelves in dB. Applying it
to the power spectrogram equals filtering when the filter response varies little within
a bin (true for the Q range drawn, 0.5-4).
"""

from __future__ import annotations

import numpy as np
import torch

from ...features.logmel import FrontEnd
from ..base import EqualiserSpec, Params
from ..biquad import high_shelf, low_shelf, peaking, power_response
from ._common import applied_mask


class Equaliser(EqualiserSpec):
    """Per-item random EQ of ``(B, F, T)`` power spectrograms.

    Args:
        frontend: front-end settings (sample rate, n_fft, power).
        **spec: ranges and ``p`` of :class:`~tunespace.augment.base.EqualiserSpec`.
    """

    def __init__(self, frontend: FrontEnd | None = None, **spec) -> None:
        super().__init__(**spec)
        self.frontend = frontend or FrontEnd()
        self.check_sample_rate(self.frontend.sample_rate)

    def gain_curve(self, params: Params, n_freqs: int, device: torch.device | str = "cpu") -> torch.Tensor:
        """Power gain of each item at each bin, ``(B, n_freqs)`` (linear power ratio, before ``power``)."""
        sr = float(self.frontend.sample_rate)
        p = {k: np.asarray(v.cpu() if isinstance(v, torch.Tensor) else v, dtype=np.float64)
             for k, v in params.items() if k != "applied"}
        n = p["low_shelf_freq_hz"].shape[0]
        sos = np.concatenate([
            peaking(p["peak_freq_hz"], p["peak_gain_db"], p["peak_q"], sr).reshape(n, -1, 6),
            low_shelf(p["low_shelf_freq_hz"], p["low_shelf_gain_db"], self.SHELF_Q, sr)[:, None],
            high_shelf(p["high_shelf_freq_hz"], p["high_shelf_gain_db"], self.SHELF_Q, sr)[:, None],
        ], axis=1)
        freqs = torch.arange(n_freqs, dtype=torch.float64) * (sr / self.frontend.n_fft)
        return power_response(torch.from_numpy(sos), freqs, sr).to(device=device, dtype=torch.float32)

    def apply(self, x: torch.Tensor, params: Params) -> torch.Tensor:
        """``x``: ``(B, F, T)`` power (``|X| ** power``) -> ``(B, F, T)``."""
        curve = self.gain_curve(params, x.shape[1], x.device)
        if self.frontend.power != 2.0:
            curve = curve.pow(self.frontend.power / 2.0)
        return torch.where(applied_mask(params, x), x * curve[:, :, None], x)

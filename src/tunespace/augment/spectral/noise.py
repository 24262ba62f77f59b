"""Spectral additive noise: add white-noise power at a given SNR (written here).

White Gaussian noise of variance ``s2`` has, per STFT bin, power exponentially distributed
with mean ``s2 * sum(window ** 2)``; the signal variance is estimated from the spectrogram
by Parseval (two-sided sum over bins / (n_fft * sum(window ** 2)), averaged over frames).
Adding power is right in expectation (signal and noise are uncorrelated). Needs ``power == 2``.
"""

from __future__ import annotations

import numpy as np
import torch

from ...errors import ConfigError
from ...features.logmel import FrontEnd
from ..base import NoiseSpec, Params
from ._common import applied_mask, param


class Noise(NoiseSpec):
    """Per-item white noise at ``snr_db`` on ``(B, F, T)`` power spectrograms, seeded by ``noise_seed``.

    Args:
        frontend: front-end settings (n_fft, win_length; ``power`` must be 2).
        **spec: ranges and ``p`` of ``NoiseSpec``.
    """

    def __init__(self, frontend: FrontEnd | None = None, **spec) -> None:
        super().__init__(**spec)
        self.frontend = frontend or FrontEnd()
        if self.frontend.power != 2.0:
            raise ConfigError("augment.noise: the spectral backend needs frontend.power = 2")
        self._win_energy = float(torch.hann_window(self.frontend.win_length, periodic=True).square().sum())

    def apply(self, x: torch.Tensor, params: Params) -> torch.Tensor:
        """``x``: ``(B, F, T)`` power; params ``snr_db``, ``noise_seed`` ``(B,)``."""
        weights = torch.full((x.shape[1],), 2.0, device=x.device)
        weights[0] = 1.0
        if self.frontend.n_fft % 2 == 0:
            weights[-1] = 1.0
        signal_var = (x * weights[None, :, None]).sum(1).mean(1) / (self.frontend.n_fft * self._win_energy)
        noise_var = signal_var / torch.pow(10.0, param(params, "snr_db", x) / 10.0)
        seeds = np.asarray(params["noise_seed"].cpu() if isinstance(params["noise_seed"], torch.Tensor)
                           else params["noise_seed"], dtype=np.int64).reshape(-1)
        unit = torch.empty_like(x)
        for i, seed in enumerate(seeds):
            g = torch.Generator(device=x.device).manual_seed(int(seed))
            unit[i].exponential_(1.0, generator=g)
        noise = unit * (noise_var * self._win_energy)[:, None, None]
        return torch.where(applied_mask(params, x), x + noise, x)

"""Log-mel front end of the base model (MULE, McCallum et al. 2022).

16 kHz audio; STFT with ``n_fft`` 2048, a 400-sample (25 ms) periodic Hann window zero-padded
to ``n_fft`` and centred (as ``torch.stft`` with ``win_length`` and ``librosa.stft`` do), hop
160 samples (10 ms); power 2; 96 HTK mel bands from 0 to 8000 Hz; compression
``log10(1 + 10000 * x)``.

The STFT runs in torch on the input's device (``torch.stft``); the mel filter bank is
``librosa.filters.mel(htk=True, norm=...)``. The filter-bank normalisation and the padding
mode of the released MULE front end are not documented in the paper; we use librosa's
defaults (``norm="slaney"``, ``pad_mode="constant"``), both configurable in :class:`FrontEnd`.

The steps are public and separate (:meth:`LogMel.power`, :meth:`LogMel.mel`,
:meth:`LogMel.compress`) because the ``spectral`` augmentation backend acts on the linear
power spectrogram between them.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

from ..errors import ConfigError


@dataclass(frozen=True)
class FrontEnd:
    """Settings of the log-mel front end.

    Attributes:
        sample_rate: input sample rate, Hz.
        n_fft: FFT size, samples; the spectrogram has ``n_fft // 2 + 1`` bins.
        win_length: Hann window length, samples (zero-padded to ``n_fft``, centred).
        hop_length: hop between frames, samples.
        n_mels: number of mel bands.
        f_min: lowest mel band edge, Hz.
        f_max: highest mel band edge, Hz.
        power: exponent of the magnitude (2 = power spectrogram).
        htk: HTK mel scale (True) or Slaney's (False).
        mel_norm: filter normalisation passed to ``librosa.filters.mel`` ("slaney" or None).
        log_scale: ``c`` in the compression ``log10(1 + c * x)``, dimensionless.
        center: pad the signal so that frame ``t`` is centred at sample ``t * hop_length``.
        pad_mode: padding mode when centring ("constant" or "reflect").
    """

    sample_rate: int = 16000
    n_fft: int = 2048
    win_length: int = 400
    hop_length: int = 160
    n_mels: int = 96
    f_min: float = 0.0
    f_max: float = 8000.0
    power: float = 2.0
    htk: bool = True
    mel_norm: str | None = "slaney"
    log_scale: float = 10000.0
    center: bool = True
    pad_mode: str = "constant"

    def __post_init__(self) -> None:
        for name in ("sample_rate", "n_fft", "win_length", "hop_length", "n_mels"):
            if int(getattr(self, name)) <= 0:
                raise ConfigError(f"frontend.{name}: must be a positive integer")
        if self.win_length > self.n_fft:
            raise ConfigError("frontend.win_length: must not exceed n_fft")
        if not 0 <= self.f_min < self.f_max <= self.sample_rate / 2:
            raise ConfigError("frontend.f_min/f_max: need 0 <= f_min < f_max <= sample_rate / 2")
        if self.power <= 0:
            raise ConfigError("frontend.power: must be positive")
        if self.log_scale <= 0:
            raise ConfigError("frontend.log_scale: must be positive")
        if self.mel_norm not in ("slaney", None):
            raise ConfigError(f"frontend.mel_norm: {self.mel_norm!r} is not 'slaney' or None")
        if self.pad_mode not in ("constant", "reflect"):
            raise ConfigError(f"frontend.pad_mode: {self.pad_mode!r} is not 'constant' or 'reflect'")

    @property
    def n_freqs(self) -> int:
        """Number of linear-frequency bins, ``n_fft // 2 + 1``."""
        return self.n_fft // 2 + 1

    @classmethod
    def from_dict(cls, cfg: dict[str, Any] | None) -> FrontEnd:
        """Build from a (partial) dict of field values; unknown keys raise ConfigError."""
        cfg = dict(cfg or {})
        known = {f.name for f in dataclasses.fields(cls)}
        for key in cfg:
            if key not in known:
                raise ConfigError(f"frontend.{key}: unknown setting (known: {', '.join(sorted(known))})")
        return cls(**cfg)


class LogMel(torch.nn.Module):
    """Waveform ``(B, samples)`` -> log-mel ``(B, n_mels, T)``, in separate public steps.

    Args:
        config: a :class:`FrontEnd` (default: the base model's settings).
    """

    def __init__(self, config: FrontEnd | None = None) -> None:
        super().__init__()
        import librosa  # deferred: importing librosa is slow and only the filter bank needs it

        self.config = config or FrontEnd()
        c = self.config
        self.register_buffer("window", torch.hann_window(c.win_length, periodic=True), persistent=False)
        fb = librosa.filters.mel(
            sr=c.sample_rate,
            n_fft=c.n_fft,
            n_mels=c.n_mels,
            fmin=c.f_min,
            fmax=c.f_max,
            htk=c.htk,
            norm=c.mel_norm,
            dtype=np.float32,
        )
        self.register_buffer("filterbank", torch.from_numpy(fb), persistent=False)

    def power(self, wave: torch.Tensor) -> torch.Tensor:
        """Linear power spectrogram ``|STFT|**power``.

        Args:
            wave: ``(B, samples)`` or ``(samples,)`` float audio at ``sample_rate`` Hz.
        Returns:
            ``(B, n_fft // 2 + 1, T)`` with ``T = frames(samples)``, on ``wave``'s device.
        """
        c = self.config
        squeeze = wave.dim() == 1
        if squeeze:
            wave = wave.unsqueeze(0)
        spec = torch.stft(
            wave.float(),
            n_fft=c.n_fft,
            hop_length=c.hop_length,
            win_length=c.win_length,
            window=self.window,
            center=c.center,
            pad_mode=c.pad_mode,
            return_complex=True,
        )
        if c.power == 2.0:
            out = spec.real.square() + spec.imag.square()
        else:
            out = spec.abs().pow(c.power)
        return out[0] if squeeze else out

    def mel(self, power: torch.Tensor) -> torch.Tensor:
        """Project ``(B, F, T)`` linear power onto the mel filter bank -> ``(B, n_mels, T)``."""
        return torch.matmul(self.filterbank, power)

    def compress(self, mel: torch.Tensor) -> torch.Tensor:
        """``log10(1 + log_scale * mel)``, elementwise, any shape."""
        return torch.log10(1.0 + self.config.log_scale * mel)

    def forward(self, wave: torch.Tensor) -> torch.Tensor:
        """``compress(mel(power(wave)))``: ``(B, samples)`` -> ``(B, n_mels, T)``."""
        return self.compress(self.mel(self.power(wave)))

    def frames(self, n_samples: int) -> int:
        """Number of STFT frames for a signal of ``n_samples`` samples."""
        c = self.config
        if c.center:
            return 1 + n_samples // c.hop_length
        return max(0, 1 + (n_samples - c.n_fft) // c.hop_length)

    def samples_for_frames(self, n_frames: int) -> int:
        """Fewest samples that give ``n_frames`` frames (inverse of :meth:`frames`)."""
        c = self.config
        if c.center:
            return (n_frames - 1) * c.hop_length
        return (n_frames - 1) * c.hop_length + c.n_fft

    def bin_frequencies(self) -> torch.Tensor:
        """Centre frequency of each linear STFT bin, Hz, ``(n_fft // 2 + 1,)``."""
        c = self.config
        return torch.arange(c.n_freqs, dtype=torch.float32) * (c.sample_rate / c.n_fft)


def standardise(x: torch.Tensor, eps: float = 1e-5) -> torch.Tensor:
    """Standardise each item: zero mean, unit standard deviation over all its other axes.

    The base model standardises each input slice (all mel bins and frames of it) this way.

    Args:
        x: ``(B, ...)``, e.g. ``(B, n_mels, T)`` or ``(B, 1, n_mels, T)``.
        eps: added to the (population) standard deviation, same unit as ``x``.
    Returns:
        tensor of ``x``'s shape.
    """
    dims = tuple(range(1, x.dim()))
    mean = x.mean(dim=dims, keepdim=True)
    std = x.std(dim=dims, keepdim=True, unbiased=False)
    return (x - mean) / (std + eps)

"""``small``: the default encoder, a dilated 1-D convolutional network over time that treats
the mel bands as input channels (trainable on a 2-core CPU in minutes, ~1 M parameters).

Why this shape:

* **Pitch is kept exactly.** There is no pooling or striding over frequency at all: the
  stem convolution sees all ``n_mels`` bands of each frame as channels, so every later
  feature can depend on the exact mel bin of a partial (key / pitch-class content).
* **Tempo is reachable.** After the stem (a stride-2 convolution, then max-pooling by 2,
  which keeps onset peaks) the frame rate is 40 ms; residual blocks with dilations 1, 2, 4,
  ..., 2**(depth-1) (default depth 6: lags of 40 ms to 1.28 s, receptive field ~5 s > the 3 s
  excerpt) compare a frame with frames one beat period away, so periodicity of onsets (60-180 BPM: 8-25 frames) can be
  detected by a single depthwise tap pattern; time statistics pooling (mean and standard
  deviation over time) keeps how strongly and how regularly features fire.
* **Timbre** is the spectral envelope, directly visible to the stem.
* **Key and metre, optionally.** ``pitch_classes`` adds a key path over the front end's
  pitch-class bands (``frontend.chroma_bins``) and ``rhythm_metre`` a tempo-invariant metre
  pattern to the rhythm path; both are off by default (design runs E4-E7 in docs/study.md:
  neither made the contrastive embeddings keyed or better at genre).
* **Normalisation: GroupNorm**, computed per example over (channel group, time), never
  across the batch, so no batch statistics leak between the two views of a positive pair
  (the BatchNorm "cheating" issue of contrastive learning; SimCLR needed global BN).

Block (pre-activation residual, depthwise-separable):
``x + pw2(gelu(gn(pw1(dw_dilated(gelu(gn(x)))))))`` with ``pw1``/``pw2`` 1x1 convolutions
(width -> width * expansion -> width).

Written by hand (no library offers this layout); built from standard torch layers.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

from ..errors import ConfigError
from .base import Encoder
from .registry import register_encoder


def _groups(width: int, norm_groups: int) -> int:
    """Largest divisor of ``width`` not above ``norm_groups``."""
    g = max(1, min(norm_groups, width))
    while width % g:
        g -= 1
    return g


class _DilatedDepthwise(nn.Module):
    """Depthwise dilated temporal convolution as a sum of shifted, per-channel scaled copies.

    Mathematically ``nn.Conv1d(width, width, kernel_size, dilation=d, groups=width,
    padding=d * (kernel_size - 1) // 2)``, written by hand because PyTorch's CPU depthwise
    convolution is about 30x slower than these few element-wise operations for our sizes.
    """

    def __init__(self, width: int, kernel_size: int, dilation: int) -> None:
        super().__init__()
        self.dilation = int(dilation)
        self.kernel_size = int(kernel_size)
        bound = 1.0 / kernel_size**0.5  # PyTorch's default conv init (fan_in = kernel_size)
        self.weight = nn.Parameter(torch.empty(kernel_size, width, 1).uniform_(-bound, bound))
        self.bias = nn.Parameter(torch.empty(width, 1).uniform_(-bound, bound))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """``(B, width, T) -> (B, width, T)``, zero padding at both ends."""
        n = x.shape[-1]
        pad = self.dilation * (self.kernel_size // 2)
        xp = F.pad(x, (pad, pad))
        out = self.bias.expand_as(x)
        for k in range(self.kernel_size):
            start = k * self.dilation
            out = out + self.weight[k] * xp[..., start : start + n]
        return out


class _DilatedBlock(nn.Module):
    """Pre-activation residual block over time: depthwise dilated conv + pointwise MLP."""

    def __init__(self, width: int, dilation: int, kernel_size: int, expansion: int, norm_groups: int) -> None:
        super().__init__()
        hidden = width * expansion
        self.norm1 = nn.GroupNorm(_groups(width, norm_groups), width)
        self.dw = _DilatedDepthwise(width, kernel_size, dilation)
        self.pw1 = nn.Conv1d(width, hidden, 1)
        self.norm2 = nn.GroupNorm(_groups(hidden, norm_groups), hidden)
        self.pw2 = nn.Conv1d(hidden, width, 1)
        self.act = nn.GELU()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """``(B, width, T) -> (B, width, T)``."""
        h = self.dw(self.act(self.norm1(x)))
        h = self.pw2(self.act(self.norm2(self.pw1(h))))
        return x + h


#: Ratios of the beat period at which the rhythm path's metre pattern reads the autocorrelation.
METRE_RATIOS = (0.25, 1 / 3, 0.5, 2 / 3, 0.75, 1.5, 2.0, 3.0)


class _RhythmBranch(nn.Module):
    """The fast path: learned onset envelopes at the full 10 ms frame rate and their
    autocorrelation over beat-period lags (a learned tempogram).

    ``x (B, n_mels, T)`` -> ``relu(conv(diff_t x))`` gives ``channels`` onset envelopes;
    each is centred over time and autocorrelated (FFT, zero-padded: no circular wrap) for lags
    ``min_lag..max_lag`` frames, normalised by its lag-0 energy, then projected to ``out_dim``.
    At a 10 ms hop the default lags 20-160 cover beat periods 0.2-1.6 s (37-300 BPM) with
    a resolution of one frame (under 4 % of the period above 25 frames, i.e. below 240 BPM).

    With ``metre`` the projection also reads a tempo-invariant rhythm pattern: for each onset
    envelope the beat period ``p`` (the lag of the largest autocorrelation in ``min_lag ..
    max_lag``, not differentiated) and the autocorrelation at the lags ``p * r`` for the ratios
    :data:`METRE_RATIOS` (linear interpolation; zero beyond the excerpt). A change of tempo
    scales ``p`` and leaves these values alone: duple against triple metre, a jig's triplets, a
    strathspey's snap, without the tempo.

    Written by hand: a fixed autocorrelation on learned onset functions (no library layer).
    """

    def __init__(
        self,
        n_mels: int,
        channels: int,
        out_dim: int,
        min_lag: int = 20,
        max_lag: int = 160,
        hop: int = 1,
        metre: bool = False,
    ) -> None:
        super().__init__()
        self.onset = nn.Conv1d(n_mels, channels, 3, padding=1)
        self.hop = int(hop)
        self.min_lag, self.max_lag = int(min_lag) // self.hop, int(max_lag) // self.hop
        self.metre = bool(metre)
        n_in = self.max_lag - self.min_lag + (len(METRE_RATIOS) if self.metre else 0)
        self.proj = nn.Linear(channels * n_in, out_dim)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """``(B, n_mels, T) -> (B, out_dim)``; lags beyond ``T - 1`` read as zero."""
        ac = self.autocorrelation(x, all_lags=self.metre)
        parts = [ac[..., self.min_lag : self.max_lag]]
        if self.metre:
            parts.append(self.metre_pattern(ac))
        return self.proj(torch.cat(parts, dim=-1).flatten(1))

    def metre_pattern(self, ac: torch.Tensor) -> torch.Tensor:
        """``(B, channels, L >= max_lag)`` autocorrelation -> ``(B, channels, len(METRE_RATIOS))``:
        its values at ``p * r`` (``p``: the beat period, the arg-max over ``min_lag .. max_lag``)."""
        period = ac[..., self.min_lag : self.max_lag].detach().argmax(dim=-1, keepdim=True) + self.min_lag
        ratios = torch.tensor(METRE_RATIOS, dtype=ac.dtype, device=ac.device)
        lags = period.to(ac.dtype) * ratios  # (B, C, R)
        lo = lags.floor().long()
        frac = lags - lo
        last = ac.shape[-1] - 1
        inside = (lo + 1 <= last).to(ac.dtype)
        lo = lo.clamp(max=max(last - 1, 0))
        values = ac.gather(-1, lo) * (1 - frac) + ac.gather(-1, (lo + 1).clamp(max=last)) * frac
        return values * inside

    def autocorrelation(self, x: torch.Tensor, all_lags: bool = False) -> torch.Tensor:
        """``(B, n_mels, T) -> (B, channels, max_lag)``: normalised autocorrelation of the onset
        envelopes at lags ``0 .. max_lag - 1`` (in units of ``hop`` frames); with ``all_lags``,
        ``(B, channels, max(max_lag, n))`` up to the envelopes' length ``n``."""
        o = F.relu(self.onset(x[..., 1:] - x[..., :-1]))
        if self.hop > 1:
            o = F.avg_pool1d(o, self.hop, ceil_mode=True)
        o = o - o.mean(dim=-1, keepdim=True)
        n = o.shape[-1]
        spec = torch.fft.rfft(o.float(), n=2 * n)
        ac = torch.fft.irfft(spec.real**2 + spec.imag**2, n=2 * n)[
            ..., : max(self.max_lag, n) if all_lags else self.max_lag
        ]
        if ac.shape[-1] < self.max_lag:
            ac = F.pad(ac, (0, self.max_lag - ac.shape[-1]))
        return ac / (ac[..., :1] + 1e-6)


class _PitchClassBranch(nn.Module):
    """The key path: the excerpt's pitch-class profile and its transposition-invariant part.

    Reads the last ``bins`` input rows, the front end's pitch-class bands
    (``frontend.chroma_bins``; log-compressed and standardised like the mel bands). Each frame is
    normalised to its strongest pitch class, ``exp(s * (x - max_c x))`` with a learned sharpness
    ``s`` (initially 5), which undoes the log compression so that each frame counts by its
    dominant pitch classes and not by its loudness (as chroma features normalise each frame to
    its maximum); the frames are averaged and centred across pitch classes (a key profile,
    ``(B, bins)``), and the magnitudes of the profile's discrete Fourier transform over pitch
    class, coefficients ``1 .. bins // 2``, are appended (unchanged when the profile is rotated,
    i.e. the music transposed: interval content such as major against minor); a linear map
    gives ``out_dim`` features. The slow path's mean/std pooling over learned features does not
    fold octaves, and without such a path the demo's ``none`` models kept hardly any key
    (docs/study.md).

    Written by hand: a fixed summary (frame normalisation, time mean, DFT magnitudes) followed
    by ``nn.Linear``.
    """

    def __init__(self, bins: int, out_dim: int, sharpness: float = 5.0) -> None:
        super().__init__()
        self.bins = int(bins)
        self.log_sharpness = nn.Parameter(torch.tensor(math.log(sharpness)))
        self.proj = nn.Linear(self.bins + self.bins // 2, out_dim)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """``(B, n_bands, T) -> (B, out_dim)``; the last ``bins`` rows are read."""
        return self.proj(self.features(x))

    def features(self, x: torch.Tensor) -> torch.Tensor:
        """``(B, n_bands, T) -> (B, bins + bins // 2)``: centred profile, then DFT magnitudes."""
        c = x[:, -self.bins :, :].float()
        c = torch.exp(self.log_sharpness.exp() * (c - c.max(dim=1, keepdim=True).values))
        p = c.mean(dim=-1)
        p = p - p.mean(dim=-1, keepdim=True)
        mags = torch.fft.rfft(p, dim=-1).abs()[:, 1 : self.bins // 2 + 1]
        return torch.cat([p, mags], dim=1)


@register_encoder("small")
class SmallEncoder(Encoder):
    """Small pitch-preserving encoder: 1-D dilated convolutions over time, mel bins as channels.

    Args:
        n_mels: number of mel bands of the input (default 96).
        width: channels of the time-domain residual stream (default 192).
        depth: number of dilated residual blocks; block i has dilation 2**i (default 6).
        embedding_dim: output size D (default 256).
        kernel_size: temporal kernel size (odd) of the stem and the dilated convs, in frames
            (default 3).
        expansion: hidden-width multiplier of each block's pointwise MLP (default 2).
        norm_groups: GroupNorm groups (default 8; per-example normalisation, no batch stats).
        rhythm_channels: onset envelopes of the fast rhythm path (default 1; 0 = no rhythm
            path). The slow path (dilated convolutions at 40 ms, mean/std pooled) sees pitch
            and timbre but resolves beat periods only coarsely; the fast path keeps the 10 ms
            frame rate and autocorrelates learned onset envelopes, as MULE's fast path keeps
            high time resolution for rhythm.
        rhythm_hop: frames averaged before the autocorrelation (default 1: 10 ms lag
            resolution; 4: 40 ms, a coarser tempo cue).
        rhythm_dim: size of the rhythm path's output (default 16; None: ``width``). It sets how
            much of the embedding the tempo cue can take: projected to ``width`` it dominated
            the demo study's ``none`` embeddings (tempo locality 0.5, key ~0); at 8 its use
            varied from seed to seed; 16 gave both cues consistently (see docs/study.md).
        pitch_classes: how many of the last input rows are pitch-class bands (set it to the
            front end's ``chroma_bins``; default 0: no key path). They feed the key path (time
            mean profile and its transposition-invariant DFT magnitudes) and, like every row,
            the stem.
        pitch_dim: size of the key path's output (default 16, as the rhythm path's).
        rhythm_metre: give the rhythm path a tempo-invariant metre pattern too (the
            autocorrelation at fixed ratios of the beat period; default False). See
            ``_RhythmBranch``.

    Input ``(B, 1, n_mels, T)`` at a 10 ms hop, ``T >= 8`` frames; output ``(B, embedding_dim)``.
    Default: 1,061,169 parameters (~1.06 M; 1,054,528 without the rhythm path).
    """

    name = "small"

    def __init__(
        self,
        n_mels: int = 96,
        width: int = 192,
        depth: int = 6,
        embedding_dim: int = 256,
        kernel_size: int = 3,
        expansion: int = 2,
        norm_groups: int = 8,
        rhythm_channels: int = 1,
        rhythm_hop: int = 1,
        rhythm_dim: int | None = 16,
        pitch_classes: int = 0,
        pitch_dim: int = 16,
        rhythm_metre: bool = False,
    ) -> None:
        for key, value, low in (
            ("width", width, 1),
            ("depth", depth, 0),
            ("embedding_dim", embedding_dim, 1),
            ("kernel_size", kernel_size, 1),
            ("expansion", expansion, 1),
            ("norm_groups", norm_groups, 1),
            ("rhythm_channels", rhythm_channels, 0),
            ("pitch_classes", pitch_classes, 0),
            ("pitch_dim", pitch_dim, 1),
        ):
            if int(value) < low:
                raise ConfigError(f"encoder 'small': {key} must be >= {low}, got {value}")
        if kernel_size % 2 == 0:
            raise ConfigError(f"encoder 'small': kernel_size must be odd, got {kernel_size}")
        if pitch_classes >= n_mels:
            raise ConfigError(
                f"encoder 'small': pitch_classes ({pitch_classes}) must be below the input height n_mels ({n_mels}); "
                "set frontend.chroma_bins to the same number"
            )
        super().__init__(n_mels=n_mels, embedding_dim=embedding_dim, min_frames=8)
        pad = kernel_size // 2
        g = _groups(width, norm_groups)
        # 10 ms -> 20 ms -> 40 ms frames; frequency is never pooled.
        self.stem = nn.Sequential(
            nn.Conv1d(n_mels, width, kernel_size, stride=2, padding=pad),
            nn.GroupNorm(g, width),
            nn.GELU(),
            nn.MaxPool1d(2, ceil_mode=True),  # keeps onset peaks
        )
        self.blocks = nn.Sequential(
            *[_DilatedBlock(width, 2**i, kernel_size, expansion, norm_groups) for i in range(depth)]
        )
        self.final_norm = nn.GroupNorm(g, width)
        self.act = nn.GELU()
        rdim = width if rhythm_dim is None else int(rhythm_dim)
        self.rhythm = (
            _RhythmBranch(n_mels, rhythm_channels, rdim, hop=rhythm_hop, metre=rhythm_metre)
            if rhythm_channels > 0
            else None
        )
        self.pitch = _PitchClassBranch(pitch_classes, pitch_dim) if pitch_classes > 0 else None
        extra = (rdim if self.rhythm is not None else 0) + (pitch_dim if self.pitch is not None else 0)
        self.head = nn.Linear(2 * width + extra, embedding_dim)

    def encode(self, x: torch.Tensor) -> torch.Tensor:
        """``(B, 1, n_mels, T) -> (B, embedding_dim)``: mean and std over time, then linear."""
        h = self.blocks(self.stem(x[:, 0]))
        h = self.act(self.final_norm(h))
        parts = [h.mean(dim=-1), h.std(dim=-1, unbiased=False)]
        if self.rhythm is not None:
            parts.append(self.rhythm(x[:, 0]))
        if self.pitch is not None:
            parts.append(self.pitch(x[:, 0]))
        return self.head(torch.cat(parts, dim=1))

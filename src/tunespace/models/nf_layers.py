"""Normaliser-free network layers (NFNet, Brock et al. 2021) for the ``sfnfnet_f0`` encoder.

* :class:`WSConv2d`: scaled weight-standardised convolution with a learnable per-channel
  gain (init 1): ``W_hat = gain * (W - mean(W)) / sqrt(max(var(W) * fan_in, eps))``,
  mean/var over each output channel's fan-in, ``eps = 1e-4`` (DeepMind's ``WSConv2D``).
* :class:`ScaledGELU`: ``gamma * gelu(x)``, ``gamma = 1.7015043497085571`` so that a unit
  Gaussian input keeps unit variance.
* :class:`SqueezeExcite`: global mean -> linear -> ReLU -> linear -> sigmoid gate.
* :class:`StochasticDepth`: drops the residual branch per example with probability
  ``rate`` in training (kept branches scaled by ``1 / (1 - rate)``).
* :class:`NFBlock`: the NFNet-F bottleneck block (two grouped convs, SE, skip-init gain).

Written by hand after DeepMind's NFNet / slowfast_nfnets code (Apache-2.0, JAX): neither
timm nor torchvision is a dependency here and their blocks assume image layouts.
Tensor layout throughout: ``(B, C, F, T)`` (channels, mel frequency, time frames).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

GELU_GAMMA = 1.7015043497085571
"""Scale of GELU that keeps unit variance for a unit Gaussian input (NFNet)."""


class WSConv2d(nn.Conv2d):
    """Weight-standardised 2-D convolution with learnable gain (NFNet ``WSConv2D``).

    Same arguments as :class:`torch.nn.Conv2d`, plus ``eps`` (floor of ``var * fan_in``).
    Padding defaults to ``kernel // 2`` per axis ("SAME" output size ``ceil(n / stride)``
    for odd kernels). Parameters: weight, bias, gain ``(out_channels,)``.
    """

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        kernel_size: int | tuple[int, int] = 1,
        stride: int | tuple[int, int] = 1,
        groups: int = 1,
        bias: bool = True,
        eps: float = 1e-4,
    ) -> None:
        ks = (kernel_size, kernel_size) if isinstance(kernel_size, int) else tuple(kernel_size)
        super().__init__(
            in_channels,
            out_channels,
            ks,
            stride=stride,
            padding=(ks[0] // 2, ks[1] // 2),
            groups=groups,
            bias=bias,
        )
        self.gain = nn.Parameter(torch.ones(out_channels))
        self.eps = float(eps)
        nn.init.kaiming_normal_(self.weight, mode="fan_in", nonlinearity="linear")
        if self.bias is not None:
            nn.init.zeros_(self.bias)

    def standardized_weight(self) -> torch.Tensor:
        """The standardised, gained kernel ``(out, in / groups, kF, kT)``."""
        w = self.weight
        fan_in = w[0].numel()
        mean = w.mean(dim=(1, 2, 3), keepdim=True)
        var = w.var(dim=(1, 2, 3), keepdim=True, unbiased=False)
        scale = torch.rsqrt(torch.clamp(var * fan_in, min=self.eps))
        return (w - mean) * scale * self.gain.view(-1, 1, 1, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """``(B, in, F, T) -> (B, out, F', T')``."""
        return F.conv2d(x, self.standardized_weight(), self.bias, self.stride, self.padding, 1, self.groups)


class ScaledGELU(nn.Module):
    """``GELU_GAMMA * gelu(x)`` (exact erf GELU), element-wise, any shape."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.gelu(x) * GELU_GAMMA


class SqueezeExcite(nn.Module):
    """Squeeze-excite gate: ``sigmoid(fc1(relu(fc0(mean_FT(x)))))`` of shape ``(B, C, 1, 1)``.

    Args:
        channels: C, input and output channels.
        se_ratio: hidden width as a fraction of ``channels`` (NFNet: 0.5).
    """

    def __init__(self, channels: int, se_ratio: float = 0.5) -> None:
        super().__init__()
        hidden = max(1, int(channels * se_ratio))
        self.fc0 = nn.Linear(channels, hidden)
        self.fc1 = nn.Linear(hidden, channels)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """``(B, C, F, T) -> (B, C, 1, 1)`` gate in (0, 1)."""
        h = torch.relu(self.fc0(x.mean(dim=(2, 3))))
        return torch.sigmoid(self.fc1(h))[:, :, None, None]


class StochasticDepth(nn.Module):
    """Per-example residual-branch dropout (training only); identity in eval mode.

    Args:
        rate: drop probability in [0, 1).
    """

    def __init__(self, rate: float) -> None:
        super().__init__()
        self.rate = float(rate)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if not self.training or self.rate <= 0.0:
            return x
        keep = 1.0 - self.rate
        mask = torch.empty((x.shape[0],) + (1,) * (x.ndim - 1), device=x.device, dtype=x.dtype)
        mask.bernoulli_(keep)
        return x * mask / keep


class NFBlock(nn.Module):
    """NFNet-F bottleneck residual block (DeepMind ``NFBlock`` with ``use_two_convs``).

    ``out = act(x) * beta``; shortcut = ``x``, or (on stride or channel change)
    ``conv1x1(avgpool_stride(out))``; residual = ``conv1x1 -> act -> grouped conv (1 x 3 in
    time, strided) -> act -> grouped conv (3 x 1 in frequency) -> act -> conv1x1 -> 2 * SE``;
    returns ``shortcut + alpha * skip_gain * stochdepth(residual)`` with ``skip_gain`` a
    learnable scalar initialised to 0 (SkipInit).

    Args:
        in_ch, out_ch: channels in and out.
        stride: (frequency, time) stride of the first grouped conv and the shortcut pool.
        beta: input scale ``1 / expected_std`` of the incoming residual stream.
        alpha: residual branch scale (NFNet: 0.2).
        expansion: bottleneck ratio, ``width = out_ch * expansion`` rounded down to a
            multiple of ``group_size`` (NFNet "big width": 0.5).
        group_size: channels per group of the grouped convs (NFNet: 128).
        se_ratio: squeeze-excite hidden ratio (NFNet: 0.5).
        stochdepth_rate: drop probability of the residual branch.
    """

    def __init__(
        self,
        in_ch: int,
        out_ch: int,
        stride: tuple[int, int] = (1, 1),
        beta: float = 1.0,
        alpha: float = 0.2,
        expansion: float = 0.5,
        group_size: int = 128,
        se_ratio: float = 0.5,
        stochdepth_rate: float = 0.0,
    ) -> None:
        super().__init__()
        groups = max(1, int(out_ch * expansion) // group_size)
        width = group_size * groups
        self.beta, self.alpha = float(beta), float(alpha)
        self.stride = tuple(stride)
        self.act = ScaledGELU()
        self.conv0 = WSConv2d(in_ch, width, 1)
        self.conv1 = WSConv2d(width, width, (1, 3), stride=self.stride, groups=groups)
        self.conv1b = WSConv2d(width, width, (3, 1), groups=groups)
        self.conv2 = WSConv2d(width, out_ch, 1)
        self.use_projection = self.stride != (1, 1) or in_ch != out_ch
        self.conv_shortcut = WSConv2d(in_ch, out_ch, 1) if self.use_projection else None
        self.se = SqueezeExcite(out_ch, se_ratio)
        self.stoch_depth = StochasticDepth(stochdepth_rate)
        self.skip_gain = nn.Parameter(torch.zeros(()))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """``(B, in_ch, F, T) -> (B, out_ch, ceil(F / sF), ceil(T / sT))``."""
        out = self.act(x) * self.beta
        if self.stride != (1, 1):
            shortcut = F.avg_pool2d(out, self.stride, self.stride, ceil_mode=True)
            shortcut = self.conv_shortcut(shortcut)
        elif self.conv_shortcut is not None:
            shortcut = self.conv_shortcut(out)
        else:
            shortcut = x
        out = self.conv0(out)
        out = self.conv1(self.act(out))
        out = self.conv1b(self.act(out))
        out = self.conv2(self.act(out))
        out = 2.0 * self.se(out) * out
        out = self.stoch_depth(out)
        return shortcut + out * (self.skip_gain * self.alpha)

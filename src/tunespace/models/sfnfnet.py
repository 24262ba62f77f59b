"""``sfnfnet_f0``: PyTorch port of SF-NFNet-F0, the slow-fast normaliser-free encoder of MULE.

References: MULE (McCallum et al., ISMIR 2022, arXiv 2210.03799) uses the Slow-Fast NFNet-F0
of Wang et al., "Towards learning universal audio representations" (ICASSP 2022,
arXiv 2111.12124), whose JAX code is DeepMind's ``slowfast_nfnets`` (Apache-2.0); NFNet
itself is Brock et al. 2021 (``deepmind-research/nfnets``). This module follows the
DeepMind slow-fast code where it is public and documents every choice where it is not.
Written by hand (no PyTorch implementation is available as a library).

Structure (input ``(B, 1, F=96, T)``, layout ``(B, C, F, T)``):

* **Two NFNet-F0 paths.** Slow: stage widths [256, 512, 1536, 1536], depths [1, 2, 6, 3],
  group width 128. Fast: 1/8 of the channels, widths [32, 64, 192, 192], group width 16
  (so both paths have 1, 2, 6, 6 groups per stage). Each path: a 4-conv stem (3x3 WS convs,
  channels width[0]/16, /8, /4, /2, i.e. 16-32-64-128 slow and 2-4-8-16 fast, strides
  2, 1, 1, 2 in both axes, scaled GELU between), then NF blocks; stage strides 1, 2, 2, 2
  in both axes.
* **Time resolution.** As in DeepMind's ``SlowFastNFNet``, the slow path sees the input
  max-pooled by ``time_ratio = 4`` along time; otherwise both paths stride identically,
  so the slow path always has 4x fewer frames than the fast one.
* **NF blocks** (see :mod:`tunespace.models.nf_layers`): weight-standardised convs with
  learnable gain, scaled GELU (gamma 1.7015043497085571), bottleneck ratio 0.5 of the
  output width, two grouped convs (1x3 over time with the stride, then 3x1 over frequency:
  DeepMind's slow-fast defaults ``kernel_shape=(3, 1)``, ``second_conv_kernel_shape=(1, 3)``
  in their (T, F) layout; DeepMind's per-stage kernel and stem patterns live in a variant
  table we did not have, so the stem above is NFNet's image stem), squeeze-excite (ratio
  0.5, output x2), skip-init gain (scalar, init 0), stochastic depth (rate 0.1 x block index / 12), ``alpha = 0.2`` and
  ``beta = 1 / expected_std`` with ``expected_std`` reset to 1 at each stage's first block
  and grown by ``alpha**2`` in variance after each block.
* **Fast-to-slow fusion** before each of the 4 stages: a WS conv over time (kernel 7,
  stride 4 = time_ratio, frequency kernel 1) from the fast stream, scaled GELU, then
  concatenated to the slow stream's channels. Fusion output channels follow DeepMind's
  rule ``2 x fast_width[0] x [1, 4, 8, 16]`` = [64, 256, 512, 1024] (fed by fast channels
  16, 32, 64, 192); the first slow block of each stage thus takes 192, 512, 1024 and
  2560 input channels, and its 1x1 shortcut conv absorbs the change.
* **Output.** Each path ends with DeepMind's final 1x1 WS conv + scaled GELU, with
  ``final_conv_mult = 1`` (width-preserving: 1536 -> 1536 slow, 192 -> 192 fast) instead of
  NFNet's 2 (3072 / 384 in DeepMind's code): MULE's embedding is 1536 + 192 = 1728, which is
  what ``final_conv_mult = 1`` gives. Then global average pooling over (F, T) of each path,
  concatenated as ``[slow (1536), fast (192)]``: 1728-d (DeepMind concatenates fast
  first; the order is immaterial to training and fixed here). ``final_conv=False`` drops the two
  final convs (same output size).

Parameter counts (1 input channel; counted with ``Encoder.num_parameters()``, which counts
conv weights, biases and WS gains, SE weights and biases, and skip gains):

* reference: timm ``dm_nfnet_f0`` (image NFNet-F0: 3x3 grouped convs, 3 input channels,
  final conv to 3072, 1000-class head) has 71.5 M; MULE reports "about 62 M" for SF-NFNet-F0.
* this port, default (``final_conv=True``): 60,750,574 = -2.0 % from 62 M
  (slow path 58,213,884 with its 1x3 / 3x1 grouped convs and fused inputs; fast path
  862,834; fusions 1,673,856).
* ``final_conv=False``: 58,350,958 (-5.9 %, outside MULE's count: the final convs are part
  of the model). 3x3 grouped convs instead of 1x3 + 3x1 would add ~11.6 M (~72 M in all),
  and ``final_conv_mult = 2`` would add ~4.7 M and change the output size, so neither is
  what MULE used.

Not bit-exact with the JAX original: PyTorch pads "SAME" convolutions symmetrically
(``kernel // 2``), TF pads the extra sample at the end; GELU is the exact (erf) form.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
import torch.nn.functional as F
from torch import nn

from ..errors import ConfigError
from .base import Encoder
from .nf_layers import NFBlock, ScaledGELU, WSConv2d
from .registry import register_encoder

SLOW_WIDTHS = (256, 512, 1536, 1536)
FAST_WIDTHS = (32, 64, 192, 192)
DEPTHS = (1, 2, 6, 3)
STAGE_STRIDES = (1, 2, 2, 2)


class NFPath(nn.Module):
    """One NFNet-F0 path (stem + 4 stages), run stage by stage by :class:`SFNFNetF0`.

    Args:
        in_ch: input channels (1 for a spectrogram).
        widths: output channels of the 4 stages.
        group_size: channels per group in the grouped convs.
        extra_in: extra input channels of each stage's first block (fused channels).
        alpha: residual scale.
        stochdepth_rate: maximal stochastic depth rate (scaled by block index / #blocks).
        depths: blocks per stage.
        final_conv: append a width-preserving 1x1 WS conv + scaled GELU after the last stage.
    """

    def __init__(
        self,
        in_ch: int,
        widths: Sequence[int],
        group_size: int,
        extra_in: Sequence[int] = (0, 0, 0, 0),
        alpha: float = 0.2,
        stochdepth_rate: float = 0.1,
        depths: Sequence[int] = DEPTHS,
        final_conv: bool = False,
    ) -> None:
        super().__init__()
        ch = widths[0] // 2
        act = ScaledGELU
        self.stem = nn.Sequential(
            WSConv2d(in_ch, ch // 8, 3, stride=2),
            act(),
            WSConv2d(ch // 8, ch // 4, 3),
            act(),
            WSConv2d(ch // 4, ch // 2, 3),
            act(),
            WSConv2d(ch // 2, ch, 3, stride=2),
        )
        self.stem_channels = ch
        self.stages = nn.ModuleList()
        expected_std = 1.0
        num_blocks = sum(depths)
        index = 0
        for width, depth, stride, extra in zip(widths, depths, STAGE_STRIDES, extra_in):
            blocks = []
            for b in range(depth):
                blocks.append(
                    NFBlock(
                        ch + (extra if b == 0 else 0),
                        width,
                        stride=(stride, stride) if b == 0 else (1, 1),
                        beta=1.0 / expected_std,
                        alpha=alpha,
                        group_size=group_size,
                        stochdepth_rate=stochdepth_rate * index / num_blocks,
                    )
                )
                ch = width
                index += 1
                if b == 0:
                    expected_std = 1.0
                expected_std = (expected_std**2 + alpha**2) ** 0.5
            self.stages.append(nn.Sequential(*blocks))
        self.out_channels = ch
        self.final = nn.Sequential(WSConv2d(ch, ch, 1), act()) if final_conv else nn.Identity()


class FuseFastToSlow(nn.Module):
    """Lateral connection: time-strided WS conv of the fast stream, scaled GELU, concatenated.

    Args:
        fast_ch: channels of the fast stream.
        out_ch: channels added to the slow stream.
        time_ratio: time stride (fast frames per slow frame).
        kernel_t: temporal kernel size in fast frames (DeepMind: 7).
    """

    def __init__(self, fast_ch: int, out_ch: int, time_ratio: int = 4, kernel_t: int = 7) -> None:
        super().__init__()
        self.conv = WSConv2d(fast_ch, out_ch, (1, kernel_t), stride=(1, time_ratio))
        self.act = ScaledGELU()

    def forward(self, fast: torch.Tensor, slow: torch.Tensor) -> torch.Tensor:
        """``fast (B, Cf, F, Tf)``, ``slow (B, Cs, F, Ts)`` -> ``(B, Cs + out_ch, F, Ts)``."""
        fused = self.act(self.conv(fast))
        if fused.shape[-1] != slow.shape[-1]:  # only for T not a multiple of the strides
            fused = F.pad(fused, (0, max(0, slow.shape[-1] - fused.shape[-1])))
            fused = fused[..., : slow.shape[-1]]
        return torch.cat([slow, fused], dim=1)


@register_encoder("sfnfnet_f0")
class SFNFNetF0(Encoder):
    """Slow-fast NFNet-F0 encoder (MULE's base model): ``(B, 1, n_mels, T) -> (B, 1728)``.

    Args:
        n_mels: number of mel bands of the input (default 96).
        time_ratio: max-pooling factor of the slow path's input along time (default 4).
        alpha: NF residual scale (default 0.2).
        stochdepth_rate: maximal stochastic depth drop rate (default 0.1, DeepMind's).
        fusion_channel_ratio: fused channels = ratio x fast_width[0] x [1, 4, 8, 16]
            (default 2 -> 64, 256, 512, 1024).
        final_conv: end both paths with a width-preserving 1x1 WS conv + scaled GELU
            (DeepMind's final conv with ``final_conv_mult = 1``; default True).

    60,750,574 parameters by default (see the module docstring).
    """

    name = "sfnfnet_f0"

    def __init__(
        self,
        n_mels: int = 96,
        time_ratio: int = 4,
        alpha: float = 0.2,
        stochdepth_rate: float = 0.1,
        fusion_channel_ratio: int = 2,
        final_conv: bool = True,
    ) -> None:
        if int(time_ratio) < 1:
            raise ConfigError(f"encoder 'sfnfnet_f0': time_ratio must be >= 1, got {time_ratio}")
        if not 0.0 <= float(stochdepth_rate) < 1.0:
            raise ConfigError(f"encoder 'sfnfnet_f0': stochdepth_rate must be in [0, 1), got {stochdepth_rate}")
        if int(fusion_channel_ratio) < 1:
            raise ConfigError(f"encoder 'sfnfnet_f0': fusion_channel_ratio must be >= 1, got {fusion_channel_ratio}")
        super().__init__(
            n_mels=n_mels,
            embedding_dim=SLOW_WIDTHS[-1] + FAST_WIDTHS[-1],
            min_frames=int(time_ratio),
        )
        self.time_ratio = int(time_ratio)
        fuse_ch = [int(fusion_channel_ratio) * FAST_WIDTHS[0] * m for m in (1, 4, 8, 16)]
        self.fast = NFPath(
            1,
            FAST_WIDTHS,
            group_size=16,
            alpha=alpha,
            stochdepth_rate=stochdepth_rate,
            final_conv=final_conv,
        )
        self.slow = NFPath(
            1,
            SLOW_WIDTHS,
            group_size=128,
            extra_in=fuse_ch,
            alpha=alpha,
            stochdepth_rate=stochdepth_rate,
            final_conv=final_conv,
        )
        fast_in = [self.fast.stem_channels, *FAST_WIDTHS[:-1]]
        self.fusions = nn.ModuleList(
            FuseFastToSlow(c_in, c_out, self.time_ratio) for c_in, c_out in zip(fast_in, fuse_ch)
        )

    def encode(self, x: torch.Tensor) -> torch.Tensor:
        """``(B, 1, n_mels, T) -> (B, 1728)`` = ``[mean slow (1536), mean fast (192)]``."""
        slow = F.max_pool2d(x, (1, self.time_ratio), (1, self.time_ratio), ceil_mode=True)
        slow = self.slow.stem(slow)
        fast = self.fast.stem(x)
        for fusion, slow_stage, fast_stage in zip(self.fusions, self.slow.stages, self.fast.stages):
            slow = fusion(fast, slow)
            slow = slow_stage(slow)
            fast = fast_stage(fast)
        slow = self.slow.final(slow).mean(dim=(2, 3))
        fast = self.fast.final(fast).mean(dim=(2, 3))
        return torch.cat([slow, fast], dim=1)

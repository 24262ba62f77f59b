"""Alignment and uniformity of embeddings (Wang & Isola, ICML 2020), for logging.

* ``alignment(z_a, z_b, alpha) = mean_i ||a_i - b_i||_2 ** alpha`` (lower: positives closer;
  in [0, 2**alpha] for unit vectors).
* ``uniformity(z, t) = log mean_{i<j} exp(-t ||z_i - z_j||_2 ** 2)`` (lower: more uniform on
  the sphere; <= 0), computed with log-sum-exp.

Inputs are L2-normalised first (the definitions assume unit vectors). Short formulas,
written by hand.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F

from ..errors import ConfigError, UsageError


def alignment(z_a: torch.Tensor, z_b: torch.Tensor, alpha: float = 2.0) -> torch.Tensor:
    """Mean ``alpha``-th power of the distance between paired unit embeddings.

    Args:
        z_a, z_b: ``(N, D)`` paired embeddings (normalised here).
        alpha: exponent (> 0; Wang & Isola use 2).

    Returns:
        Scalar tensor (squared-distance units for alpha = 2).
    """
    if not float(alpha) > 0:
        raise ConfigError(f"alignment alpha must be > 0, got {alpha}")
    if z_a.ndim != 2 or z_a.shape != z_b.shape:
        raise UsageError(
            f"alignment expects two (N, D) tensors of equal shape, got {tuple(z_a.shape)} and {tuple(z_b.shape)}"
        )
    d = (F.normalize(z_a, dim=1) - F.normalize(z_b, dim=1)).norm(dim=1)
    return d.pow(alpha).mean()


def uniformity(z: torch.Tensor, t: float = 2.0) -> torch.Tensor:
    """Log of the mean Gaussian potential over all distinct pairs of unit embeddings.

    Args:
        z: ``(N >= 2, D)`` embeddings (normalised here).
        t: Gaussian potential scale (> 0; Wang & Isola use 2), per squared distance.

    Returns:
        Scalar tensor (<= 0).
    """
    if not float(t) > 0:
        raise ConfigError(f"uniformity t must be > 0, got {t}")
    if z.ndim != 2 or z.shape[0] < 2:
        raise UsageError(f"uniformity needs (N>=2, D) embeddings, got {tuple(z.shape)}")
    sq = torch.pdist(F.normalize(z, dim=1), p=2).pow(2)
    return torch.logsumexp(-float(t) * sq, dim=0) - math.log(sq.numel())

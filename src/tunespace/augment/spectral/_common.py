"""Helpers shared by the spectral augmentations: params to tensors, interpolation along an axis."""

from __future__ import annotations

import numpy as np
import torch

from ..base import Params


def param(params: Params, key: str, like: torch.Tensor) -> torch.Tensor:
    """``params[key]`` as a float32 tensor on ``like``'s device (numpy or tensor input)."""
    v = params[key]
    if isinstance(v, torch.Tensor):
        return v.to(device=like.device, dtype=torch.float32)
    return torch.as_tensor(np.asarray(v, dtype=np.float32), device=like.device)


def applied_mask(params: Params, like: torch.Tensor) -> torch.Tensor:
    """Boolean ``(B, 1, 1)`` mask of the items to augment, on ``like``'s device."""
    v = params["applied"]
    m = v if isinstance(v, torch.Tensor) else torch.as_tensor(np.asarray(v, dtype=bool))
    return m.to(device=like.device, dtype=torch.bool).reshape(-1, 1, 1)


def resample_axis(x: torch.Tensor, pos: torch.Tensor, dim: int) -> torch.Tensor:
    """Read ``x`` at fractional positions along ``dim`` with linear interpolation.

    Args:
        x: ``(B, F, T)``.
        pos: ``(B, N)`` fractional indices into axis ``dim`` (1 = frequency, 2 = time);
            positions outside ``[0, size - 1]`` read zero.
        dim: 1 or 2.
    Returns:
        ``(B, F, N)`` for ``dim=2``, ``(B, N, T)`` for ``dim=1``.
    """
    size = x.shape[dim]
    valid = (pos >= 0) & (pos <= size - 1)
    p = pos.clamp(0, size - 1)
    i0 = p.floor().long().clamp(max=size - 2) if size > 1 else p.floor().long()
    w = (p - i0.to(p.dtype))
    i1 = (i0 + 1).clamp(max=size - 1)
    w = torch.where(valid, w, torch.zeros_like(w))
    if dim == 2:
        shape = (x.shape[0], x.shape[1], pos.shape[1])
        g0 = torch.gather(x, 2, i0[:, None, :].expand(shape))
        g1 = torch.gather(x, 2, i1[:, None, :].expand(shape))
        out = g0 + (g1 - g0) * w[:, None, :]
        return out * valid[:, None, :]
    shape = (x.shape[0], pos.shape[1], x.shape[2])
    g0 = torch.gather(x, 1, i0[:, :, None].expand(shape))
    g1 = torch.gather(x, 1, i1[:, :, None].expand(shape))
    out = g0 + (g1 - g0) * w[:, :, None]
    return out * valid[:, :, None]

"""Fused spectral path: all linear augmentations of a view in one per-item mel matrix (written here).

Time-stretch (linear along time), pitch-shift (linear along frequency), EQ, low-pass and gain
(diagonal in frequency) are linear maps, and maps along time commute with maps along
frequency. So for each item ``b``::

    mel(EQ(PS(TS(P_b)))) = (fb . diag(g_after_b) . M_b . diag(g_before_b)) @ P_b @ S_b

with ``M_b`` the pitch-shift interpolation matrix, ``g`` the power gains of the frequency
weightings placed after or before the pitch-shift in the policy, and ``S_b`` the
time-stretch interpolation. The maps come from the augmentations themselves
(:meth:`~.augmentations.PitchShift.positions`, :meth:`~.augmentations.TimeStretch.positions`,
:meth:`~.augmentations.FrequencyWeighting.weights`). We build the ``(B, n_mels, F)`` matrix
(scatter-add of the filter bank through ``M_b``), do one batched matmul with the
``(B, F, T_in)`` power (without a pitch shift, over the bins each group of bands reads:
:func:`~tunespace.features.banded.banded_matmul`), and time-stretch the ``n_mels``-band
result, reading only the frames the centre crop keeps. The result equals the unfused path up to float rounding, at a
fraction of its cost (no gathers over ``F x T`` spectrograms). Augmentations that are not
linear (noise) are not fusable; :func:`fusable` says so.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch

from ...features.banded import Group, banded_matmul, row_groups
from ..base import Augmentation, Params
from .augmentations import FrequencyWeighting, PitchShift, TimeStretch
from .functional import resample_axis


def fusable(augmentations: Sequence[Augmentation]) -> bool:
    """True if every augmentation is a spectral TS, PS or frequency weighting (each at most once)."""
    kinds = [a.kind for a in augmentations]
    return len(kinds) == len(set(kinds)) and all(
        isinstance(a, (TimeStretch, PitchShift, FrequencyWeighting)) for a in augmentations
    )


def _scatter_through_shift(w: torch.Tensor, pos: torch.Tensor) -> torch.Tensor:
    """``w @ M`` for the pitch-shift interpolation ``M`` that reads input bin ``pos[b, k]`` at output bin ``k``.

    Args:
        w: ``(B, n_mels, F)`` weights on output bins.
        pos: ``(B, F)`` fractional input bins (past the last bin: zero).
    Returns:
        ``(B, n_mels, F)`` weights on input bins.
    """
    n_freqs = w.shape[-1]
    valid = (pos <= n_freqs - 1).to(w.dtype)
    pos = pos.clamp(max=n_freqs - 1)
    i0 = pos.floor().long().clamp(max=n_freqs - 2)
    frac = (pos - i0.to(pos.dtype)) * valid
    moved = torch.zeros_like(w)
    shape = w.shape
    moved.scatter_add_(2, i0[:, None, :].expand(shape), w * ((1 - frac) * valid)[:, None, :])
    moved.scatter_add_(2, (i0 + 1)[:, None, :].expand(shape), w * frac[:, None, :])
    return moved


def fused_mel(
    power: torch.Tensor,
    filterbank: torch.Tensor,
    augmentations: Sequence[Augmentation],
    params: dict[str, Params],
    out_frames: int,
    groups: list[Group] | None = None,
    dense: bool = False,
) -> torch.Tensor:
    """Augmented mel spectrogram of the centre ``out_frames`` frames.

    Args:
        power: ``(B, F, T_in)`` linear power spectrogram (``|X| ** frontend.power``).
        filterbank: ``(n_mels, F)`` mel filter bank.
        augmentations: spectral TS / PS / frequency-weighting objects, in policy order (see :func:`fusable`).
        params: ``{kind: params}`` of one view (missing kinds are skipped).
        out_frames: frames to return, centred in ``T_in``.
        groups: :func:`~tunespace.features.banded.row_groups` of ``filterbank != 0`` (e.g. the
            front end's cached ``LogMel.groups``); None computes them.
        dense: the whole product, as the front end's ``mel_product: dense`` (its float32 rounding).
    Returns:
        ``(B, n_mels, out_frames)`` mel power (before compression).
    """
    b, n_freqs, t_in = power.shape
    after = torch.ones(b, n_freqs, device=power.device)
    before = torch.ones(b, n_freqs, device=power.device)
    shift: tuple[PitchShift, Params] | None = None
    stretch: tuple[TimeStretch, Params] | None = None
    for aug in augmentations:
        if aug.kind not in params:
            continue
        p = params[aug.kind]
        if isinstance(aug, PitchShift):
            shift = (aug, p)
        elif isinstance(aug, TimeStretch):
            stretch = (aug, p)
        elif shift is None:
            before = before * aug.weights(p, power)
        else:
            after = after * aug.weights(p, power)
    w = filterbank[None] * after[:, None, :]  # (B, n_mels, F), acting on output frequencies
    if shift is not None:
        w = _scatter_through_shift(w, shift[0].positions(shift[1], power))
    w = w * before[:, None, :]
    if shift is None and not dense:
        # the filter bank's own zeros: only the bins each group of bands reads
        mel = banded_matmul(w, power, groups if groups is not None else row_groups(filterbank != 0))
    else:
        # moved by a different shift per item, the groups' column ranges widen to most of the
        # bins and the grouped product is no faster (bench/bench_mel.py); or asked for (dense)
        mel = torch.bmm(w, power)  # (B, n_mels, T_in)
    start = (t_in - out_frames) // 2
    if stretch is None:
        return mel[..., start : start + out_frames]
    frames = torch.arange(start, start + out_frames, device=power.device, dtype=torch.float32)
    return resample_axis(mel, stretch[0].positions(stretch[1], power, t_in, frames), 2)

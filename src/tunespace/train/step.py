"""One contrastive training step (written by hand).

:func:`train_step` takes one collated batch of positive pairs (:func:`tunespace.pairs.collate_pairs`)
through the transform's device stage, the model and NT-Xent, and updates the weights. Its random
draws come only from ``(seed, step, rank)`` (:func:`step_seed`), so a step replays identically
after resumption.
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
from torch import nn

from ..errors import ConfigError
from ..losses import NTXentLoss, alignment, uniformity


def step_seed(seed: int, step: int, salt: int = 0) -> int:
    """A 63-bit seed for ``step`` (stable across runs and resumption); ``salt`` separates streams:
    1 for the global torch RNG (dropout, stochastic depth), ``2 + rank`` for the device stage."""
    return int(
        np.random.SeedSequence([int(seed), int(step), int(salt)]).generate_state(2, np.uint64)[0] >> np.uint64(1)
    )


def autocast(device: torch.device, amp: str) -> contextlib.AbstractContextManager:
    """The forward pass's mixed precision for ``amp`` on ``device``.

    - CUDA: ``bf16`` or ``fp16`` autocast (``fp16`` with a gradient scaler, made by the run).
      Measured on an H200, bf16 autocast was 12-18 % slower than float32 (with torch's default
      TF32 convolutions on Ampere and later) for ``small`` and ``sfnfnet_f0`` at their batch
      sizes, and pre-Ampere GPUs have no bf16 arithmetic.
    - CPU: ``bf16`` autocast (oneDNN's bfloat16 convolutions and matrix products). On a CPU with
      bfloat16 instructions (AVX512-BF16 or AMX) it ran ``small``'s forward and backward pass
      1.5x and the pretrained recipe's whole trainer 1.3-1.4x faster than float32
      (``bench/bench_train.py --recipe --bf16``, docs/benchmarks.md); without them torch emulates
      it, more slowly than float32 (:func:`cpu_has_native_bf16`).
    - ``off`` and ``auto``: float32 everywhere.

    Raises:
        ConfigError: ``fp16`` on a device other than CUDA, or ``bf16`` on one other than CUDA and
            the CPU (:func:`check_amp`).
    """
    check_amp(device, amp)
    if amp in ("off", "auto"):
        return contextlib.nullcontext()
    if device.type == "cpu":
        return torch.autocast("cpu", dtype=torch.bfloat16)
    if amp == "fp16":
        return torch.autocast("cuda", dtype=torch.float16)
    return torch.autocast("cuda", dtype=torch.bfloat16)


def check_amp(device: torch.device, amp: str) -> None:
    """Refuse a mixed precision ``device`` cannot run: ``fp16`` needs CUDA, ``bf16`` CUDA or the CPU.

    Raises:
        ConfigError: naming ``train.amp``, the value and the device.
    """
    if amp in ("off", "auto") or device.type == "cuda" or (device.type == "cpu" and amp == "bf16"):
        return
    hint = "use bf16 or off" if device.type == "cpu" else "use off"
    raise ConfigError(f"train.amp {amp} needs a CUDA device; this run is on {device.type}: {hint}")


def cpu_has_native_bf16() -> bool:
    """Whether this CPU has bfloat16 instructions oneDNN uses (AVX512-BF16 or AMX), so that
    ``train.amp: bf16`` is faster on it than float32 rather than emulated."""
    try:
        return bool(torch.ops.mkldnn._is_mkldnn_bf16_supported())
    except (AttributeError, RuntimeError):
        return False


@dataclass
class StepOutput:
    """What one step gives the run log.

    Attributes:
        loss: NT-Xent of the step's batch (before the update), a float.
        embeddings: encoder outputs ``h`` of both views, ``(2 * n, D)``: rows ``:n`` view a,
            ``n:`` view b (still on the device; not the projector's ``z``).
        n: pairs in this process's batch.
        device_params: the device stage's augmentation parameters (per view).
    """

    loss: float
    embeddings: torch.Tensor
    n: int
    device_params: Any

    def geometry(self) -> dict[str, float]:
        """Alignment and uniformity of the L2-normalised embeddings of the two views
        (:func:`tunespace.losses.alignment`, :func:`~tunespace.losses.uniformity`)."""
        with torch.no_grad():
            h, n = self.embeddings, self.n
            ha = torch.nn.functional.normalize(h[:n].float(), dim=1)
            hb = torch.nn.functional.normalize(h[n:].float(), dim=1)
            return {"alignment": float(alignment(ha, hb)), "uniformity": float(uniformity(torch.cat([ha, hb])))}


def train_step(
    batch: dict[str, Any],
    *,
    step: int,
    seed: int,
    rank: int,
    device: torch.device,
    transform: Any,
    model: nn.Module,
    loss_fn: NTXentLoss,
    optimizer: torch.optim.Optimizer,
    scaler: torch.amp.GradScaler | None,
    amp: str,
) -> StepOutput:
    """Run global step ``step`` (0-based) on one process's batch and update the weights.

    1. Reseed the global torch RNG from ``step_seed(seed, step, 1)`` (dropout, stochastic depth)
       and a CPU generator from ``step_seed(seed, step, 2 + rank)`` (the spectral augmentation's
       parameters: the same on every device).
    2. Device stage, without gradients: power windows ``power_a``, ``power_b`` ``(n, F, T)``
       (spectrogram cache) or audio ``wave_a``, ``wave_b`` ``(n, samples)`` at the front end's
       rate -> the two standardised log-mel views ``x_a``, ``x_b`` ``(n, 1, n_mels, T)``.
    3. Forward both views as one batch ``(2n, 1, n_mels, T)`` (under ``amp``: :func:`autocast`)
       -> ``h`` ``(2n, D)``, ``z`` ``(2n, P)``; NT-Xent of ``z[:n]`` against ``z[n:]`` in float32,
       outside the autocast (over the global batch under DistributedDataParallel; with the
       pairs' track indices, used when the loss counts all views of a track as positives: see
       :class:`NTXentLoss`).
    4. Zero the gradients, backward, optimiser step (through ``scaler`` for fp16). There is no
       gradient clipping.

    Args:
        batch: a collated batch with at least two readable pairs (``batch["index"]`` ``(n,)``).
        step: the global step number, counted from 0.
        seed: the run's seed.
        rank: this process's rank (0 without torchrun).
        device: where the model lives.
        transform: the run's :class:`~tunespace.augment.pipeline.PairTransform`.
        model: the model, possibly wrapped in DistributedDataParallel; returns ``(h, z)``.
        loss_fn: NT-Xent at the configured temperature.
        optimizer: with its learning rate already set for ``step``.
        scaler: a GradScaler for ``amp == "fp16"`` on CUDA, else None.
        amp: ``auto``, ``off``, ``fp16`` (CUDA) or ``bf16`` (CUDA or CPU; see :func:`autocast`).
    """
    torch.manual_seed(step_seed(seed, step, 1))
    gen = torch.Generator()  # on the CPU whatever the device: the same draws on a GPU as on the CPU
    gen.manual_seed(step_seed(seed, step, 2 + rank))
    with torch.no_grad():
        if batch["wave_a"] is None:
            pa = batch["power_a"].to(device, non_blocking=True)
            pb = batch["power_b"].to(device, non_blocking=True)
            xa, xb, dparams = transform.device_stage_power(pa, pb, gen)
        else:
            wa = batch["wave_a"].to(device, non_blocking=True)
            wb = batch["wave_b"].to(device, non_blocking=True)
            xa, xb, dparams = transform.device_stage(wa, wb, gen)
    with autocast(device, amp):
        x = torch.cat([xa, xb], dim=0)
        h, z = model(x)
    n = xa.shape[0]
    # The loss outside autocast: its similarity matrix in float32, not in bf16 / fp16.
    tracks = batch["index"].to(device) if loss_fn.by_track else None  # only the multi-positive loss reads them
    loss = loss_fn(z[:n].float(), z[n:].float(), tracks)
    optimizer.zero_grad(set_to_none=True)
    if scaler is not None:
        scaler.scale(loss).backward()
        scaler.step(optimizer)
        scaler.update()
    else:
        loss.backward()
        optimizer.step()
    return StepOutput(float(loss.detach()), h.float(), n, dparams)

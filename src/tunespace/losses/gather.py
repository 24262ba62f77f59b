"""All-gather with gradients across ``torch.distributed`` ranks (for cross-rank negatives).

``torch.distributed.all_gather`` returns tensors that are cut off from autograd, so a loss
computed on gathered embeddings would send no gradient to the other ranks' encoders
(a classic bug of SimCLR ports that then "learn nothing on several GPUs").
:func:`gather_with_grad` wraps the collective in an autograd Function:

* forward: all-gather the local ``(n_r, ...)`` tensors of every rank (any ``n_r``, padded to
  the largest for the collective) and concatenate them in rank order: ``(sum_r n_r, ...)``;
* backward: all-reduce (sum) the gradient of the whole gathered tensor over ranks and
  return this rank's slice. Rank r's local tensor therefore receives
  ``d(sum over ranks q of loss_q) / d x_r``: the gradient of the *sum* of all ranks' losses.
  (All-reduce then slice is used instead of reduce-scatter because the gloo backend has no
  reduce-scatter; the result is the same.)

Gradient convention used with DDP (see :mod:`tunespace.losses.ntxent`): DDP *averages*
parameter gradients over the W ranks, so if each rank's loss is ``W x`` (its share of the
global loss), i.e. the sum over its own anchors divided by the number of anchors *per rank*
(= global anchors / W), the averaged gradient equals the single-process gradient of the
global mean loss on the concatenated batch.

Written by hand (a few lines; no maintained library provides it for plain torch).
"""

from __future__ import annotations

import torch
import torch.distributed as dist


def is_distributed() -> bool:
    """True when ``torch.distributed`` is available, initialised and has more than one rank."""
    return dist.is_available() and dist.is_initialized() and dist.get_world_size() > 1


def gather_sizes(n: int, device: torch.device | str = "cpu") -> list[int]:
    """First-dimension sizes of every rank's tensor (``[n]`` when not distributed).

    Args:
        n: this rank's number of rows.
        device: device of the small size tensor (must suit the backend: CUDA for NCCL).
    """
    if not is_distributed():
        return [int(n)]
    local = torch.tensor([int(n)], dtype=torch.long, device=device)
    sizes = [torch.zeros_like(local) for _ in range(dist.get_world_size())]
    dist.all_gather(sizes, local)
    return [int(s.item()) for s in sizes]


class _GatherWithGrad(torch.autograd.Function):
    """All-gather forward; all-reduce(sum)-then-slice backward."""

    @staticmethod
    def forward(ctx, x: torch.Tensor, sizes: list[int]) -> torch.Tensor:  # type: ignore[override]
        rank = dist.get_rank()
        padded = x.new_zeros((max(sizes),) + tuple(x.shape[1:]))
        padded[: x.shape[0]] = x
        buffers = [torch.empty_like(padded) for _ in sizes]
        dist.all_gather(buffers, padded.contiguous())
        ctx.sizes, ctx.rank = sizes, rank
        return torch.cat([b[:n] for b, n in zip(buffers, sizes)], dim=0)

    @staticmethod
    def backward(ctx, grad: torch.Tensor) -> tuple[torch.Tensor, None]:  # type: ignore[override]
        grad = grad.contiguous().clone()
        dist.all_reduce(grad, op=dist.ReduceOp.SUM)
        start = sum(ctx.sizes[: ctx.rank])
        return grad[start : start + ctx.sizes[ctx.rank]], None


def gather_with_grad(x: torch.Tensor, sizes: list[int] | None = None) -> torch.Tensor:
    """Concatenate ``x`` from all ranks in rank order, keeping gradients to the local slice.

    Args:
        x: local tensor ``(n_r, ...)``; trailing dims, dtype and device equal on all ranks.
        sizes: every rank's ``n_r`` if already known (else gathered with :func:`gather_sizes`).

    Returns:
        ``(sum_r n_r, ...)``; ``x`` itself when not distributed. Backward: the local slice
        gets the sum over ranks of the gradients of the gathered tensor.
    """
    if not is_distributed():
        return x
    if sizes is None:
        sizes = gather_sizes(x.shape[0], x.device)
    return _GatherWithGrad.apply(x, list(sizes))

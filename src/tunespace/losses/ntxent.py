"""NT-Xent (normalised temperature-scaled cross-entropy, SimCLR) for any batch size,
with negatives gathered across ``torch.distributed`` ranks.

For N pairs ``(z_a[i], z_b[i])``, L2-normalised, the 2N views are anchors. Anchor ``u`` has
one positive (its pair partner ``p(u)``) and 2N - 2 negatives (every other view but itself):

    l_u = -log( exp(s(u, p(u)) / tau) / sum_{v != u} exp(s(u, v) / tau) ),   s = cosine

and the loss is the mean of ``l_u`` over all 2N anchors. Computed as a cross-entropy over a
``(2n, 2N)`` similarity matrix whose self-similarities are set to ``-inf`` (log-sum-exp
stable; no mask of fixed size: any N, N = 1 gives 0 since the only candidate is the positive).

Distributed (``gather_distributed`` and an initialised process group of W > 1 ranks): each
rank gathers every rank's ``z_a`` and ``z_b`` with gradients
(:func:`tunespace.losses.gather.gather_with_grad`), so negatives span the global batch of
N = sum_r n_r pairs; it computes ``l_u`` for its own 2 n_r anchors only and returns

    loss_r = (W / 2N) * sum_{u in rank r} l_u.

Hence ``mean_r loss_r = (1 / 2N) sum_u l_u`` is the global loss (with equal per-rank batches
``loss_r`` is simply the mean over the rank's own anchors), and, because the gather's
backward sums the gradients of all ranks' losses, DDP's gradient *averaging* yields
``(1/W) d(sum_r loss_r)/d theta = d(global loss)/d theta``: exactly the single-process
gradient on the concatenated batch. (Without DDP, sum the parameter gradients over ranks
and divide by W.)
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from ..errors import ConfigError, UsageError
from .gather import gather_sizes, gather_with_grad, is_distributed


def _check(z_a: torch.Tensor, z_b: torch.Tensor, temperature: float) -> None:
    if not float(temperature) > 0.0:
        raise ConfigError(f"NT-Xent temperature must be > 0, got {temperature}")
    if z_a.ndim != 2 or z_a.shape != z_b.shape or z_a.shape[0] < 1:
        raise UsageError(
            f"NT-Xent expects two (N>=1, D) tensors of equal shape, got {tuple(z_a.shape)} and {tuple(z_b.shape)}"
        )


def nt_xent(
    z_a: torch.Tensor,
    z_b: torch.Tensor,
    temperature: float = 0.1,
    gather_distributed: bool = True,
) -> torch.Tensor:
    """NT-Xent loss of N positive pairs (symmetric, mean over the 2N anchors).

    Args:
        z_a: ``(N, D)`` projections of the first views (any scale: L2-normalised here).
        z_b: ``(N, D)`` projections of the second views; row i pairs with ``z_a[i]``.
        temperature: softmax temperature tau (> 0; unitless, MULE: 0.1).
        gather_distributed: under an initialised process group with W > 1 ranks, use the
            views of all ranks as negatives (see the module docstring for the scaling).

    Returns:
        Scalar loss (``>= 0``; natural-log units).

    Raises:
        ConfigError: temperature <= 0.
        UsageError: inputs not two equal ``(N >= 1, D)`` tensors.
    """
    _check(z_a, z_b, temperature)
    z_a = F.normalize(z_a, dim=1)
    z_b = F.normalize(z_b, dim=1)
    n = z_a.shape[0]
    if gather_distributed and is_distributed():
        import torch.distributed as dist

        sizes = gather_sizes(n, z_a.device)
        world, rank = len(sizes), dist.get_rank()
        all_a = gather_with_grad(z_a, sizes)
        all_b = gather_with_grad(z_b, sizes)
        offset, total = sum(sizes[:rank]), sum(sizes)
    else:
        world, offset, total = 1, 0, n
        all_a, all_b = z_a, z_b
    anchors = torch.cat([z_a, z_b], dim=0)  # (2n, D): local a's then local b's
    keys = torch.cat([all_a, all_b], dim=0)  # (2N, D): global a's then global b's
    logits = anchors @ keys.T / float(temperature)
    local = torch.arange(n, device=z_a.device)
    self_idx = torch.cat([offset + local, total + offset + local])
    pos_idx = torch.cat([total + offset + local, offset + local])
    rows = torch.arange(2 * n, device=z_a.device)
    logits = logits.index_put((rows, self_idx), torch.tensor(float("-inf"), device=z_a.device, dtype=logits.dtype))
    loss_sum = F.cross_entropy(logits, pos_idx, reduction="sum")
    return loss_sum * (world / (2.0 * total))


class NTXentLoss(nn.Module):
    """Module form of :func:`nt_xent`.

    Args:
        temperature: softmax temperature (> 0, default 0.1 as in MULE).
        gather_distributed: gather negatives across ranks when distributed (default True).
    """

    def __init__(self, temperature: float = 0.1, gather_distributed: bool = True) -> None:
        super().__init__()
        if not float(temperature) > 0.0:
            raise ConfigError(f"NT-Xent temperature must be > 0, got {temperature}")
        self.temperature = float(temperature)
        self.gather_distributed = bool(gather_distributed)

    def forward(self, z_a: torch.Tensor, z_b: torch.Tensor) -> torch.Tensor:
        """``(N, D), (N, D) -> scalar`` loss."""
        return nt_xent(z_a, z_b, self.temperature, self.gather_distributed)

    def extra_repr(self) -> str:
        return f"temperature={self.temperature}, gather_distributed={self.gather_distributed}"

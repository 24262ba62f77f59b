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

Several pairs per track (``labels``, the multi-positive form; SupCon's ``L_out``, Khosla et al.
2020): every view whose pair has the same label as anchor ``u``'s is a positive, P(u) the set
of them (u excluded), and

    l_u = -(1 / |P(u)|) sum_{p in P(u)} log( exp(s(u, p) / tau) / sum_{v != u} exp(s(u, v) / tau) ).

With all labels distinct, P(u) = {p(u)} and this is NT-Xent exactly. Positives are looked for
among the rank's own views only: the caller keeps all pairs of one label on one rank
(:class:`tunespace.pairs.DistinctTrackBatches` does), so views of other ranks are negatives.
Written by hand (a masked log-softmax of the same similarity matrix): PyTorch has no
contrastive loss and the losses of lightly / pytorch-metric-learning do not gather with
gradients across ranks as this one must.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from ..errors import ConfigError, UsageError
from .gather import gather_sizes, gather_with_grad, is_distributed


def _check(z_a: torch.Tensor, z_b: torch.Tensor, temperature: float, labels: torch.Tensor | None) -> None:
    if not float(temperature) > 0.0:
        raise ConfigError(f"NT-Xent temperature must be > 0, got {temperature}")
    if z_a.ndim != 2 or z_a.shape != z_b.shape or z_a.shape[0] < 1:
        raise UsageError(
            f"NT-Xent expects two (N>=1, D) tensors of equal shape, got {tuple(z_a.shape)} and {tuple(z_b.shape)}"
        )
    if labels is not None and tuple(labels.shape) != (z_a.shape[0],):
        raise UsageError(f"NT-Xent labels must have shape ({z_a.shape[0]},), got {tuple(labels.shape)}")


def nt_xent(
    z_a: torch.Tensor,
    z_b: torch.Tensor,
    temperature: float = 0.1,
    gather_distributed: bool = True,
    labels: torch.Tensor | None = None,
) -> torch.Tensor:
    """NT-Xent loss of N positive pairs (symmetric, mean over the 2N anchors).

    Args:
        z_a: ``(N, D)`` projections of the first views (any scale: L2-normalised here).
        z_b: ``(N, D)`` projections of the second views; row i pairs with ``z_a[i]``.
        temperature: softmax temperature tau (> 0; unitless, MULE: 0.1).
        gather_distributed: under an initialised process group with W > 1 ranks, use the
            views of all ranks as negatives (see the module docstring for the scaling).
        labels: ``(N,)`` integer track of each pair, or None: pairs with one label are each
            other's positives (the multi-positive form in the module docstring); None or all
            distinct is plain NT-Xent.

    Returns:
        Scalar loss (``>= 0``; natural-log units).

    Raises:
        ConfigError: temperature <= 0.
        UsageError: inputs not two equal ``(N >= 1, D)`` tensors, or labels not ``(N,)``.
    """
    _check(z_a, z_b, temperature, labels)
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
    if labels is None:
        loss_sum = F.cross_entropy(logits, pos_idx, reduction="sum")
    else:
        loss_sum = _multi_positive_sum(logits, labels.to(z_a.device), offset, total)
    return loss_sum * (world / (2.0 * total))


def _multi_positive_sum(logits: torch.Tensor, labels: torch.Tensor, offset: int, total: int) -> torch.Tensor:
    """Sum over the ``2n`` local anchors of ``l_u`` with every same-label view a positive.

    ``logits`` ``(2n, 2N)`` with ``-inf`` at each anchor's own column; the local views sit in
    columns ``offset .. offset + n`` (a's) and ``total + offset ..`` (b's).
    """
    n = labels.shape[0]
    view_labels = torch.cat([labels, labels])  # (2n,) the label of each local anchor
    local_cols = torch.cat(
        [offset + torch.arange(n, device=logits.device), total + offset + torch.arange(n, device=logits.device)]
    )
    positive = torch.zeros_like(logits, dtype=torch.bool)
    positive[:, local_cols] = view_labels[:, None] == view_labels[None, :]
    positive[torch.arange(2 * n, device=logits.device), local_cols] = False  # an anchor is not its own positive
    log_prob = logits - torch.logsumexp(logits, dim=1, keepdim=True)
    per_anchor = torch.where(positive, log_prob, torch.zeros_like(log_prob)).sum(dim=1) / positive.sum(dim=1)
    return -per_anchor.sum()


class NTXentLoss(nn.Module):
    """Module form of :func:`nt_xent`.

    Args:
        temperature: softmax temperature (> 0, default 0.1 as in MULE).
        gather_distributed: gather negatives across ranks when distributed (default True).
        by_track: the pairs' track indices given to :meth:`forward` are the labels of the
            multi-positive form (``pairs.per_track > 1``); False: they are ignored and each
            view's one positive is its pair partner (plain NT-Xent, as the shipped models).
    """

    def __init__(self, temperature: float = 0.1, gather_distributed: bool = True, by_track: bool = False) -> None:
        super().__init__()
        if not float(temperature) > 0.0:
            raise ConfigError(f"NT-Xent temperature must be > 0, got {temperature}")
        self.temperature = float(temperature)
        self.gather_distributed = bool(gather_distributed)
        self.by_track = bool(by_track)

    def forward(self, z_a: torch.Tensor, z_b: torch.Tensor, tracks: torch.Tensor | None = None) -> torch.Tensor:
        """``(N, D), (N, D)[, (N,) track indices] -> scalar`` loss."""
        if self.by_track and tracks is None:
            raise UsageError("NTXentLoss(by_track=True) needs the pairs' track indices")
        return nt_xent(z_a, z_b, self.temperature, self.gather_distributed, tracks if self.by_track else None)

    def extra_repr(self) -> str:
        return f"temperature={self.temperature}, gather_distributed={self.gather_distributed}, by_track={self.by_track}"

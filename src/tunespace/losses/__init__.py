"""Contrastive losses: NT-Xent with cross-rank negatives, and alignment/uniformity metrics."""

from .gather import gather_sizes, gather_with_grad, is_distributed
from .metrics import alignment, uniformity
from .ntxent import NTXentLoss, nt_xent

__all__ = [
    "NTXentLoss",
    "alignment",
    "gather_sizes",
    "gather_with_grad",
    "is_distributed",
    "nt_xent",
    "uniformity",
]

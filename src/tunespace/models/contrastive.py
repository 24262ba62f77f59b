"""``ContrastiveModel``: an encoder and a projector trained together.

``forward(x) -> (h, z)``: ``h = encoder(x)`` is the embedding kept for analysis,
``z = projector(h)`` is what the contrastive loss sees. ``embed(x)`` returns ``h`` only.
:func:`build_model` makes one from a resolved training config; the trainer trains it and
:mod:`tunespace.embed` loads its encoder from checkpoints (one model class for both).
"""

from __future__ import annotations

from typing import Any

import torch
from torch import nn

from ..errors import ConfigError
from ..features.logmel import input_bands
from .base import Encoder
from .projector import Projector


class ContrastiveModel(nn.Module):
    """Encoder + projector.

    Args:
        encoder: any :class:`Encoder` (input ``(B, 1, n_mels, T)``, output ``(B, D)``).
        projector: a :class:`Projector` with ``in_dim == encoder.embedding_dim``.
    """

    def __init__(self, encoder: Encoder, projector: Projector) -> None:
        super().__init__()
        if projector.in_dim != encoder.embedding_dim:
            raise ConfigError(f"projector in_dim {projector.in_dim} != encoder embedding_dim {encoder.embedding_dim}")
        self.encoder = encoder
        self.projector = projector

    def embed(self, x: torch.Tensor) -> torch.Tensor:
        """Embeddings ``(B, D)`` of a log-mel batch ``(B, 1, n_mels, T)``."""
        return self.encoder(x)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """``(B, 1, n_mels, T) -> (h (B, D), z (B, out_dim))``."""
        h = self.encoder(x)
        return h, self.projector(h)


def build_model(cfg: dict[str, Any]) -> ContrastiveModel:
    """Encoder and projector from a resolved training config (seed the RNG before calling).

    Uses ``cfg["model"]`` (``encoder``, ``encoder_args``, ``projector.hidden_dims``,
    ``projector.out_dim``) and ``cfg["frontend"]["n_mels"]`` (default 96).
    """
    from .registry import build_encoder

    m = cfg["model"]
    n_mels = input_bands(cfg.get("frontend"))
    encoder = build_encoder(m["encoder"], n_mels=n_mels, **m.get("encoder_args", {}))
    projector = Projector(
        encoder.embedding_dim, hidden_dims=tuple(m["projector"]["hidden_dims"]), out_dim=m["projector"]["out_dim"]
    )
    return ContrastiveModel(encoder, projector)

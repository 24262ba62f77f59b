"""Projector MLP placed after the encoder during contrastive training (SimCLR-style).

The loss is computed on the projector output ``z``; the embeddings tunespace keeps are the
encoder output ``h``. ``Projector(in_dim, hidden_dims, out_dim)`` is a stack of
``len(hidden_dims) + 1`` linear layers: each hidden layer is Linear -> [BatchNorm1d] -> ReLU,
the output layer is Linear (followed by ReLU only if ``final_activation``).

MULE's "projector of 3 x 4096 ReLU layers" is, in this config, exactly the default:
``Projector(1728, hidden_dims=(4096, 4096), out_dim=4096)``: three linear layers of 4096
units, ReLU after the first two (the last is linear, as in SimCLR; pass
``final_activation=True`` for the reading where all three are followed by a ReLU).
Built from torch layers; nothing written by hand beyond the stacking.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn

from ..errors import ConfigError


class Projector(nn.Module):
    """MLP projector ``(B, in_dim) -> (B, out_dim)``.

    Args:
        in_dim: input size (the encoder's ``embedding_dim``).
        hidden_dims: widths of the hidden layers (default ``(4096, 4096)``); empty -> linear.
        out_dim: output size (default 4096).
        batch_norm: insert BatchNorm1d after each hidden linear layer (default False:
            batch statistics leak information between the views of a batch).
        final_activation: apply ReLU after the output layer too (default False).
    """

    def __init__(
        self,
        in_dim: int,
        hidden_dims: Sequence[int] = (4096, 4096),
        out_dim: int = 4096,
        batch_norm: bool = False,
        final_activation: bool = False,
    ) -> None:
        super().__init__()
        dims = [int(in_dim), *(int(d) for d in hidden_dims), int(out_dim)]
        if min(dims) < 1:
            raise ConfigError(f"projector: all dimensions must be >= 1, got {dims}")
        layers: list[nn.Module] = []
        for i, (a, b) in enumerate(zip(dims[:-1], dims[1:])):
            last = i == len(dims) - 2
            layers.append(nn.Linear(a, b, bias=not (batch_norm and not last)))
            if not last:
                if batch_norm:
                    layers.append(nn.BatchNorm1d(b))
                layers.append(nn.ReLU(inplace=True))
            elif final_activation:
                layers.append(nn.ReLU(inplace=True))
        self.net = nn.Sequential(*layers)
        self.in_dim, self.out_dim = dims[0], dims[-1]

    def forward(self, h: torch.Tensor) -> torch.Tensor:
        """``(B, in_dim) -> (B, out_dim)``."""
        return self.net(h)

"""The encoder interface shared by every tunespace model (solo-learn style base class).

An encoder maps a batch of standardised log-mel excerpts ``(B, 1, n_mels, T)`` (T frames
at a 10 ms hop, ``T >= min_frames``) to embeddings ``(B, embedding_dim)``. Subclasses
implement :meth:`Encoder.encode`; :meth:`Encoder.forward` checks the input shape first, so
a wrong shape fails with a one-line :class:`tunespace.errors.UsageError` rather than a
deep shape mismatch.
"""

from __future__ import annotations

import torch
from torch import nn

from ..errors import UsageError


class Encoder(nn.Module):
    """Base class of encoders.

    Attributes:
        name: registry name of the encoder (e.g. ``"small"``).
        n_mels: number of mel bands the encoder expects (input height).
        embedding_dim: size D of the output embedding.
        min_frames: smallest number of input frames T accepted.
    """

    name: str = "encoder"

    def __init__(self, n_mels: int, embedding_dim: int, min_frames: int = 1) -> None:
        super().__init__()
        self.n_mels = int(n_mels)
        self.embedding_dim = int(embedding_dim)
        self.min_frames = int(min_frames)

    def check_input(self, x: torch.Tensor) -> None:
        """Raise :class:`UsageError` unless ``x`` has shape ``(B, 1, n_mels, T >= min_frames)``."""
        if x.ndim != 4 or x.shape[1] != 1 or x.shape[2] != self.n_mels or x.shape[3] < self.min_frames:
            raise UsageError(
                f"encoder '{self.name}': expected input (B, 1, {self.n_mels}, "
                f"T>={self.min_frames}), got {tuple(x.shape)}"
            )

    def encode(self, x: torch.Tensor) -> torch.Tensor:  # pragma: no cover - abstract
        """Map a checked batch ``(B, 1, n_mels, T)`` to embeddings ``(B, embedding_dim)``."""
        raise NotImplementedError

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Embed a batch of log-mel excerpts.

        Args:
            x: float tensor ``(B, 1, n_mels, T)``, standardised log-mel (unitless), T frames.

        Returns:
            ``(B, embedding_dim)`` embeddings (not normalised).
        """
        self.check_input(x)
        return self.encode(x)

    def num_parameters(self, trainable_only: bool = False) -> int:
        """Number of parameters (all, or only those with ``requires_grad``)."""
        return sum(p.numel() for p in self.parameters() if p.requires_grad or not trainable_only)

"""Encoders (by name through a registry), the projector MLP and the contrastive wrapper.

``build_encoder("small")`` (default, ~1 M parameters, CPU-trainable) or
``build_encoder("sfnfnet_f0")`` (MULE's SF-NFNet-F0 port, 1728-d, ~62 M parameters).
Inputs ``(B, 1, n_mels, T)`` standardised log-mel; outputs ``(B, embedding_dim)``.
"""

from . import sfnfnet as _sfnfnet  # noqa: F401  (registers "sfnfnet_f0")
from . import small as _small  # noqa: F401  (registers "small")
from .base import Encoder
from .contrastive import ContrastiveModel, build_model
from .projector import Projector
from .registry import build_encoder, list_encoders, register_encoder

__all__ = [
    "ContrastiveModel",
    "Encoder",
    "Projector",
    "build_encoder",
    "build_model",
    "list_encoders",
    "register_encoder",
]

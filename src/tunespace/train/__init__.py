"""Contrastive training: config, trainer, checkpoints, distributed set-up."""

from .checkpoint import latest_checkpoint, load_checkpoint, resolve_checkpoint
from .config import DEFAULT_CONFIG, resolve_config
from .trainer import ContrastiveNet, TrainResult, build_model, train

__all__ = [
    "DEFAULT_CONFIG",
    "ContrastiveNet",
    "TrainResult",
    "build_model",
    "latest_checkpoint",
    "load_checkpoint",
    "resolve_checkpoint",
    "resolve_config",
    "train",
]

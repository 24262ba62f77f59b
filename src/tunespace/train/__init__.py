"""Contrastive training (written by hand): config, the trainer in parts (``run``: the prepared
run; ``step``: one training step; ``runlog``: metrics, TensorBoard, views, skipped files;
``trainer``: the loop, :func:`train`), checkpoints, distributed set-up."""

from ..models.checkpoint import latest_checkpoint, load_checkpoint, resolve_checkpoint
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

"""Former home of the checkpoint functions, kept for existing imports: they are defined in
:mod:`tunespace.models.checkpoint` (read by train, embed and pretrained alike)."""

from ..models.checkpoint import (
    LATEST,
    checkpoint_dir,
    checkpoint_problem,
    first_lines,
    latest_checkpoint,
    load_checkpoint,
    resolve_checkpoint,
    save_checkpoint,
)

__all__ = [
    "LATEST",
    "checkpoint_dir",
    "checkpoint_problem",
    "first_lines",
    "latest_checkpoint",
    "load_checkpoint",
    "resolve_checkpoint",
    "save_checkpoint",
]

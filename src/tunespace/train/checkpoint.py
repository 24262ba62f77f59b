"""Checkpoints: written atomically, loaded with ``weights_only=True``.

A checkpoint is a dict of tensors and plain values only::

    {"step": int, "model": state_dict, "optimizer": state_dict, "config": dict, "version": str}

``RUN/checkpoints/step_0000100.pt`` files are kept (the last ``keep`` of them) and
``RUN/checkpoints/latest.txt`` names the newest one (updated after the file is complete).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch

from ..errors import UsageError
from ..files import atomic_path, write_text

LATEST = "latest.txt"


def checkpoint_dir(run: str | Path) -> Path:
    return Path(run) / "checkpoints"


def save_checkpoint(run: str | Path, step: int, state: dict[str, Any], keep: int = 2) -> Path:
    """Write ``state`` as the checkpoint of ``step``; prune older ones beyond ``keep``."""
    d = checkpoint_dir(run)
    d.mkdir(parents=True, exist_ok=True)
    path = d / f"step_{step:07d}.pt"
    with atomic_path(path) as tmp:
        torch.save(state, tmp)
    write_text(d / LATEST, path.name + "\n")
    old = sorted(d.glob("step_*.pt"))[:-keep] if keep > 0 else []
    for p in old:
        if p != path:
            p.unlink(missing_ok=True)
    return path


def latest_checkpoint(run: str | Path) -> Path | None:
    """Path of the newest complete checkpoint of a run, or None."""
    d = checkpoint_dir(run)
    pointer = d / LATEST
    if pointer.is_file():
        p = d / pointer.read_text().strip()
        if p.is_file():
            return p
    cands = sorted(d.glob("step_*.pt"))
    return cands[-1] if cands else None


def resolve_checkpoint(run_or_checkpoint: str | Path) -> Path:
    """A checkpoint file given either itself or a run folder.

    Raises:
        UsageError: nothing loadable there.
    """
    p = Path(run_or_checkpoint)
    if p.is_file():
        return p
    if p.is_dir():
        c = latest_checkpoint(p)
        if c is not None:
            return c
        raise UsageError(f"{p}: no checkpoint in this run folder (expected checkpoints/step_*.pt)")
    raise UsageError(f"{p}: no such run folder or checkpoint file")


def load_checkpoint(path: str | Path, map_location: str | torch.device = "cpu") -> dict[str, Any]:
    """Load a checkpoint with ``weights_only=True``.

    Raises:
        UsageError: the file is not a tunespace checkpoint.
    """
    try:
        state = torch.load(path, map_location=map_location, weights_only=True)
    except Exception as e:  # noqa: BLE001 - any unpickling failure is a bad file
        raise UsageError(f"{path}: not a readable checkpoint ({type(e).__name__})") from None
    if not isinstance(state, dict) or "model" not in state or "config" not in state:
        raise UsageError(f"{path}: not a tunespace checkpoint (missing model or config)")
    return state

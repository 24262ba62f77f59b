"""Checkpoints: written atomically, loaded with ``weights_only=True``.

A checkpoint is a dict of tensors and plain values only::

    {"step": int, "model": state_dict, "optimizer": state_dict, "config": dict, "version": str,
     "loss": float}

:func:`load_checkpoint` unpickles with ``weights_only=True`` (which refuses to run code; it
relies on a recent torch: the bypass CVE-2025-32434 was fixed in 2.6, and tunespace asks for
>= 2.10, which carries later fixes to the weights-only unpickler) and then checks that the result
has this shape, so that any other ``.pt`` file is refused with a one-line error instead of
failing later with a ``KeyError`` or a size mismatch.

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
        with open(tmp, "wb") as f:  # a file object: a full disk raises OSError (a path gives a RuntimeError)
            torch.save(state, f)
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


def load_checkpoint(
    path: str | Path, map_location: str | torch.device = "cpu", training: bool = False
) -> dict[str, Any]:
    """Load a checkpoint with ``weights_only=True`` and check its shape.

    Args:
        path: checkpoint file.
        map_location: where tensors are loaded.
        training: also require the optimiser state (to resume training).
    Raises:
        UsageError: the file cannot be unpickled safely, or is not a tunespace checkpoint
            (names what is missing).
    """
    try:
        state = torch.load(path, map_location=map_location, weights_only=True)
    except OSError:
        raise
    except Exception as e:  # noqa: BLE001 - any unpickling failure is a bad file
        raise UsageError(f"{path}: not a readable checkpoint ({type(e).__name__})") from None
    problem = checkpoint_problem(state, training)
    if problem:
        raise UsageError(f"{path}: not a tunespace checkpoint ({problem})")
    return state


def first_lines(e: BaseException, n: int = 2, limit: int = 300) -> str:
    """The first ``n`` non-empty lines of an exception's message, joined (for one-line errors)."""
    lines = [line.strip() for line in str(e).splitlines() if line.strip()]
    text = " ".join(lines[:n]) or type(e).__name__
    return text if len(text) <= limit else text[: limit - 3] + "..."


def checkpoint_problem(state: Any, training: bool = False) -> str | None:
    """What makes ``state`` not a tunespace checkpoint, or None."""
    if not isinstance(state, dict):
        return f"holds a {type(state).__name__}, not a dict"
    for key in ("step", "model", "config") + (("optimizer",) if training else ()):
        if key not in state:
            return f"no {key!r} entry"
    if not isinstance(state["step"], int) or isinstance(state["step"], bool) or state["step"] < 0:
        return "'step' is not an integer >= 0"
    model = state["model"]
    if (
        not isinstance(model, dict)
        or not model
        or not all(isinstance(k, str) and isinstance(v, torch.Tensor) for k, v in model.items())
    ):
        return "'model' is not a state dict of tensors"
    cfg = state["config"]
    if not isinstance(cfg, dict):
        return "'config' is not a dict"
    for section in ("model", "augment", "frontend"):
        if not isinstance(cfg.get(section), dict):
            return f"its config has no {section!r} section"
    if not isinstance(cfg["model"].get("encoder"), str):
        return "its config names no encoder"
    if training and not (
        isinstance(state["optimizer"], dict) and "state" in state["optimizer"] and "param_groups" in state["optimizer"]
    ):
        return "'optimizer' is not an optimiser state dict"
    return None

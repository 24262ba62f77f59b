"""Probes on frozen embeddings: a linear layer or a one-hidden-layer MLP, trained with Adam
and early-stopped on the validation loss (patience in epochs; the best epoch's weights are
kept), fixed seed. Features are standardised with the training set's mean and standard
deviation; regression targets too (predictions are mapped back).

Tasks: ``"multiclass"`` (integer codes, cross-entropy), ``"multilabel"`` ((N, T) binary,
binary cross-entropy), ``"regression"`` ((N,) real, mean squared error).
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

PROBES = ("linear", "mlp")
TASKS = ("multiclass", "multilabel", "regression")


@dataclass
class Probe:
    """A trained probe (see :func:`fit_probe`)."""

    model: Any
    task: str
    mean: np.ndarray
    std: np.ndarray
    y_mean: float
    y_std: float
    epochs: int

    def predict(self, x: np.ndarray) -> np.ndarray:
        """Outputs for (N, D) features: class codes (multiclass), (N, T) probabilities
        (multilabel) or (N,) values (regression)."""
        import torch

        xt = torch.from_numpy(((np.asarray(x, dtype=np.float32) - self.mean) / self.std).astype(np.float32))
        self.model.eval()
        with torch.no_grad():
            out = self.model(xt)
        if self.task == "multiclass":
            return out.argmax(dim=1).numpy()
        if self.task == "multilabel":
            return torch.sigmoid(out).numpy()
        return out[:, 0].numpy().astype(np.float64) * self.y_std + self.y_mean


def _one_torch_thread(fn: Callable[..., Any]) -> Callable[..., Any]:
    """Run ``fn`` with one torch thread (probes are tiny: extra threads only add contention on
    shared CPUs), restoring the caller's setting."""

    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        from ..devices import torch_threads

        with torch_threads(1):
            return fn(*args, **kwargs)

    return wrapper


@_one_torch_thread
def fit_probe(
    x_train: np.ndarray,
    y_train: np.ndarray,
    x_valid: np.ndarray,
    y_valid: np.ndarray,
    *,
    task: str,
    kind: str = "linear",
    n_outputs: int | None = None,
    hidden: int = 256,
    seed: int = 0,
    lr: float = 1e-2,
    weight_decay: float = 1e-4,
    batch_size: int = 64,
    max_epochs: int = 500,
    patience: int = 20,
) -> Probe:
    """Train a probe.

    Args:
        x_train, x_valid: (N, D) features.
        y_train, y_valid: targets (int codes (N,), binary (N, T) or real (N,), by ``task``).
        task: one of :data:`TASKS`.
        kind: ``"linear"`` or ``"mlp"`` (one hidden ReLU layer of ``hidden`` units, dropout 0.25).
        n_outputs: number of classes (multiclass; default max code + 1).
        seed: seed of initialisation and batch order.
        lr, weight_decay: Adam settings.
        batch_size: examples per step.
        max_epochs, patience: early stopping on validation loss.
    """
    import torch
    from torch import nn

    if kind not in PROBES:
        from ..errors import UsageError

        raise UsageError(f"unknown probe {kind!r}; expected one of {PROBES}")
    gen = torch.Generator().manual_seed(seed)
    torch.manual_seed(seed)
    x_train = np.asarray(x_train, dtype=np.float32)
    mean = x_train.mean(axis=0)
    std = x_train.std(axis=0) + 1e-8
    xt = torch.from_numpy((x_train - mean) / std)
    xv = torch.from_numpy(((np.asarray(x_valid, dtype=np.float32) - mean) / std).astype(np.float32))
    y_mean, y_std = 0.0, 1.0
    if task == "multiclass":
        n_out = n_outputs or int(max(y_train.max(), y_valid.max())) + 1
        yt, yv = torch.from_numpy(np.asarray(y_train, np.int64)), torch.from_numpy(np.asarray(y_valid, np.int64))
        loss_fn: Any = nn.CrossEntropyLoss()
    elif task == "multilabel":
        n_out = y_train.shape[1]
        yt, yv = torch.from_numpy(np.asarray(y_train, np.float32)), torch.from_numpy(np.asarray(y_valid, np.float32))
        loss_fn = nn.BCEWithLogitsLoss()
    else:
        n_out = 1
        y_mean, y_std = float(np.mean(y_train)), float(np.std(y_train) + 1e-8)
        yt = torch.from_numpy(((np.asarray(y_train, np.float32) - y_mean) / y_std)[:, None].astype(np.float32))
        yv = torch.from_numpy(((np.asarray(y_valid, np.float32) - y_mean) / y_std)[:, None].astype(np.float32))
        loss_fn = nn.MSELoss()
    d = xt.shape[1]
    model = (
        nn.Linear(d, n_out)
        if kind == "linear"
        else nn.Sequential(nn.Linear(d, hidden), nn.ReLU(), nn.Dropout(0.25), nn.Linear(hidden, n_out))
    )
    opt = torch.optim.Adam(model.parameters(), lr=lr, weight_decay=weight_decay)
    best = float("inf")
    best_state = {k: v.clone() for k, v in model.state_dict().items()}
    best_epoch, epoch = 0, 0
    for epoch in range(1, max_epochs + 1):
        model.train()
        perm = torch.randperm(len(xt), generator=gen)
        for s in range(0, len(xt), batch_size):
            b = perm[s : s + batch_size]
            opt.zero_grad()
            loss_fn(model(xt[b]), yt[b]).backward()
            opt.step()
        model.eval()
        with torch.no_grad():
            v = float(loss_fn(model(xv), yv))
        if v < best - 1e-6:
            best, best_epoch = v, epoch
            best_state = {k: t.clone() for k, t in model.state_dict().items()}
        elif epoch - best_epoch >= patience:
            break
    model.load_state_dict(best_state)
    return Probe(model, task, mean, std, y_mean, y_std, best_epoch)

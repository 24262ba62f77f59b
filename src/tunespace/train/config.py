"""The trainer's configuration: defaults, resolution from file + overrides, validation.

The resolved config is a plain nested dict (JSON-serialisable) written to ``RUN/config.json``.
Sections:

- ``seed``: base seed of every random choice (init, pairs, augmentation, dropout).
- ``data``: ``path`` (dataset: folder, CSV, audio file or list file), ``kind`` (reader,
  ``auto``), ``max_unreadable_share`` (training stops when a larger share of the tracks cannot
  be read or is shorter than the pair window, 0.5; fewer than two usable tracks always stop it;
  the others are left out and listed in ``skipped.csv``), ``cache_audio``
  (``auto``: keep decoded audio in memory when it takes under ``cache_max_gb``),
  ``cache_spectrograms`` (``auto``: with the spectral backend, keep every track's power
  spectrogram in memory when it takes under ``cache_max_gb``: the STFT is then computed once).
- ``frontend``: log-mel settings (see :class:`tunespace.features.FrontEnd`); MULE's by default.
- ``pairs``: ``excerpt_seconds`` (model input, 3 s) and ``max_centre_distance_s`` (5 s).
- ``augment``: ``policy`` (a name like ``ts+ps`` or a custom policy mapping), ``backend``
  (``spectral`` or ``waveform``), ``overrides`` (per-augmentation parameter overrides).
- ``model``: ``encoder`` name and ``encoder_args``; ``projector`` (``hidden_dims``, ``out_dim``).
- ``loss``: ``temperature`` (NT-Xent, 0.1).
- ``train``: ``batch_size`` (pairs per process), ``steps``, ``lr``, ``weight_decay``,
  ``warmup_steps``, ``num_workers`` (``auto``), ``checkpoint_every``, ``keep_checkpoints``,
  ``log_every``, ``amp`` (``auto``: bf16 autocast on CUDA, off on CPU), ``device`` (``auto``),
  ``threads`` (torch CPU threads, 0 = torch's default), ``log_views`` (write each view's
  augmentation parameters to ``views.jsonl``).
"""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

from ..config import apply_overrides, load_yaml, merge, require

DEFAULT_CONFIG: dict[str, Any] = {
    "seed": 0,
    "data": {
        "path": None,
        "kind": "auto",
        "max_unreadable_share": 0.5,
        "cache_audio": "auto",
        "cache_spectrograms": "auto",
        "cache_max_gb": 4.0,
    },
    "frontend": {},
    "pairs": {"excerpt_seconds": 3.0, "max_centre_distance_s": 5.0},
    "augment": {"policy": "none", "backend": "spectral", "overrides": {}},
    "model": {
        "encoder": "small",
        "encoder_args": {},
        "projector": {"hidden_dims": [512], "out_dim": 128},
    },
    "loss": {"temperature": 0.1},
    "train": {
        "batch_size": 32,
        "steps": 300,
        "lr": 1e-3,
        "weight_decay": 1e-4,
        "warmup_steps": 20,
        "num_workers": "auto",
        "checkpoint_every": 100,
        "keep_checkpoints": 2,
        "log_every": 10,
        "amp": "auto",
        "device": "auto",
        "threads": 0,
        "log_views": False,
        "progress": True,
    },
}

_OPEN_SECTIONS = ("frontend", "augment.overrides", "model.encoder_args")


def resolve_config(
    config_file: str | Path | None = None,
    overrides: list[str] | None = None,
    base: dict[str, Any] | None = None,
    **fields: Any,
) -> dict[str, Any]:
    """Defaults, then ``base``, then the YAML file, then ``key=value`` overrides, then ``fields``.

    ``fields`` are dotted keys set last (the CLI's ``--data``, ``--augment``), e.g.
    ``resolve_config(None, [], **{"data.path": "corpus", "augment.policy": "ts"})``.
    """
    cfg = copy.deepcopy(DEFAULT_CONFIG)
    if base:
        cfg = merge(cfg, base)
    if config_file is not None:
        cfg = merge(cfg, load_yaml(config_file))
    cfg = apply_overrides(cfg, overrides or [])
    for key, value in fields.items():
        if value is not None:
            node = cfg
            parts = key.split(".")
            for p in parts[:-1]:
                node = node[p]
            node[parts[-1]] = value
    validate_config(cfg)
    return cfg


def validate_config(cfg: dict[str, Any]) -> None:
    """Range checks that need no data; raises ConfigError naming the parameter."""
    t = cfg["train"]
    require(_int(cfg["seed"]) and cfg["seed"] >= 0, f"seed must be an integer >= 0, got {cfg['seed']!r}")
    require(
        _int(t["batch_size"]) and t["batch_size"] >= 2,
        f"train.batch_size must be an integer >= 2, got {t['batch_size']!r}",
    )
    require(_int(t["steps"]) and t["steps"] >= 1, f"train.steps must be an integer >= 1, got {t['steps']!r}")
    require(_num(t["lr"]) and 0 < t["lr"] < 10, f"train.lr must be in (0, 10), got {t['lr']!r}")
    require(
        _num(t["weight_decay"]) and t["weight_decay"] >= 0,
        f"train.weight_decay must be >= 0, got {t['weight_decay']!r}",
    )
    require(_int(t["warmup_steps"]) and t["warmup_steps"] >= 0, "train.warmup_steps must be an integer >= 0")
    require(
        _int(t["checkpoint_every"]) and t["checkpoint_every"] >= 1, "train.checkpoint_every must be an integer >= 1"
    )
    require(_int(t["log_every"]) and t["log_every"] >= 1, "train.log_every must be an integer >= 1")
    require(t["amp"] in ("auto", "off", "bf16", "fp16"), f"train.amp must be auto, off, bf16 or fp16, got {t['amp']!r}")
    require(
        t["num_workers"] == "auto" or (_int(t["num_workers"]) and t["num_workers"] >= 0),
        "train.num_workers must be 'auto' or an integer >= 0",
    )
    require(
        _num(cfg["loss"]["temperature"]) and cfg["loss"]["temperature"] > 0,
        f"loss.temperature must be > 0, got {cfg['loss']['temperature']!r}",
    )
    require(
        _int(t["keep_checkpoints"]) and t["keep_checkpoints"] >= 0,
        f"train.keep_checkpoints must be an integer >= 0 (0 keeps all), got {t['keep_checkpoints']!r}",
    )
    require(
        _int(t["threads"]) and t["threads"] >= 0,
        f"train.threads must be an integer >= 0 (0: torch's default), got {t['threads']!r}",
    )
    for flag in ("log_views", "progress"):
        require(isinstance(t[flag], bool), f"train.{flag} must be true or false, got {t[flag]!r}")
    require(
        isinstance(t["device"], str) and _device_ok(t["device"]),
        f"train.device must be auto, cpu, cuda or cuda:N, got {t['device']!r}",
    )
    d = cfg["data"]
    for flag in ("cache_audio", "cache_spectrograms"):
        require(
            d.get(flag, "auto") == "auto" or isinstance(d.get(flag), bool),
            f"data.{flag} must be auto, true or false, got {d.get(flag)!r}",
        )
    require(
        _num(d.get("cache_max_gb", 4.0)) and 0 <= d.get("cache_max_gb", 4.0) < float("inf"),
        f"data.cache_max_gb must be a finite number >= 0, got {d.get('cache_max_gb')!r}",
    )
    share = cfg["data"].get("max_unreadable_share", 0.5)
    require(_num(share) and 0 <= share <= 1, f"data.max_unreadable_share must be in [0, 1], got {share!r}")
    p = cfg["pairs"]
    require(
        _num(p["excerpt_seconds"]) and 0.5 <= p["excerpt_seconds"] <= 60,
        f"pairs.excerpt_seconds must be in [0.5, 60], got {p['excerpt_seconds']!r}",
    )
    require(
        _num(p["max_centre_distance_s"]) and p["max_centre_distance_s"] >= 0,
        f"pairs.max_centre_distance_s must be >= 0, got {p['max_centre_distance_s']!r}",
    )
    require(
        cfg["augment"]["backend"] in ("spectral", "waveform"),
        f"augment.backend must be spectral or waveform, got {cfg['augment']['backend']!r}",
    )
    proj = cfg["model"]["projector"]
    require(_int(proj.get("out_dim")) and proj["out_dim"] >= 1, "model.projector.out_dim must be an integer >= 1")
    require(
        isinstance(proj.get("hidden_dims"), list) and all(_int(h) and h >= 1 for h in proj["hidden_dims"]),
        "model.projector.hidden_dims must be a list of positive integers",
    )


def _int(x: Any) -> bool:
    """An integer that is not a bool (``steps=true`` is refused, not read as 1)."""
    return isinstance(x, int) and not isinstance(x, bool)


def _device_ok(name: str) -> bool:
    if name == "auto":
        return True
    import torch

    try:
        return torch.device(name).type in ("cpu", "cuda", "mps")
    except RuntimeError:
        return False


def _num(x: Any) -> bool:
    return isinstance(x, (int, float)) and not isinstance(x, bool)


def lr_at(step: int, base_lr: float, warmup_steps: int, total_steps: int) -> float:
    """Learning rate at ``step``: linear warm-up then cosine decay to 0 (a pure function of step)."""
    import math

    if warmup_steps > 0 and step < warmup_steps:
        return base_lr * (step + 1) / warmup_steps
    span = max(1, total_steps - warmup_steps)
    progress = min(1.0, (step - warmup_steps) / span)
    return base_lr * 0.5 * (1.0 + math.cos(math.pi * progress))

"""The trainer's configuration: its settings (:data:`TRAIN`), resolution from file + overrides, checks.

Every setting (default, type, unit, description) is defined once, in :data:`TRAIN` below; the
reference ``docs/config.md`` is generated from it (``python -m tunespace.config --write
docs/config.md``). The resolved config is a plain nested dict (JSON-serialisable) written to
``RUN/config.json``; :data:`DEFAULT_CONFIG` is the resolved config of no file and no overrides.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from ..config import Param, Section, apply_overrides, check_keys, load_yaml, merge
from ..features.logmel import FRONTEND, FrontEnd
from ..pairs import SILENCE_DRAWS, check_per_track

_AUTO = ("auto",)

#: The trainer's settings, section by section (``docs/config.md``, "Training").
TRAIN = Section(
    "The settings of one training run.",
    {
        "seed": Param(0, int, "base seed of every random choice (initialisation, pairs, augmentation, dropout)", min=0),
        "data": Section(
            "The training data.",
            {
                "path": Param(
                    None,
                    Path,
                    "dataset: a folder of audio, a dataset folder, a CSV of labels, an audio file or a list file "
                    "(`--data`)",
                    also=(None,),
                ),
                "kind": Param("auto", str, "dataset reader (`tunespace datasets`); auto: recognised from the path"),
                "max_unreadable_share": Param(
                    0.5,
                    float,
                    "training stops when a larger share of the tracks cannot be read or is shorter than the pair "
                    "window (fewer than two usable tracks always stop it); the others are left out and listed in "
                    "skipped.csv",
                    min=0,
                    max=1,
                ),
                "cache_audio": Param(
                    "auto",
                    bool,
                    "keep the decoded audio in memory (auto: when it takes under cache_max_gb)",
                    also=_AUTO,
                ),
                "cache_spectrograms": Param(
                    "auto",
                    bool,
                    "with the spectral backend, keep every track's power spectrogram in memory, so that the STFT is "
                    "computed once (auto: when it takes under cache_max_gb)",
                    also=_AUTO,
                ),
                "cache_max_gb": Param(4.0, float, "memory the auto caches may take", unit="GB", min=0),
                "cache_dtype": Param(
                    "float32",
                    str,
                    "storage of the spectrogram cache: bfloat16 halves its memory (each power value within 0.4 % "
                    "of float32's; the model's inputs change accordingly, so runs differ from float32 ones)",
                    choices=("float32", "bfloat16"),
                ),
            },
        ),
        "frontend": Section(FRONTEND.doc, FRONTEND.entries, fill=False),
        "pairs": Section(
            "Positive pairs: two excerpts of the same track.",
            {
                "excerpt_seconds": Param(
                    3.0, float, "length of each excerpt (the model's input)", unit="s", min=0.5, max=60
                ),
                "max_centre_distance_s": Param(
                    5.0, float, "largest distance between the centres of the two excerpts", unit="s", min=0
                ),
                "per_track": Param(
                    1,
                    int,
                    "pairs drawn from each track in a batch (train.batch_size must be a multiple of it); above 1, "
                    "every view of a track is a positive of the others (multi-positive NT-Xent) and a batch holds "
                    "batch_size / per_track tracks",
                    unit="pairs",
                    min=1,
                ),
                "min_rms_db": Param(
                    -60.0,
                    float,
                    "a pair with an excerpt quieter than this (RMS level of the raw excerpt) is drawn again, up to "
                    f"{SILENCE_DRAWS} times; a track without a loud enough pair is skipped for that step and listed in "
                    "skipped.csv; null: silent excerpts are kept",
                    unit="dBFS",
                    also=(None,),
                ),
            },
        ),
        "augment": Section(
            "Data augmentation of the pairs (tunespace.augment).",
            {
                "policy": Param(
                    "none",
                    (str, dict),
                    "a named policy (none, ts, ps, eq, ts+ps, ts+ps+eq, ts+ps+eq+rev, lp; NAME@BACKEND picks the "
                    "backend) or a custom policy mapping {name, apply_to, augmentations} (`--augment`)",
                    expects="a policy name or a policy mapping",
                ),
                "backend": Param(
                    "spectral",
                    str,
                    "spectral: on power spectrograms, batched on the device; waveform: on the audio, with "
                    "audio libraries",
                    choices=("spectral", "waveform"),
                ),
                "overrides": Param(
                    {},
                    dict,
                    "per-augmentation parameter overrides, e.g. {pitch_shift: {max_semitones: 4}}, and apply_to",
                ),
            },
        ),
        "model": Section(
            "The encoder and the projection head of the contrastive loss.",
            {
                "encoder": Param("small", str, "encoder name (tunespace.models: small, sfnfnet_f0)"),
                "encoder_args": Param({}, dict, "keyword arguments of the encoder, e.g. {width: 128, depth: 5}"),
                "projector": Section(
                    "The MLP between the embedding and the loss (dropped after training).",
                    {
                        "hidden_dims": Param([512], list, "widths of the hidden layers", item=int, min=1),
                        "out_dim": Param(128, int, "width of the output the loss compares", min=1),
                    },
                ),
            },
        ),
        "loss": Section(
            "The NT-Xent loss.",
            {"temperature": Param(0.1, float, "softmax temperature", min=0, min_open=True)},
        ),
        "train": Section(
            "The optimisation and its bookkeeping.",
            {
                "batch_size": Param(32, int, "pairs per process and step", unit="pairs", min=2),
                "steps": Param(300, int, "optimisation steps", unit="steps", min=1),
                "lr": Param(
                    1e-3,
                    float,
                    "peak learning rate (linear warm-up, then cosine decay to 0)",
                    min=0,
                    max=10,
                    min_open=True,
                    max_open=True,
                ),
                "weight_decay": Param(1e-4, float, "AdamW weight decay", min=0),
                "warmup_steps": Param(20, int, "steps of linear warm-up", unit="steps", min=0),
                "num_workers": Param(
                    "auto", int, "data-loader processes (auto: from the CPUs available)", min=0, also=_AUTO
                ),
                "checkpoint_every": Param(100, int, "steps between checkpoints", unit="steps", min=1),
                "keep_checkpoints": Param(2, int, "newest checkpoints kept (0: all)", min=0),
                "log_every": Param(10, int, "steps between log lines and TensorBoard points", unit="steps", min=1),
                "amp": Param(
                    "auto",
                    str,
                    "mixed precision of the forward pass: bf16 autocast on CUDA or the CPU, fp16 (with a "
                    "gradient scaler) on CUDA only; auto and off: float32. On a CPU with bfloat16 instructions "
                    "bf16 ran small's step 1.5x and the recipe's trainer 1.3-1.4x faster; on an H200 12-18 % slower "
                    "(docs/benchmarks.md)",
                    choices=("auto", "off", "bf16", "fp16"),
                ),
                "device": Param(
                    "auto",
                    str,
                    "torch device (auto: CUDA when available, else CPU)",
                    check=lambda name: _device_ok(name),
                    expects="auto, cpu, cuda or cuda:N",
                ),
                "threads": Param(0, int, "torch CPU threads (0: torch's default)", min=0),
                "log_views": Param(False, bool, "write each view's augmentation parameters to views.jsonl"),
                "progress": Param(True, bool, "show a progress bar"),
            },
        ),
    },
)

#: The resolved config of no file and no overrides (every default of :data:`TRAIN`).
DEFAULT_CONFIG: dict[str, Any] = TRAIN.defaults()


def resolve_config(
    config_file: str | Path | None = None,
    overrides: list[str] | None = None,
    base: dict[str, Any] | None = None,
    **fields: Any,
) -> dict[str, Any]:
    """Defaults, then ``base``, then the YAML file, then ``key=value`` overrides, then ``fields``
    (the merge rule of :mod:`tunespace.config`), checked against :data:`TRAIN`.

    ``fields`` are dotted keys set last (the CLI's ``--data``, ``--augment``), e.g.
    ``resolve_config(None, [], **{"data.path": "corpus", "augment.policy": "ts"})``.

    Raises:
        ConfigError: an unknown key (with a did-you-mean) or a bad value, naming the key.
    """
    cfg = TRAIN.defaults()
    if base:
        cfg = merge(cfg, base, TRAIN)
    if config_file is not None:
        cfg = merge(cfg, load_yaml(config_file), TRAIN)
    cfg = apply_overrides(cfg, overrides or [], TRAIN)
    for key, value in fields.items():
        if value is not None:
            node, defn = cfg, TRAIN
            parts = key.split(".")
            for depth, p in enumerate(parts[:-1]):
                defn = defn[p]
                if not isinstance(node.get(p), dict):  # e.g. ``data: 5`` in the file, then --data
                    defn.validate(node.get(p), ".".join(parts[: depth + 1]))
                node = node[p]
            node[parts[-1]] = value
    TRAIN.complete(cfg)
    validate_config(cfg)
    return cfg


#: Keys added after runs and studies had been made, each with the value that reproduces the
#: behaviour from before it: :func:`fill_later_keys` gives a stored run config that lacks one that
#: value (so an older run resumes as it was trained), :func:`drop_later_keys` leaves those of
#: :data:`LATER_STAGE_KEYS` out of a study's stage key while they hold that value (so the stages of
#: earlier studies are still found).
LATER_KEYS: dict[tuple[str, str], Any] = {
    ("pairs", "min_rms_db"): None,  # no silence check before it existed
    ("pairs", "per_track"): 1,
}


def fill_later_keys(cfg: dict[str, Any]) -> dict[str, Any]:
    """A copy of a stored trainer config with every missing :data:`LATER_KEYS` entry set to its
    earlier behaviour."""
    out = {k: dict(v) if isinstance(v, dict) else v for k, v in cfg.items()}
    for (section, key), value in LATER_KEYS.items():
        if isinstance(out.get(section), dict):
            out[section].setdefault(key, value)
    return out


#: The :data:`LATER_KEYS` added after study stage keys last changed form (``pairs.min_rms_db``
#: has been part of them since it was added, ``null`` included).
LATER_STAGE_KEYS = (("pairs", "per_track"),)


def drop_later_keys(cfg: dict[str, Any]) -> dict[str, Any]:
    """A copy of a trainer config without the :data:`LATER_STAGE_KEYS` entries that hold their
    earlier behaviour."""
    out = {k: dict(v) if isinstance(v, dict) else v for k, v in cfg.items()}
    for section, key in LATER_STAGE_KEYS:
        value = LATER_KEYS[(section, key)]
        if isinstance(out.get(section), dict) and key in out[section] and out[section][key] == value:
            del out[section][key]
    return out


def validate_config(cfg: dict[str, Any], where: str = "") -> None:
    """Check a resolved config against :data:`TRAIN` (keys, types, ranges) and the front end's
    settings against each other; ConfigError naming the key (below ``where``, e.g. ``train``
    for a study's ``train`` section)."""
    check_keys(cfg, TRAIN, where)
    prefix = f"{where}." if where else ""
    FrontEnd.check(cfg.get("frontend") or {}, f"{prefix}frontend")
    batch, per_track = (cfg.get("train") or {}).get("batch_size"), (cfg.get("pairs") or {}).get("per_track")
    if isinstance(batch, int) and isinstance(per_track, int):
        check_per_track(batch, per_track, prefix)


def _device_ok(name: str) -> bool:
    if name == "auto":
        return True
    import torch

    try:
        return torch.device(name).type in ("cpu", "cuda", "mps")
    except RuntimeError:
        return False


def lr_at(step: int, base_lr: float, warmup_steps: int, total_steps: int) -> float:
    """Learning rate at ``step``: linear warm-up then cosine decay to 0 (a pure function of step)."""
    import math

    if warmup_steps > 0 and step < warmup_steps:
        return base_lr * (step + 1) / warmup_steps
    span = max(1, total_steps - warmup_steps)
    progress = min(1.0, (step - warmup_steps) / span)
    return base_lr * 0.5 * (1.0 + math.cos(math.pi * progress))

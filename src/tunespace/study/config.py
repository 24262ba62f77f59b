"""Study configuration: presets (``demo``, ``default``, ``paper``), YAML files, overrides.

Keys (see ``src/tunespace/configs/study-*.yaml``):

- ``name``; ``seeds``: list of ints; ``conditions``: policy names, ``NAME@BACKEND`` picks
  the augmentation backend (``ps@waveform`` against ``ps@spectral``).
- ``train_data``: ``{name, corpus: {tracks, seconds, seed, source}}`` to build a corpus, or
  ``{name, path, kind}`` for any dataset the readers understand.
- ``eval_data``: list of the same; evaluation may use other data than training.
  Each may restrict ``properties`` and declares its ``role``: ``exploratory`` (the default:
  design choices may be judged on it) or ``confirmatory`` (held back: its verdicts confirm a
  design fixed beforehand; see docs/study.md). The report gives the verdicts of each set
  separately.
- ``train``: trainer config sections (see :mod:`tunespace.train.config`).
- ``embed``: ``slice_seconds``, ``hop_seconds``.
- ``analysis``: ``ks``, ``headline_k`` (the k the claims use), ``properties``, ``bootstrap``
  (query resamples of each model's own locality intervals), ``knn_k``, ``probes``
  (``linear``, ``mlp``), ``folds`` and ``fold_seed`` (the probes' cross-validation, the same
  folds for every condition), ``null_replicates`` and ``null_seed`` (random embeddings for the
  noise floor), ``split_seed`` (the halves of claim 4).
- ``baselines``: reference embeddings computed alongside (chroma, mfcc, tempogram, random).
- ``umap``: draw the 2-D maps.
"""

from __future__ import annotations

import copy
from importlib import resources
from pathlib import Path
from typing import Any

import yaml

from ..augment import parse_condition
from ..augment.policy import build_policy
from ..config import Each, apply_overrides, check_keys, load_yaml, require
from ..errors import ConfigError

PRESETS = ("demo", "default", "paper")
_KNOWN = {"name", "seeds", "conditions", "train_data", "eval_data", "train", "embed", "analysis", "baselines", "umap"}
_BASELINES = {"chroma", "mfcc", "tempogram", "random"}
ROLES = ("exploratory", "confirmatory")
_DATA = {
    "name": None,
    "corpus": {"tracks": None, "seconds": None, "seed": None, "source": None},
    "path": None,
    "kind": None,
    "properties": None,
    "role": None,
}
#: Every key a study config may hold, checked at every depth with a did-you-mean suggestion
#: (tunespace.config.check_keys); ``train`` is checked against the trainer's defaults. Add new keys here.
SCHEMA: dict[str, Any] = {
    "name": None,
    "seeds": None,
    "conditions": None,
    "train_data": _DATA,
    "eval_data": Each(_DATA),
    "train": None,
    "embed": {"slice_seconds": None, "hop_seconds": None, "min_seconds": None, "silence_db": None},
    "analysis": dict.fromkeys(
        (
            "ks",
            "headline_k",
            "properties",
            "bootstrap",
            "knn_k",
            "probes",
            "folds",
            "fold_seed",
            "null_replicates",
            "null_seed",
            "split_seed",
        )
    ),
    "baselines": None,
    "umap": None,
}


def preset(name: str) -> dict[str, Any]:
    """The study config of a named preset."""
    if name not in PRESETS:
        raise ConfigError(f"unknown preset {name!r}; known: {', '.join(PRESETS)}")
    text = resources.files("tunespace").joinpath(f"configs/study-{name}.yaml").read_text(encoding="utf-8")
    return yaml.safe_load(text)


def resolve_study_config(
    config_file: str | Path | None = None, preset_name: str | None = None, overrides: list[str] | None = None
) -> dict[str, Any]:
    """Preset or file (the file's keys override the preset's), then ``key=value`` overrides."""
    if config_file is None and preset_name is None:
        preset_name = "default"
    cfg = preset(preset_name) if preset_name else {}
    if config_file is not None:
        user = load_yaml(config_file)
        cfg = {**copy.deepcopy(cfg), **user} if cfg else user
    cfg = apply_overrides(cfg, overrides or [], strict=False)
    validate_study_config(cfg)
    return cfg


def validate_study_config(cfg: dict[str, Any]) -> None:
    """Check names and ranges before any work starts (ConfigError naming the key)."""
    from ..train.config import DEFAULT_CONFIG

    check_keys(cfg, {**SCHEMA, "train": DEFAULT_CONFIG}, what="study config key")
    for key in ("seeds", "conditions", "train_data", "eval_data"):
        require(key in cfg, f"study config lacks {key!r}")
    require(
        isinstance(cfg["seeds"], list)
        and cfg["seeds"]
        and all(isinstance(s, int) and not isinstance(s, bool) and s >= 0 for s in cfg["seeds"]),
        "seeds must be a non-empty list of integers >= 0",
    )
    require(isinstance(cfg["conditions"], list) and cfg["conditions"], "conditions must be a non-empty list")
    require(len(set(cfg["conditions"])) == len(cfg["conditions"]), "conditions must not repeat")
    for c in cfg["conditions"]:
        policy, backend = parse_condition(str(c))
        build_policy(policy, backend or "spectral")
    for spec in [cfg["train_data"], *cfg["eval_data"]]:
        require(
            isinstance(spec, dict) and ("corpus" in spec or "path" in spec),
            f"a data entry needs 'corpus' or 'path': {spec!r}",
        )
        require("name" in spec, f"a data entry needs a 'name': {spec!r}")
    names = [s["name"] for s in cfg["eval_data"]]
    require(len(set(names)) == len(names), "eval_data names must be unique")
    for spec in cfg["eval_data"]:
        spec.setdefault("role", "exploratory")
        require(
            spec["role"] in ROLES,
            f"eval_data {spec['name']!r}: role must be one of {', '.join(ROLES)}, got {spec['role']!r}",
        )
    for b in cfg.get("baselines", []) or []:
        require(b in _BASELINES, f"unknown baseline {b!r}; known: {', '.join(sorted(_BASELINES))}")
    a = cfg.setdefault("analysis", {})
    a.setdefault("ks", [1, 5, 10, 20])
    a.setdefault("headline_k", 10)
    a.setdefault("properties", None)
    a.setdefault("bootstrap", 200)
    a.setdefault("knn_k", 10)
    a.setdefault("probes", ["linear"])
    a.setdefault("folds", 5)
    a.setdefault("fold_seed", 0)
    a.setdefault("null_replicates", 200)
    a.setdefault("null_seed", 0)
    a.setdefault("split_seed", 0)
    require(isinstance(a["folds"], int) and a["folds"] >= 2, "analysis.folds must be an integer >= 2")
    require(
        isinstance(a["null_replicates"], int) and a["null_replicates"] >= 2,
        "analysis.null_replicates must be an integer >= 2",
    )
    require(a["headline_k"] in a["ks"], "analysis.headline_k must be one of analysis.ks")
    require(all(isinstance(k, int) and k >= 1 for k in a["ks"]), "analysis.ks must be positive integers")
    for p in a["probes"]:
        require(p in ("linear", "mlp"), f"unknown probe {p!r}; known: linear, mlp")
    cfg.setdefault("embed", {"slice_seconds": 3.0, "hop_seconds": 2.0})
    cfg.setdefault("train", {})
    cfg.setdefault("baselines", [])
    cfg.setdefault("umap", True)
    require(isinstance(cfg["umap"], bool), f"umap must be true or false, got {cfg['umap']!r}")
    from ..embed.extract import check_embed_settings
    from ..errors import UsageError
    from ..train.config import resolve_config

    try:  # the embed and train sections' values, before any stage runs
        check_embed_settings(**cfg["embed"])
    except UsageError as e:
        raise ConfigError(f"embed.{e}") from None
    resolve_config(None, [], base=cfg["train"])

"""The study's config (tunespace.study.config): presets, the merge of a file over a preset,
and every key and value checked before any work starts."""

from __future__ import annotations

import json

import pytest

from tunespace.errors import ConfigError
from tunespace.study.config import STUDY, preset, resolve_study_config, validate_study_config

#: The presets as they resolved before the settings were typed (frozen: stage keys are hashes
#: of these sections, so a change would recompute every cached stage of an existing study).
FROZEN_PRESETS = {
    "demo": {
        "name": "demo",
        "seeds": [0, 1, 2, 3],
        "conditions": ["none", "ts", "ps"],
        "train_data": {
            "name": "corpus-train",
            "corpus": {"tracks": 240, "seconds": 30, "seed": 0, "source": "procedural"},
        },
        "eval_data": [
            {
                "name": "corpus-heldout",
                "role": "exploratory",
                "corpus": {"tracks": 160, "seconds": 30, "seed": 1, "source": "procedural"},
            },
            {
                "name": "music21-confirm",
                "role": "confirmatory",
                "corpus": {"tracks": 120, "seconds": 20, "seed": 2025, "source": "music21"},
            },
        ],
        "train": {
            "model": {"encoder_args": {"width": 128, "depth": 5}},
            "train": {
                "steps": 160,
                "batch_size": 32,
                "lr": 0.002,
                "warmup_steps": 20,
                "checkpoint_every": 50,
                "log_every": 20,
            },
        },
        "embed": {"slice_seconds": 3.0, "hop_seconds": 2.0},
        "analysis": {
            "ks": [1, 5, 10, 20],
            "headline_k": 10,
            "properties": ["key", "tempo_bpm", "genre", "mood", "instrument"],
            "bootstrap": 200,
            "knn_k": 10,
            "probes": ["linear"],
            "folds": 5,
            "null_replicates": 200,
            "fold_seed": 0,
            "null_seed": 0,
            "split_seed": 0,
        },
        "baselines": ["chroma", "mfcc", "tempogram"],
        "umap": True,
    },
    "default": {
        "name": "default",
        "seeds": [0, 1, 2],
        "conditions": ["none", "ts", "ps", "eq", "ts+ps", "ts+ps+eq", "ps@waveform", "ts@waveform"],
        "train_data": {
            "name": "corpus-train",
            "corpus": {"tracks": 400, "seconds": 30, "seed": 0, "source": "procedural"},
        },
        "eval_data": [
            {
                "name": "corpus-heldout",
                "corpus": {"tracks": 300, "seconds": 30, "seed": 1, "source": "procedural"},
                "role": "exploratory",
            }
        ],
        "train": {
            "train": {
                "steps": 1000,
                "batch_size": 32,
                "lr": 0.002,
                "warmup_steps": 50,
                "checkpoint_every": 200,
                "log_every": 20,
            }
        },
        "embed": {"slice_seconds": 3.0, "hop_seconds": 2.0},
        "analysis": {
            "ks": [1, 5, 10, 20, 50],
            "headline_k": 10,
            "properties": ["key", "tempo_bpm", "genre", "mood", "instrument"],
            "bootstrap": 1000,
            "knn_k": 10,
            "probes": ["linear", "mlp"],
            "folds": 5,
            "fold_seed": 0,
            "null_replicates": 200,
            "null_seed": 0,
            "split_seed": 0,
        },
        "baselines": ["chroma", "mfcc", "tempogram", "random"],
        "umap": True,
    },
    "paper": {
        "name": "paper",
        "seeds": [0, 1, 2],
        "conditions": ["none", "ts", "ps", "eq", "ts+ps", "ts+ps+eq"],
        "train_data": {
            "name": "corpus-train",
            "corpus": {"tracks": 4000, "seconds": 30, "seed": 0, "source": "procedural"},
        },
        "eval_data": [
            {
                "name": "corpus-heldout",
                "corpus": {"tracks": 1000, "seconds": 30, "seed": 1, "source": "procedural"},
                "role": "exploratory",
            }
        ],
        "train": {
            "model": {"encoder": "sfnfnet_f0", "projector": {"hidden_dims": [4096, 4096], "out_dim": 4096}},
            "train": {
                "steps": 100000,
                "batch_size": 120,
                "lr": 0.0005,
                "warmup_steps": 2000,
                "checkpoint_every": 1000,
                "log_every": 50,
                "num_workers": 8,
            },
            "augment": {"backend": "spectral"},
        },
        "embed": {"slice_seconds": 3.0, "hop_seconds": 2.0},
        "analysis": {
            "ks": [1, 5, 10, 20, 50],
            "headline_k": 10,
            "properties": ["key", "tempo_bpm", "genre", "mood", "instrument"],
            "bootstrap": 1000,
            "knn_k": 10,
            "probes": ["linear", "mlp"],
            "folds": 5,
            "fold_seed": 0,
            "null_replicates": 200,
            "null_seed": 0,
            "split_seed": 0,
        },
        "baselines": ["chroma", "mfcc", "tempogram", "random"],
        "umap": True,
    },
}


@pytest.mark.parametrize("name", ["demo", "default", "paper"])
def test_presets_resolve_unchanged(name):
    resolved = resolve_study_config(None, name)
    # a launcher section (added to a preset later) is kept as given: its defaults apply where it is read
    launcher = resolved.pop("launcher", None)
    assert launcher == preset(name).get("launcher")
    assert resolved == FROZEN_PRESETS[name]
    assert json.dumps(resolved) == json.dumps(FROZEN_PRESETS[name])  # key order too (config.json)


def _re(text: str) -> str:
    return text.replace("[", r"\[").replace("]", r"\]").replace("(", r"\(").replace(")", r"\)")


@pytest.mark.parametrize(
    "override,message",
    [
        ("analysis.headlin_k=5", "unknown study config key 'analysis.headlin_k'; did you mean 'analysis.headline_k'?"),
        ("embed.slice_secondz=1", "did you mean 'embed.slice_seconds'"),
        ("umap=maybe", "umap must be true or false, got 'maybe'"),
        ("umap=1", "umap must be true or false, got 1"),
        ("train.train.stepz=5", "did you mean 'train.train.steps'"),
        ("train.train.steps=true", "train.train.steps must be an integer >= 1, got true"),
        ("train.frontend.win_length=4096", "train.frontend.win_length must not exceed n_fft"),
        ("train_data.corpus.trackz=5", "did you mean 'train_data.corpus.tracks'"),
        ("train_data.corpus.tracks=true", "train_data.corpus.tracks must be an integer >= 1, got true"),
        ("eval_data=[{name: a, path: /x, propertis: [key]}]", "did you mean 'eval_data[0].properties'"),
        ("eval_data=[{name: a, path: /x, role: main}]", "eval_data[0].role must be exploratory or confirmatory"),
        ("eval_data=[{name: a}]", "eval_data[0] needs either corpus or path"),
        ("eval_data=[{path: /x}]", "eval_data[0] lacks 'name'"),
        ("eval_data=[]", "eval_data must be a non-empty list of sections"),
        ("eval_data.0.name=x", "config key 'eval_data' is a list: give it whole"),
        ("seeds=[true]", "seeds must be a non-empty list of integers >= 0, got [true]"),
        ("seeds=[]", "seeds must be a non-empty list of integers >= 0, got []"),
        ("conditions=[ts, ts]", "conditions must not repeat"),
        ("conditions=[zz]", "conditions[0] 'zz': augment.policy: unknown policy 'zz'"),
        ("analysis.folds=true", "analysis.folds must be an integer >= 2, got true"),
        ("analysis.headline_k=7", "analysis.headline_k must be one of analysis.ks"),
        ("analysis.probes=[svm]", "analysis.probes must be a list of linear or mlp, got ['svm']"),
        ("baselines=[chrome]", "baselines must be a list of chroma, mfcc, tempogram or random"),
        ("embed.hop_seconds=true", "embed.hop_seconds must be a number in [0.01, 3600], got true"),
        ("launcher.nodez=2", "did you mean 'launcher.nodes'"),
        ("launcher.nodes=true", "launcher.nodes must be an integer >= 1, got true"),
        ("launcher.kind=cloud", "launcher.kind must be local or slurm, got 'cloud'"),
    ],
)
def test_study_overrides_are_checked_before_any_work(override, message):
    with pytest.raises(ConfigError, match=_re(message)):
        resolve_study_config(None, "demo", [override])


def test_required_keys():
    with pytest.raises(ConfigError, match="study config lacks 'seeds'"):
        validate_study_config({"conditions": ["none"]})


def test_a_file_merges_over_the_preset(tmp_path):
    """The one merge rule: the file's sections merge key by key into the preset's; lists and
    ``train_data`` are replaced whole."""
    (tmp_path / "s.yaml").write_text(
        "analysis: {bootstrap: 10}\n"
        "train: {train: {steps: 5}}\n"
        "train_data: {name: mine, path: /data/mine}\n"
        "seeds: [7]\n"
    )
    cfg = resolve_study_config(tmp_path / "s.yaml", "demo")
    demo = FROZEN_PRESETS["demo"]
    assert cfg["analysis"] == {**demo["analysis"], "bootstrap": 10}
    assert cfg["train"]["model"] == demo["train"]["model"]
    assert cfg["train"]["train"] == {**demo["train"]["train"], "steps": 5}
    assert cfg["train_data"] == {"name": "mine", "path": "/data/mine"}
    assert cfg["seeds"] == [7] and cfg["eval_data"] == demo["eval_data"]


def test_study_config_file_keys_are_checked(tmp_path):
    (tmp_path / "s.yaml").write_text("analysis: {ks: [1, 5], headline_k: 5, bootstrapp: 10}\n")
    with pytest.raises(ConfigError, match="did you mean 'analysis.bootstrap'"):
        resolve_study_config(tmp_path / "s.yaml", "demo")


def test_a_file_alone_gets_the_defaults(tmp_path):
    (tmp_path / "s.yaml").write_text(
        "seeds: [0]\nconditions: [none]\ntrain_data: {name: t, path: /t}\neval_data: [{name: e, path: /e}]\n"
    )
    cfg = resolve_study_config(tmp_path / "s.yaml")
    assert cfg["analysis"] == STUDY["analysis"].defaults()
    assert cfg["embed"] == {"slice_seconds": 3.0, "hop_seconds": 2.0}
    assert cfg["eval_data"] == [{"name": "e", "path": "/e", "role": "exploratory"}]
    assert (cfg["train"], cfg["baselines"], cfg["umap"]) == ({}, [], True)
    assert "launcher" not in cfg and "name" not in cfg  # applied where read, not written


def test_launcher_definitions_match_the_launchers_defaults():
    """The launcher's defaults are resolve_launcher's: the docs cannot show others."""
    from tunespace.study.launcher import DEFAULTS

    assert {k: p.default for k, p in STUDY["launcher"].entries.items()} == DEFAULTS


def test_presets_are_valid_yaml_of_known_keys():
    for name in ("demo", "default", "paper"):
        cfg = preset(name)
        validate_study_config(cfg)


def test_augmentation_overrides_apply_to_the_conditions_that_have_them(tmp_path):
    """``train.augment.overrides`` of a study set parameters of the conditions whose policy has
    the augmentation; the others (``none``) train without them instead of failing at their
    training stage with "override for an augmentation not in policy 'none'"."""
    from tunespace.augment.pipeline import make_pair_transform
    from tunespace.study.runner import train_config

    cfg = resolve_study_config(
        None, "demo", ["conditions=[none, ps]", "train.augment.overrides={pitch_shift: {max_semitones: 4}}"]
    )
    none, ps = (train_config(cfg, c, 0, tmp_path) for c in ("none", "ps"))
    assert none["augment"]["overrides"] == {} and ps["augment"]["overrides"] == {"pitch_shift": {"max_semitones": 4}}
    for t in (none, ps):  # what the trainer's prepare() builds
        make_pair_transform(
            t["augment"]["policy"], t["augment"]["backend"], t["frontend"], 3.0, t["augment"]["overrides"]
        )


@pytest.mark.parametrize(
    "overrides, message",
    [
        ("{pitch_shift: {max_semitones: true}}", "max_semitones"),
        ("{time_stretch: {max_rate: 1.2}}", "time_stretch"),  # in no condition's policy
    ],
)
def test_augmentation_overrides_are_checked_before_any_work(overrides, message):
    with pytest.raises(ConfigError, match=message):
        resolve_study_config(None, "demo", ["conditions=[none, ps]", f"train.augment.overrides={overrides}"])


@pytest.mark.parametrize(
    "override, message",
    [("train.model.encoder=nope", "unknown encoder 'nope'"), ("train.model.encoder_args={widthh: 3}", "widthh")],
)
def test_encoder_settings_are_checked_before_any_work(override, message):
    """A misspelt encoder or option fails when the study starts, not at its first training stage
    (after the corpora are built)."""
    with pytest.raises(ConfigError, match=message):
        resolve_study_config(None, "demo", [override])


def test_seeds_must_not_repeat():
    """As conditions: a repeated seed would be one model counted as two in the report's seeds."""
    with pytest.raises(ConfigError, match="seeds must not repeat"):
        resolve_study_config(None, "demo", ["seeds=[0, 1, 0]"])

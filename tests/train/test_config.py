"""The trainer's config (tunespace.train.config): its defaults, resolution and checks."""

from __future__ import annotations

import json

import pytest

from tunespace.config import Param, Section
from tunespace.errors import ConfigError
from tunespace.train.config import DEFAULT_CONFIG, LATER_STAGE_KEYS, TRAIN, drop_later_keys, resolve_config

#: ``DEFAULT_CONFIG`` as the dict literal it was before the settings were typed (frozen: the
#: typed definitions must resolve to exactly this, key order included, so that runs, stage keys
#: and ``make demo``'s results stay as they were).
FROZEN_DEFAULTS = {
    "seed": 0,
    "data": {
        "path": None,
        "kind": "auto",
        "max_unreadable_share": 0.5,
        "cache_audio": "auto",
        "cache_spectrograms": "auto",
        "cache_max_gb": 4.0,
        "cache_dtype": "float32",
    },
    "frontend": {},
    "pairs": {"excerpt_seconds": 3.0, "max_centre_distance_s": 5.0, "min_rms_db": -60.0},
    "augment": {"policy": "none", "backend": "spectral", "overrides": {}},
    "model": {"encoder": "small", "encoder_args": {}, "projector": {"hidden_dims": [512], "out_dim": 128}},
    "loss": {"temperature": 0.1},
    "train": {
        "batch_size": 32,
        "steps": 300,
        "lr": 0.001,
        "weight_decay": 0.0001,
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


def test_default_config_is_unchanged():
    """Keys added since (``LATER_STAGE_KEYS``) hold their earlier behaviour by default and leave
    the study's stage keys as they were."""
    assert {s: k for s, k in LATER_STAGE_KEYS} == {"pairs": "per_track"}
    assert DEFAULT_CONFIG["pairs"]["per_track"] == 1
    assert drop_later_keys(DEFAULT_CONFIG) == FROZEN_DEFAULTS
    assert json.dumps(drop_later_keys(resolve_config())) == json.dumps(FROZEN_DEFAULTS)  # key order too


def test_every_setting_is_documented_with_a_type():
    def walk(section: Section, where: str):
        for name, e in section.entries.items():
            key = f"{where}{name}"
            if isinstance(e, Param):
                assert e.doc and e.describe(), key
                assert e.accepts(e.default) or (e.default is None and not e.fill), key
            else:
                assert e.doc, key
                walk(e, key + ".")

    walk(TRAIN, "")


@pytest.mark.parametrize(
    "override,message",
    [
        ("train.batch_size=true", "train.batch_size must be an integer >= 2, got true"),
        ("train.steps=2.5", "train.steps must be an integer >= 1, got 2.5"),
        ("train.lr=true", "train.lr must be a number in (0, 10), got true"),
        ("train.lr=.nan", "train.lr must be a number in (0, 10), got nan"),
        ("train.log_views=1", "train.log_views must be true or false, got 1"),
        ("train.amp=fp32", "train.amp must be auto, off, bf16 or fp16, got 'fp32'"),
        ("train.device=tpu", "train.device must be auto, cpu, cuda or cuda:N, got 'tpu'"),
        ("train.num_workers=true", "train.num_workers must be auto or an integer >= 0, got true"),
        ("data.cache_audio=1", "data.cache_audio must be auto, true or false, got 1"),
        ("data.path=3", "data.path must be null or a path, got 3"),
        ("model.projector.hidden_dims=[16, false]", "model.projector.hidden_dims must be a list of integers >= 1"),
        ("augment.policy=3", "augment.policy must be a policy name or a policy mapping, got 3"),
        ("augment.backend=gpu", "augment.backend must be spectral or waveform, got 'gpu'"),
        ("seed=false", "seed must be an integer >= 0, got false"),
        ("train.stepz=5", "unknown config key 'train.stepz'; did you mean 'train.steps'?"),
        ("frontend.nfft=512", "unknown config key 'frontend.nfft'; did you mean 'frontend.n_fft'?"),
        ("frontend.htk=1", "frontend.htk must be true or false, got 1"),
        ("frontend.win_length=4096", "frontend.win_length must not exceed n_fft (2048), got 4096"),
        ("model.encoder_argz={}", "did you mean 'model.encoder_args'?"),
    ],
)
def test_bad_values_are_refused_naming_the_key(override, message):
    with pytest.raises(ConfigError) as e:
        resolve_config(None, [override])
    assert message in str(e.value)


def test_config_file_keys_and_values_are_checked(tmp_path):
    (tmp_path / "c.yaml").write_text("train: {steps: 5, lrr: 0.1}\n")
    with pytest.raises(ConfigError, match="did you mean 'train.lr'"):
        resolve_config(tmp_path / "c.yaml")
    (tmp_path / "c.yaml").write_text("model: {projector: {out_dim: true}}\n")
    with pytest.raises(ConfigError, match="model.projector.out_dim must be an integer >= 1, got true"):
        resolve_config(tmp_path / "c.yaml")


def test_layers_merge_in_order(tmp_path):
    """Defaults, base, file, overrides, fields: each merged over the previous (mappings key by key)."""
    (tmp_path / "c.yaml").write_text("model: {encoder_args: {depth: 2}}\ntrain: {steps: 7, lr: 0.01}\nfrontend:\n")
    cfg = resolve_config(
        tmp_path / "c.yaml",
        ["train.steps=9", "model.projector.out_dim=16"],
        base={"model": {"encoder_args": {"width": 8}}, "train": {"steps": 3, "batch_size": 4}},
        **{"data.path": "corpus", "seed": 3},
    )
    assert cfg["model"] == {
        "encoder": "small",
        "encoder_args": {"width": 8, "depth": 2},
        "projector": {"hidden_dims": [512], "out_dim": 16},
    }
    assert (cfg["train"]["steps"], cfg["train"]["lr"], cfg["train"]["batch_size"]) == (9, 0.01, 4)
    assert (cfg["data"]["path"], cfg["seed"], cfg["frontend"]) == ("corpus", 3, {})
    assert json.loads(json.dumps(cfg)) == cfg  # plain, JSON-serialisable


def test_a_section_replaced_by_an_override_gets_its_defaults():
    cfg = resolve_config(None, ["model={encoder: small}"])
    assert cfg["model"] == FROZEN_DEFAULTS["model"]


def test_front_end_settings_stay_as_given():
    """The resolved ``frontend`` holds what was given (the trainer builds FrontEnd from it)."""
    assert resolve_config(None, ["frontend.n_mels=64"])["frontend"] == {"n_mels": 64}


def test_a_field_below_a_setting_that_is_not_a_section_is_a_config_error(tmp_path):
    """``--data DIR`` over a file whose ``data`` is not a mapping: one ConfigError naming the
    key, not a TypeError from assigning into an int."""
    f = tmp_path / "c.yaml"
    f.write_text("data: 5\n")
    with pytest.raises(ConfigError, match="data"):
        resolve_config(f, [], **{"data.path": "corpus"})

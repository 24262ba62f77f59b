import numpy as np
import pytest

from tunespace.augment import NAMED, build_policy, parse_condition
from tunespace.errors import ConfigError


@pytest.mark.parametrize("name", list(NAMED))
@pytest.mark.parametrize("backend", ["waveform", "spectral"])
def test_named_policies(name, backend):
    pol = build_policy(name, backend)
    assert pol.backend == backend and pol.apply_to == "one" and pol.views == ("b",)
    assert [a.kind for a in pol.augmentations] == NAMED[name]
    assert all(a.p == 1.0 for a in pol.augmentations)
    assert pol.max_speedup() == (1.4 if "ts" in name else 1.0)
    params = pol.sample(np.random.default_rng(0), 3)
    assert params["a"] == {} and set(params["b"]) == set(NAMED[name])


def test_parse_condition():
    assert parse_condition("ps@waveform") == ("ps", "waveform")
    assert parse_condition(" ts+ps@spectral ") == ("ts+ps", "spectral")
    assert build_policy("ps@waveform", "spectral").backend == "waveform"
    with pytest.raises(ConfigError, match="backend"):
        parse_condition("ps@gpu")
    with pytest.raises(ConfigError, match="empty policy name"):
        parse_condition("@waveform")


def test_no_suffix_keeps_the_configured_backend():
    # bug: a condition without @backend used to come back as "spectral" and override the config
    assert parse_condition("ts+ps+eq") == ("ts+ps+eq", None)
    assert build_policy("ps", "waveform").backend == "waveform"


def test_train_cli_augment_without_suffix_keeps_the_config_files_backend(tmp_path, monkeypatch):
    import tunespace.train
    from tunespace.cli import main

    seen = []
    monkeypatch.setattr(tunespace.train, "train", lambda out, cfg, resume=False: seen.append(cfg) or 1 / 0)
    config = tmp_path / "train.yaml"
    config.write_text("augment: {backend: waveform}\n")
    for augment, backend in (("ts", "waveform"), ("ts@spectral", "spectral")):
        with pytest.raises(ZeroDivisionError):
            main(
                [
                    "train",
                    "--data",
                    str(tmp_path),
                    "--config",
                    str(config),
                    "--augment",
                    augment,
                    "--out",
                    str(tmp_path / "run"),
                ]
            )
        assert (seen[-1]["augment"]["policy"], seen[-1]["augment"]["backend"]) == (augment.split("@")[0], backend)


def test_study_condition_without_suffix_keeps_the_studys_backend(tmp_path):
    from tunespace.study.runner import train_config

    study = {"train": {"augment": {"backend": "waveform"}}}
    assert train_config(study, "ts", 0, tmp_path)["augment"]["backend"] == "waveform"
    assert train_config(study, "ts@spectral", 0, tmp_path)["augment"]["backend"] == "spectral"
    assert train_config({}, "ps", 1, tmp_path)["augment"]["backend"] == "spectral"  # the trainer's default


def test_low_pass_is_available_but_in_no_paper_policy():
    assert [n for n, kinds in NAMED.items() if "low_pass" in kinds] == ["lp"]
    for backend in ("waveform", "spectral"):
        pol = build_policy(
            {"augmentations": [{"type": "low_pass", "min_cutoff_hz": 800, "max_cutoff_hz": 900}]}, backend
        )
        cutoff = pol.sample(np.random.default_rng(0), 50)["b"]["low_pass"]["cutoff_hz"]
        assert 800 <= cutoff.min() and cutoff.max() <= 900
    with pytest.raises(ConfigError, match="low_pass.max_cutoff_hz: 9000 Hz is not below Nyquist"):
        build_policy({"augmentations": [{"type": "low_pass", "max_cutoff_hz": 9000}]}, "spectral")


def test_custom_policy_and_overrides():
    spec = {
        "name": "mine",
        "apply_to": "both",
        "augmentations": [
            {"type": "pitch_shift", "p": 0.8, "min_semitones": -4, "max_semitones": 4},
            {"type": "gain", "min_gain_db": -3, "max_gain_db": 3},
        ],
    }
    pol = build_policy(spec, "spectral")
    assert pol.name == "mine" and pol.views == ("a", "b")
    assert pol.augmentations[0].p == 0.8 and pol.augmentations[0].max_semitones == 4
    params = pol.sample(np.random.default_rng(0), 5)
    assert not np.array_equal(params["a"]["pitch_shift"]["semitones"], params["b"]["pitch_shift"]["semitones"])
    pol = build_policy("ts+ps", overrides={"time_stretch": {"max_rate": 1.2}, "apply_to": "both"})
    assert pol.max_speedup() == 1.2 and pol.apply_to == "both"


@pytest.mark.parametrize(
    "spec,overrides,word",
    [
        ("nope", None, "augment.policy"),
        ({"augmentations": [{"type": "flanger"}]}, None, "augment.type"),
        ({"augmentations": [{"type": "time_stretch", "min_rate": 0.0}]}, None, "time_stretch.min_rate"),
        ({"augmentations": [{"type": "time_stretch", "min_rate": -1}]}, None, "time_stretch.min_rate"),
        ({"augmentations": [{"type": "pitch_shift", "min_semitones": 3, "max_semitones": 1}]}, None, "min_semitones"),
        ({"augmentations": [{"type": "eq", "p": 1.5}]}, None, "eq.p"),
        ({"augmentations": [{"type": "gain", "max_gain_db": 500}]}, None, "gain.max_gain_db"),
        ({"augmentations": [{"type": "gain", "loudness": 3}]}, None, "gain.loudness"),
        ({"augmentations": [{"type": "time_stretch", "keep_length": False}]}, None, "time_stretch.keep_length"),
        ({"augmentations": [{"type": "eq", "frontend": None}]}, None, "eq.frontend"),
        ({"apply_to": "neither"}, None, "apply_to"),
        ("ts", {"pitch_shift": {"max_semitones": 2}}, "pitch_shift"),
        ("ts", {"time_stretch": {"max_rate": "fast"}}, "max_rate"),
    ],
)
def test_policy_errors_are_one_line_config_errors(spec, overrides, word):
    with pytest.raises(ConfigError, match=word.replace("+", r"\+")) as e:
        build_policy(spec, "spectral", overrides)
    assert "\n" not in str(e.value)

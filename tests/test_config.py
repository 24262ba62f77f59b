"""Config helpers: every key checked at every depth, with a did-you-mean suggestion."""

from __future__ import annotations

import pytest

from tunespace.config import Each, apply_overrides, check_keys, merge, unknown_key
from tunespace.errors import ConfigError

DEFAULTS = {"train": {"steps": 1, "lr": 0.1}, "model": {"projector": {"out_dim": 8}}, "frontend": {}, "seed": 0}


@pytest.mark.parametrize(
    "override,message",
    [
        ("train.stepz=5", "unknown config key 'train.stepz'; did you mean 'train.steps'?"),
        ("model.projector.out_dimm=3", "did you mean 'model.projector.out_dim'?"),
        ("sede=1", "did you mean 'seed'?"),
        ("train.steps.x=1", "config key 'train.steps' is not a section"),
        ("wholly_unrelated=1", "unknown config key 'wholly_unrelated' (known here: frontend, model, seed, train)"),
    ],
)
def test_overrides_refuse_unknown_keys_with_a_suggestion(override, message):
    with pytest.raises(ConfigError) as e:
        apply_overrides(DEFAULTS, [override])
    assert message in str(e.value)


def test_open_sections_take_any_key():
    assert apply_overrides(DEFAULTS, ["frontend.n_mels=64"])["frontend"] == {"n_mels": 64}
    assert merge(DEFAULTS, {"frontend": {"anything": 1}})["frontend"] == {"anything": 1}


def test_merge_refuses_unknown_keys_with_a_suggestion():
    with pytest.raises(ConfigError, match="did you mean 'train.lr'"):
        merge(DEFAULTS, {"train": {"lrr": 1}})


SCHEMA = {
    "name": None,
    "data": Each({"name": None, "path": None}),
    "analysis": {"headline_k": None, "ks": None},
    "train": DEFAULTS,
}


@pytest.mark.parametrize(
    "config,message",
    [
        ({"analysis": {"headlin_k": 5}}, "'analysis.headlin_k'; did you mean 'analysis.headline_k'?"),
        ({"train": {"train": {"stepz": 5}}}, "'train.train.stepz'; did you mean 'train.train.steps'?"),
        ({"data": [{"name": "a"}, {"nmae": "b"}]}, "'data[1].nmae'; did you mean 'data[1].name'?"),
        ({"analysis": 5}, "analysis must be a section"),
        ({"nam": "x"}, "did you mean 'name'?"),
    ],
)
def test_check_keys(config, message):
    with pytest.raises(ConfigError) as e:
        check_keys(config, SCHEMA, what="study config key")
    assert message in str(e.value)


def test_check_keys_accepts_known_keys_and_open_sections():
    check_keys(
        {
            "name": "x",
            "data": [{"name": "a", "path": "/p"}],
            "analysis": {"ks": [1]},
            "train": {"frontend": {"n_fft": 1024}, "train": {"steps": 3}},
        },
        SCHEMA,
    )


def test_no_suggestion_when_nothing_is_close():
    assert "did you mean" not in str(unknown_key("a.zzzzzz", ["steps", "lr"]))


@pytest.mark.parametrize(
    "override,message",
    [
        ("analysis.headlin_k=5", "did you mean 'analysis.headline_k'"),
        ("embed.slice_secondz=1", "did you mean 'embed.slice_seconds'"),
        ("umap=maybe", "umap must be true or false"),
        ("train.train.stepz=5", "did you mean 'train.train.steps'"),
        ("train_data.corpus.trackz=5", "did you mean 'train_data.corpus.tracks'"),
        ("eval_data=[{name: a, path: /x, propertis: [key]}]", "did you mean 'eval_data[0].properties'"),
    ],
)
def test_study_overrides_are_checked_before_any_work(override, message):
    """The four typos of issue #12 (each started a study) and two more."""
    from tunespace.study.config import resolve_study_config

    with pytest.raises(ConfigError, match=message.replace("[", r"\[").replace("]", r"\]")):
        resolve_study_config(None, "demo", [override])


def test_study_config_file_keys_are_checked(tmp_path):
    from tunespace.study.config import resolve_study_config

    (tmp_path / "s.yaml").write_text("analysis: {ks: [1, 5], headline_k: 5, bootstrapp: 10}\n")
    with pytest.raises(ConfigError, match="did you mean 'analysis.bootstrap'"):
        resolve_study_config(tmp_path / "s.yaml", "demo")


def test_presets_resolve_unchanged():
    """Key checks change no value: stage keys (hashes of the resolved config) stay as they were."""
    from tunespace.study.config import preset, resolve_study_config

    for name in ("demo", "default", "paper"):
        resolved = resolve_study_config(None, name)
        raw = preset(name)
        for key in ("seeds", "conditions", "train", "embed"):
            assert resolved[key] == raw[key], (name, key)

"""The config machinery: typed settings, every key checked at every depth with a did-you-mean,
bools never numbers, one merge rule, and docs/config.md generated from the definitions."""

from __future__ import annotations

import math
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

from tunespace.config import (
    Each,
    Param,
    Section,
    apply_overrides,
    check_keys,
    load_yaml,
    merge,
    parse_override,
    reference_markdown,
    setting,
    unknown_key,
)
from tunespace.errors import ConfigError

ROOT = Path(__file__).resolve().parents[1]

DEFS = Section(
    "a test config",
    {
        "seed": Param(0, int, "a seed", min=0),
        "train": Section(
            "training",
            {
                "steps": Param(1, int, "steps", unit="steps", min=1),
                "lr": Param(0.1, float, "rate", min=0, max=10, min_open=True, max_open=True),
                "workers": Param("auto", int, "workers", min=0, also=("auto",)),
                "amp": Param("auto", str, "precision", choices=("auto", "off", "bf16")),
                "flag": Param(False, bool, "a flag"),
            },
        ),
        "model": Section(
            "model",
            {
                "args": Param({}, dict, "free-form"),
                "projector": Section("head", {"out_dim": Param(8, int, "width", min=1)}),
                "dims": Param([4], list, "widths", item=int, min=1),
            },
        ),
        "frontend": Section("front end", {"n_mels": Param(96, int, "bands", min=1)}, fill=False),
        "data": Each(
            Section("an entry", {"name": Param(None, str, "name", required=True), "path": Param(None, str, "p")}),
            "entries",
        ),
    },
)


@pytest.mark.parametrize(
    "override,message",
    [
        ("train.stepz=5", "unknown config key 'train.stepz'; did you mean 'train.steps'?"),
        ("model.projector.out_dimm=3", "did you mean 'model.projector.out_dim'?"),
        ("sede=1", "did you mean 'seed'?"),
        ("train.steps.x=1", "config key 'train.steps' is not a section"),
        ("data.name=x", "config key 'data' is a list: give it whole (data=[...])"),
        (
            "wholly_unrelated=1",
            "unknown config key 'wholly_unrelated' (known here: data, frontend, model, seed, train)",
        ),
        ("frontend.n_melz=64", "did you mean 'frontend.n_mels'?"),
    ],
)
def test_overrides_refuse_unknown_keys_with_a_suggestion(override, message):
    with pytest.raises(ConfigError) as e:
        apply_overrides(DEFS.defaults(), [override], DEFS)
    assert message in str(e.value)


def test_free_form_mappings_take_any_key_and_other_settings_none():
    cfg = apply_overrides(DEFS.defaults(), ["model.args.width=3", "model.args.deep.er=1"], DEFS)
    assert cfg["model"]["args"] == {"width": 3, "deep": {"er": 1}}
    check_keys(cfg, DEFS)  # free-form: not looked into
    with pytest.raises(ConfigError, match="config key 'model.dims' is not a section"):
        apply_overrides(DEFS.defaults(), ["model.dims.x=1"], DEFS)


@pytest.mark.parametrize(
    "config,message",
    [
        ({"train": {"steps": True}}, "train.steps must be an integer >= 1, got true"),
        ({"train": {"lr": True}}, "train.lr must be a number in (0, 10), got true"),
        ({"train": {"lr": math.nan}}, "train.lr must be a number in (0, 10), got nan"),
        ({"train": {"lr": math.inf}}, "train.lr must be a number in (0, 10), got inf"),
        ({"train": {"lr": 10}}, "train.lr must be a number in (0, 10), got 10"),
        ({"train": {"workers": -1}}, "train.workers must be auto or an integer >= 0, got -1"),
        ({"train": {"workers": "many"}}, "train.workers must be auto or an integer >= 0, got 'many'"),
        ({"train": {"amp": "fp8"}}, "train.amp must be auto, off or bf16, got 'fp8'"),
        ({"train": {"flag": 1}}, "train.flag must be true or false, got 1"),
        ({"train": {"flag": "yes"}}, "train.flag must be true or false, got 'yes'"),
        ({"model": {"dims": [4, 0]}}, "model.dims must be a list of integers >= 1, got [4, 0]"),
        ({"model": {"dims": [True]}}, "model.dims must be a list of integers >= 1, got [true]"),
        ({"model": {"args": 3}}, "model.args must be a mapping, got 3"),
        ({"model": 5}, "model must be a section (a mapping of args, projector, dims), got 5"),
        ({"train": {"train": {"stepz": 5}}}, "unknown config key 'train.train'"),
        ({"data": [{"name": "a"}, {"nmae": "b"}]}, "'data[1].nmae'; did you mean 'data[1].name'?"),
        ({"data": [{"path": "p"}]}, "data[0] lacks 'name'"),
        ({"data": {"name": "a"}}, "data must be a list of sections (name, path), got {name: 'a'}"),
        ({"frontend": {"n_mels": 0}}, "frontend.n_mels must be an integer >= 1, got 0"),
    ],
)
def test_values_are_checked_naming_the_dotted_key(config, message):
    with pytest.raises(ConfigError) as e:
        check_keys(config, DEFS)
    assert str(e.value) == message or message in str(e.value)
    assert "\n" not in str(e.value)


@pytest.mark.parametrize("value", [1, 2.5, 0.001, 9])
def test_numbers_accept_ints_and_floats_in_range(value):
    check_keys({"train": {"lr": value}}, DEFS)


def test_bools_are_not_integers_anywhere():
    """``True == 1`` in Python: no integer, number or literal setting may take a bool for one."""
    for key, p in [("seed", DEFS["seed"]), ("lr", DEFS["train"]["lr"]), ("workers", DEFS["train"]["workers"])]:
        assert not p.accepts(True) and not p.accepts(False), key
    assert Param(1, int, "x", choices=(0, 1)).accepts(1) and not Param(1, int, "x", choices=(0, 1)).accepts(True)
    assert not Param(0, int, "x", also=(0,)).accepts(False)


def test_defaults_and_complete_follow_the_definitions():
    d = DEFS.defaults()
    assert d == {
        "seed": 0,
        "train": {"steps": 1, "lr": 0.1, "workers": "auto", "amp": "auto", "flag": False},
        "model": {"args": {}, "projector": {"out_dim": 8}, "dims": [4]},
        "frontend": {},  # fill=False: holds only what is given
        "data": [],
    }
    d["model"]["dims"].append(5)
    assert DEFS.defaults()["model"]["dims"] == [4]  # defaults are copies
    cfg = DEFS.complete({"model": {"projector": {}}, "frontend": {"n_mels": 64}})
    assert cfg["model"] == {"projector": {"out_dim": 8}, "args": {}, "dims": [4]}
    assert cfg["frontend"] == {"n_mels": 64}


def test_merge_rule():
    """A mapping merges into a mapping at every depth; anything else (lists too) replaces; a null
    section changes nothing; a ``whole`` section is replaced."""
    base = DEFS.defaults()
    out = merge(base, {"train": {"steps": 5}, "model": {"projector": {"out_dim": 3}, "dims": [1, 2]}}, DEFS)
    assert out["train"] == {**base["train"], "steps": 5}
    assert out["model"] == {"args": {}, "projector": {"out_dim": 3}, "dims": [1, 2]}
    assert merge(out, {"model": {"dims": [7]}}, DEFS)["model"]["dims"] == [7]
    assert merge(base, {"train": None}, DEFS)["train"] == base["train"]
    assert base == DEFS.defaults()  # inputs untouched
    whole = Section("w", {"src": Section("s", {"a": Param(1, int, "a"), "b": Param(2, int, "b")}, whole=True)})
    assert merge({"src": {"a": 1}}, {"src": {"b": 2}}, whole) == {"src": {"b": 2}}
    assert merge({"src": {"a": 1}}, {"src": {"b": 2}}) == {"src": {"a": 1, "b": 2}}  # no definitions: merged


def test_an_override_with_a_mapping_replaces_the_section():
    cfg = apply_overrides(DEFS.defaults(), ["train={steps: 3}"], DEFS)
    assert cfg["train"] == {"steps": 3}
    assert DEFS.complete(cfg)["train"]["lr"] == 0.1


def test_no_suggestion_when_nothing_is_close():
    assert "did you mean" not in str(unknown_key("a.zzzzzz", ["steps", "lr"]))


def test_dataclass_settings_take_their_type_from_the_annotation():
    @dataclass(frozen=True)
    class Conf:
        rate: int = setting(16000, "sample rate", unit="Hz", min=1)
        norm: str | None = setting("slaney", "norm", choices=("slaney",))
        on: bool = setting(True, "switch")

    s = Section.from_dataclass(Conf, "conf")
    assert s["rate"].type is int and s["rate"].unit == "Hz" and s["rate"].default == 16000
    assert s["norm"].accepts(None) and s["norm"].accepts("slaney") and not s["norm"].accepts("l2")
    assert not s["on"].accepts(0)
    assert s.defaults() == {"rate": 16000, "norm": "slaney", "on": True}


def test_reference_lists_every_setting_once_per_section():
    text = reference_markdown()
    from tunespace.features.logmel import FRONTEND
    from tunespace.study.config import STUDY
    from tunespace.train.config import TRAIN

    for section in (TRAIN["train"], TRAIN["data"], FRONTEND, STUDY["analysis"], STUDY["embed"]):
        for name in section.entries:
            assert f"| `{name}` |" in text, name
    assert "| `batch_size` | an integer >= 2 | `32` | pairs |" in text
    assert "| `sample_rate` | an integer >= 1 | `16000` | Hz |" in text
    assert "../" not in text


def test_docs_config_md_is_generated_from_the_definitions():
    """docs/config.md cannot drift: regenerate it with ``python -m tunespace.config --write docs/config.md``."""
    assert (ROOT / "docs" / "config.md").read_text(encoding="utf-8") == reference_markdown()


def test_reference_command_checks_and_writes(tmp_path):
    target = tmp_path / "config.md"
    cmd = [sys.executable, "-m", "tunespace.config"]
    assert subprocess.run([*cmd, "--check", str(target)], capture_output=True).returncode == 1
    assert subprocess.run([*cmd, "--write", str(target)], capture_output=True).returncode == 0
    assert target.read_text(encoding="utf-8") == reference_markdown()
    assert subprocess.run([*cmd, "--check", str(target)], capture_output=True).returncode == 0


def test_exponent_numbers_are_numbers_in_files_and_overrides(tmp_path):
    """``1e-3`` is a number (YAML 1.2), not the string PyYAML's YAML 1.1 makes of it: ``train.lr=1e-3``
    and ``lr: 2e-4`` in a file were refused as "must be a number, got '1e-3'"."""
    assert parse_override("train.lr=1e-3") == (["train", "lr"], 0.001)
    assert parse_override("a=-2.5E+2")[1] == -250.0 and parse_override("a=1_000")[1] == 1000
    assert parse_override("a=abc1e3")[1] == "abc1e3"
    f = tmp_path / "c.yaml"
    f.write_text("train:\n  lr: 2e-4\n  name: '1e3'\n")
    assert load_yaml(f) == {"train": {"lr": 2e-4, "name": "1e3"}}


def test_only_true_and_false_are_booleans(tmp_path):
    """YAML 1.2's booleans: ``train.amp=off`` is the word ``off`` (YAML 1.1, PyYAML's, made it
    ``false`` and the setting refused it as "must be auto, off, bf16 or fp16, got false")."""
    from tunespace.train import resolve_config

    assert parse_override("train.amp=off") == (["train", "amp"], "off")
    assert [parse_override(f"a={w}")[1] for w in ("true", "False", "TRUE", "no", "yes", "on", "n")] == [
        True,
        False,
        True,
        "no",
        "yes",
        "on",
        "n",
    ]
    assert resolve_config(None, ["train.amp=off"])["train"]["amp"] == "off"
    f = tmp_path / "c.yaml"
    f.write_text("train:\n  amp: off\n  progress: false\n")
    assert load_yaml(f) == {"train": {"amp": "off", "progress": False}}
    with pytest.raises(ConfigError, match="train.progress must be true or false, got 'no'"):
        resolve_config(None, ["train.progress=no"])


def test_an_integer_too_large_for_a_float_is_not_a_number():
    """``train.lr=1000...0`` (400 digits) is refused naming the key, not an OverflowError from
    math.isfinite."""
    p = Param(1.0, float, "a rate", min=0)
    assert not p.accepts(10**400) and p.accepts(10**300)
    with pytest.raises(ConfigError, match="train.lr must be a number"):
        p.validate(10**400, "train.lr")

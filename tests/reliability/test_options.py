"""Bad values for every numeric option: 0, negative, nan, inf, huge, wrong type. Each is either
accepted (and the run works) or refused before anything is written, with one line naming the
option (exit 2); never a traceback, never a manifest or folder left behind."""

from __future__ import annotations

import pytest
from tests.conftest import tiny_overrides
from tests.reliability.conftest import cli, one_line

from tunespace.errors import ConfigError
from tunespace.study.config import resolve_study_config
from tunespace.train import resolve_config

BAD = ["0", "-1", "nan", "inf", "1e12", "abc", "2.5"]
#: option -> the values (of BAD) it accepts; every other one must be refused
EMBED_ACCEPTS = {
    "--slice-seconds": {"2.5"},
    "--hop-seconds": {"2.5"},
    "--min-seconds": {"0", "1e12", "2.5"},  # 1e12: every track is reported "too short"
    "--silence-db": {"0", "-1"},  # 0 dBFS: every track that does not clip is "silent"
    "--workers": {"0"},
}


@pytest.mark.parametrize("option,value", [(o, v) for o in EMBED_ACCEPTS for v in BAD])
def test_embed_options(option, value, clean_wavs, tmp_path, capsys):
    out = tmp_path / "emb"
    code, err = cli(
        [
            "embed",
            "--model",
            "random:small",
            "--data",
            clean_wavs,
            "--out",
            out,
            "--workers",
            "0",
            "--no-progress",
            option,
            value,
        ],
        capsys,
    )
    if value in EMBED_ACCEPTS[option]:
        assert code == 0, err
        assert (out / "meta.json").is_file() and not (out / ".parts").exists()
    else:
        assert code == 2
        assert "Traceback" not in err and option in err.splitlines()[-1]
        if value not in ("abc", "2.5"):  # argparse's own type errors print a usage line first
            one_line(err, option)
        assert not out.exists()  # refused before anything was written: no manifest to refuse the rerun


def test_a_slice_the_model_cannot_take_leaves_nothing_behind(clean_wavs, tmp_path, capsys):
    out = tmp_path / "emb"
    code, err = cli(
        [
            "embed",
            "--model",
            "random:small",
            "--data",
            clean_wavs,
            "--out",
            out,
            "--slice-seconds",
            "0.001",
            "--no-progress",
        ],
        capsys,
    )
    assert code == 2 and "does not suit this model" in one_line(err)
    assert not out.exists()
    assert (
        cli(
            ["embed", "--model", "random:small", "--data", clean_wavs, "--out", out, "--workers", "0", "--no-progress"],
            capsys,
        )[0]
        == 0
    )  # the corrected rerun is not refused


def test_embed_device(clean_wavs, tmp_path, capsys):
    for device in ("tpu", "cuda:99", "banana"):
        code, err = cli(
            ["embed", "--model", "random:small", "--data", clean_wavs, "--out", tmp_path / "e", "--device", device],
            capsys,
        )
        assert code == 2 and "--device" in one_line(err)


CORPUS_ACCEPTS = {"--tracks": set(), "--seconds": set(), "--seed": {"0"}, "--workers": {"0"}}


@pytest.mark.parametrize("option,value", [(o, v) for o in CORPUS_ACCEPTS for v in BAD if v not in CORPUS_ACCEPTS[o]])
def test_corpus_build_options(option, value, tmp_path, capsys):
    args = {"--tracks": "1", "--seconds": "5", "--seed": "0", "--workers": "1", option: value}
    code, err = cli(["corpus", "build", "--out", tmp_path / "c", *[x for kv in args.items() for x in kv]], capsys)
    assert code == 2 and "Traceback" not in err and option in err.splitlines()[-1]
    assert not (tmp_path / "c").exists()


def test_corpus_build_refuses_what_would_not_fit(tmp_path, capsys):
    code, err = cli(["corpus", "build", "--out", tmp_path / "c", "--tracks", "100000", "--seconds", "600"], capsys)
    assert code == 2 and "GB free" in one_line(err)
    assert not (tmp_path / "c").exists()


@pytest.mark.parametrize("option,value", [("--workers", "-1"), ("--workers", "1000"), ("--seed", "-1")])
def test_baseline_options(option, value, clean_wavs, tmp_path, capsys):
    code, err = cli(
        ["baseline", "--kind", "random", "--data", clean_wavs, "--out", tmp_path / "b", option, value], capsys
    )
    assert code == 2 and option in one_line(err)
    assert not (tmp_path / "b").exists()


#: trainer keys -> the values of TRAIN_BAD they accept
TRAIN_BAD = ["0", "-1", "nan", "inf", "1000000000000", "true", "abc", "2.5"]
TRAIN_ACCEPTS = {
    "seed": {"0", "1000000000000"},  # -1: refused (seeds are non-negative)
    "train.steps": {"1000000000000"},
    "train.batch_size": {"1000000000000"},  # shrinks to the usable tracks, with a warning
    "train.lr": {"2.5"},
    "train.weight_decay": {"0", "1000000000000", "2.5"},
    "train.warmup_steps": {"0", "1000000000000"},
    "train.checkpoint_every": {"1000000000000"},
    "train.log_every": {"1000000000000"},
    "train.keep_checkpoints": {"0", "1000000000000"},
    "train.threads": {"0", "1000000000000"},
    "train.num_workers": {"0", "1000000000000"},
    "loss.temperature": {"1000000000000", "2.5"},
    "pairs.excerpt_seconds": {"2.5"},
    "pairs.max_centre_distance_s": {"0", "1000000000000", "2.5"},
    "data.max_unreadable_share": {"0"},
    "data.cache_max_gb": {"0", "1000000000000", "2.5"},
    "model.projector.out_dim": {"1000000000000"},
}


@pytest.mark.parametrize("key,value", [(k, v) for k in TRAIN_ACCEPTS for v in TRAIN_BAD])
def test_trainer_config_values(key, value):
    if value in TRAIN_ACCEPTS[key]:
        resolve_config(None, [f"{key}={value}"])
    else:
        with pytest.raises(ConfigError, match=key.split(".")[-1]):
            resolve_config(None, [f"{key}={value}"])


def test_trainer_refusal_on_the_command_line_is_one_line(clean_wavs, tmp_path, capsys):
    code, err = cli(["train", "--data", clean_wavs, "--out", tmp_path / "r", *tiny_overrides(), "train.lr=inf"], capsys)
    assert code == 2 and "train.lr" in one_line(err)
    assert not (tmp_path / "r").exists()


STUDY_BAD = {
    "seeds=[]": "seeds",
    "seeds=[true]": "seeds",
    "seeds=1": "seeds",
    "seeds=[0.5]": "seeds",
    "analysis.ks=[0]": "analysis.ks",
    "analysis.ks=[-1]": "analysis.ks",
    "analysis.headline_k=7": "headline_k",
    "embed.slice_seconds=0": "slice_seconds",
    "embed.slice_seconds=.inf": "slice_seconds",
    "embed.hop_seconds=.nan": "hop_seconds",
    "embed.min_seconds=-1": "min_seconds",
    "train.train.steps=0": "train.steps",
    "train.train.steps=true": "train.steps",
    "train.train.lr=.inf": "train.lr",
    "umap=maybe": "umap",
    "umap=1": "umap",
}


@pytest.mark.parametrize("override", list(STUDY_BAD))
def test_study_values(override):
    with pytest.raises(ConfigError, match=STUDY_BAD[override]):
        resolve_study_config(None, "demo", [override])

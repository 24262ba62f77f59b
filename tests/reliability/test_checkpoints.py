"""Checkpoints that are not tunespace's: refused in one line (exit 2) by `embed`, `train
--resume` and load_model, never a KeyError or a 42-line size mismatch; crafted pickles that
would run code are refused without running it."""

from __future__ import annotations

import os
import pickle

import pytest
import torch
from tests.reliability.conftest import cli, one_line

from tunespace.embed.model import load_model
from tunespace.errors import UsageError
from tunespace.models.checkpoint import latest_checkpoint
from tunespace.train import load_checkpoint


class _RunsCode:
    def __init__(self, marker: str) -> None:
        self.marker = marker

    def __reduce__(self):
        return (os.system, (f"touch {self.marker}",))


def _real(tiny_run) -> dict:
    return load_checkpoint(latest_checkpoint(tiny_run))


def _foreign(tiny_run, tmp_path) -> dict[str, tuple[object, str]]:
    """name -> (what is saved, a word of the expected message)."""
    real = _real(tiny_run)
    no_encoder = {**real, "config": {**real["config"], "model": {}}}
    other_width = {
        **real,
        "config": {
            **real["config"],
            "model": {**real["config"]["model"], "encoder_args": {"width": 32, "depth": 1, "embedding_dim": 16}},
        },
    }
    return {
        "a tensor": (torch.zeros(3), "holds a Tensor"),
        "a plain dict": ({"weights": torch.zeros(3)}, "no 'step' entry"),
        "no config": ({"step": 1, "model": real["model"]}, "no 'config' entry"),
        "a config without model": ({**real, "config": {"seed": 0}}, "no 'model' section"),
        "no encoder named": (no_encoder, "names no encoder"),
        "model not tensors": ({**real, "model": {"w": [1, 2]}}, "not a state dict of tensors"),
        "a bool step": ({**real, "step": True}, "'step' is not an integer"),
        "weights of another size": (other_width, "do not fit"),
    }


@pytest.mark.parametrize(
    "case",
    [
        "a tensor",
        "a plain dict",
        "no config",
        "a config without model",
        "no encoder named",
        "model not tensors",
        "a bool step",
        "weights of another size",
    ],
)
def test_foreign_checkpoint_is_one_line(case, tiny_run, clean_wavs, tmp_path, capsys):
    obj, word = _foreign(tiny_run, tmp_path)[case]
    pt = tmp_path / "x.pt"
    torch.save(obj, pt)
    code, err = cli(["embed", "--model", pt, "--data", clean_wavs, "--out", tmp_path / "e", "--no-progress"], capsys)
    assert code == 2
    one_line(err, str(pt), word)
    with pytest.raises(UsageError, match=word):
        load_model(pt)
    assert not (tmp_path / "e").exists()


@pytest.mark.parametrize("content", [b"", b"not a zip at all", b"PK\x03\x04" + b"\x00" * 40])
def test_unreadable_checkpoint_bytes(content, clean_wavs, tmp_path, capsys):
    pt = tmp_path / "x.pt"
    pt.write_bytes(content)
    code, err = cli(["embed", "--model", pt, "--data", clean_wavs, "--out", tmp_path / "e"], capsys)
    assert code == 2
    one_line(err, "not a readable checkpoint")


@pytest.mark.parametrize("how", ["torch.save", "plain pickle"])
def test_a_pickle_that_would_run_code_is_refused_and_never_runs(how, clean_wavs, tmp_path, capsys):
    marker = tmp_path / "ran"
    pt = tmp_path / "evil.pt"
    if how == "torch.save":
        torch.save({"step": 1, "model": {}, "config": _RunsCode(str(marker))}, pt)
    else:
        pt.write_bytes(pickle.dumps({"step": 1, "model": _RunsCode(str(marker))}, protocol=2))
    code, err = cli(["embed", "--model", pt, "--data", clean_wavs, "--out", tmp_path / "e"], capsys)
    assert code == 2
    one_line(err, "not a readable checkpoint")
    assert not marker.exists()


def test_a_run_folder_without_checkpoints(tmp_path, clean_wavs, capsys):
    (tmp_path / "run").mkdir()
    code, err = cli(["embed", "--model", tmp_path / "run", "--data", clean_wavs, "--out", tmp_path / "e"], capsys)
    assert code == 2
    one_line(err, "no checkpoint")


def test_resume_with_a_foreign_checkpoint(tiny_run, tmp_path, capsys):
    import shutil

    run = tmp_path / "run"
    shutil.copytree(tiny_run, run)
    ckpt = latest_checkpoint(run)
    state = load_checkpoint(ckpt)
    del state["optimizer"]
    torch.save(state, ckpt)
    code, err = cli(["train", "--out", run, "--resume"], capsys)
    assert code == 2
    one_line(err, "no 'optimizer' entry")

"""Two CPU processes under torchrun (gloo) train exactly like one process on the global batch."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from tests.conftest import tiny_overrides

from tunespace.models.checkpoint import latest_checkpoint
from tunespace.train import load_checkpoint


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.mark.slow
@pytest.mark.parametrize("pairs", [[], ["pairs.per_track=2"]], ids=["one-pair-per-track", "two-pairs-per-track"])
def test_two_processes_match_one_process_on_the_global_batch(train_corpus, tmp_path, pairs):
    """With ``pairs.per_track=2`` each rank holds both pairs of its tracks (the multi-positive
    loss finds positives on its own rank), and the result is still the one process's."""
    src = str(Path(__file__).resolve().parents[2] / "src")
    env = {**os.environ, "PYTHONPATH": src, "OMP_NUM_THREADS": "1"}
    common = ["--data", str(train_corpus), "--augment", "none", *pairs]
    over = [o for o in tiny_overrides(steps=3, every=3) if not o.startswith("train.batch_size")]
    one = subprocess.run(
        [
            sys.executable,
            "-m",
            "tunespace",
            "train",
            "--out",
            str(tmp_path / "one"),
            *common,
            *over,
            "train.batch_size=8",
        ],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert one.returncode == 0, one.stderr[-2000:]
    two = subprocess.run(
        [
            sys.executable,
            "-m",
            "torch.distributed.run",
            "--nproc_per_node",
            "2",
            "--master_addr",
            "127.0.0.1",
            "--master_port",
            str(_free_port()),
            "-m",
            "tunespace",
            "train",
            "--out",
            str(tmp_path / "two"),
            *common,
            *over,
            "train.batch_size=4",
        ],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert two.returncode == 0, two.stderr[-3000:]
    a = load_checkpoint(latest_checkpoint(tmp_path / "one"))["model"]
    b = load_checkpoint(latest_checkpoint(tmp_path / "two"))["model"]
    for k in a:
        assert torch.allclose(a[k], b[k], atol=2e-5, rtol=1e-4), (k, (a[k] - b[k]).abs().max())

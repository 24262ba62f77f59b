"""SIGTERM ends a command as Ctrl-C does: its clean-up runs, one line on stderr, status 143."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch
from tests.conftest import tiny_overrides, tiny_study_overrides

from tunespace.cli import main
from tunespace.models.checkpoint import latest_checkpoint
from tunespace.train import load_checkpoint

ROOT = Path(__file__).resolve().parents[2]


def _start(args: list[str]) -> subprocess.Popen:
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT), str(ROOT / "src")]), "OMP_NUM_THREADS": "1"}
    return subprocess.Popen(
        [sys.executable, "-m", "tunespace", *args], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env
    )


def _wait_for(condition, proc: subprocess.Popen, seconds: float = 120) -> None:
    deadline = time.time() + seconds
    while not condition() and time.time() < deadline and proc.poll() is None:
        time.sleep(0.05)
    assert proc.poll() is None, "the command ended before it could be signalled"


def _terminate(proc: subprocess.Popen, command: str) -> None:
    proc.send_signal(signal.SIGTERM)
    _, err = proc.communicate(timeout=120)
    assert proc.returncode == 143, err[-2000:]
    assert err.strip().splitlines()[-1] == f"tunespace {command}: terminated (SIGTERM)"
    assert "Traceback" not in err


def _alive(pid: int) -> bool:
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"
    except (FileNotFoundError, ProcessLookupError):
        return False


def _children(pid: int) -> list[int]:
    kids = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            if int(stat.read_text().rsplit(")", 1)[1].split()[1]) == pid:
                kids.append(int(stat.parent.name))
        except (OSError, ValueError, IndexError):
            continue
    return kids


@pytest.mark.slow
def test_sigterm_stops_training_cleanly_and_the_run_resumes(train_corpus, tmp_path):
    args = ["--data", str(train_corpus), "--augment", "none", *tiny_overrides(steps=60, every=4)]
    assert main(["train", "--out", str(tmp_path / "full"), *args]) == 0
    proc = _start(["train", "--out", str(tmp_path / "stopped"), *args])
    _wait_for(lambda: latest_checkpoint(tmp_path / "stopped") is not None, proc)
    _terminate(proc, "train")
    assert load_checkpoint(latest_checkpoint(tmp_path / "stopped"))["step"] < 60
    assert main(["train", "--out", str(tmp_path / "stopped"), "--resume"]) == 0
    a = load_checkpoint(latest_checkpoint(tmp_path / "full"))["model"]
    b = load_checkpoint(latest_checkpoint(tmp_path / "stopped"))["model"]
    assert all(torch.equal(a[k], b[k]) for k in a)


@pytest.mark.slow
@pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="reads the process table from /proc")
def test_sigterm_stops_a_study_and_the_processes_it_started(train_corpus, tmp_path):
    over = [*tiny_study_overrides(train_corpus), "launcher.workers=2", "train.train.steps=100000"]
    out = tmp_path / "study"
    proc = _start(["study", "--preset", "demo", "--out", str(out), *over])
    _wait_for(lambda: len(list(out.glob("stages/train-*/run/checkpoints/*.pt"))) >= 1, proc, 240)
    workers = [p for p in _children(proc.pid) if _alive(p)]
    assert workers
    _terminate(proc, "study")
    deadline = time.time() + 30
    while any(_alive(p) for p in workers) and time.time() < deadline:
        time.sleep(0.1)
    assert not any(_alive(p) for p in workers)
    assert not (out / "results.csv").exists()


def test_main_called_from_python_leaves_sigterm_to_the_caller(tmp_path, monkeypatch):
    """Only the program (``tunespace``, ``python -m tunespace``) turns SIGTERM into an exit: a
    Python caller of ``main(argv)`` keeps SIGTERM's default action (its process ends)."""
    calls = []
    real = signal.signal
    monkeypatch.setattr(signal, "signal", lambda sig, handler: calls.append(sig) or real(sig, handler))
    args = ["embed", "--model", "random:small", "--data", str(tmp_path / "none"), "--out", str(tmp_path / "e")]
    assert main(args) == 2
    assert signal.SIGTERM not in calls and signal.getsignal(signal.SIGTERM) == signal.SIG_DFL

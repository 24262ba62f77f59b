"""Fixtures of the fault-injection suite: tiny audio, a tiny trained run, and the check that a
failure is reported as one line without a traceback."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
from tests.conftest import tiny_overrides

from tunespace.cli import main

SR = 16000
#: Encoder options of a tiny random encoder (fast to run).
TINY = {"width": 16, "depth": 1, "embedding_dim": 16}


def tone(seconds: float, freq: float = 330.0, amp: float = 0.3, sr: int = SR, seed: int = 0) -> np.ndarray:
    """A sine with a little seeded noise, float32."""
    t = np.arange(int(round(seconds * sr))) / sr
    noise = np.random.default_rng(seed).standard_normal(len(t))
    return (amp * np.sin(2 * np.pi * freq * t) + 0.02 * noise).astype(np.float32)


def write_clean(folder: Path, n: int, seconds: float = 5.0) -> Path:
    """``n`` distinct tones of ``seconds`` s as WAV files t0.wav ... in ``folder``."""
    folder.mkdir(parents=True, exist_ok=True)
    for i in range(n):
        sf.write(folder / f"t{i}.wav", tone(seconds, 200.0 + 60.0 * i, seed=i), SR)
    return folder


@pytest.fixture(scope="session")
def clean_wavs(tmp_path_factory) -> Path:
    """Six 5 s tones: a dataset every command can use."""
    return write_clean(tmp_path_factory.mktemp("clean"), 6)


@pytest.fixture(scope="session")
def tiny_run(clean_wavs, tmp_path_factory) -> Path:
    """A run folder trained for 2 steps on :func:`clean_wavs` with a tiny encoder."""
    from tunespace.train import resolve_config, train

    out = tmp_path_factory.mktemp("tiny_run") / "run"
    train(
        out, resolve_config(None, tiny_overrides(steps=2), **{"data.path": str(clean_wavs), "augment.policy": "none"})
    )
    return out


def cli(args: list[str], capsys) -> tuple[int, str]:
    """Run the command line in this process: (exit status, stderr)."""
    capsys.readouterr()
    code = main([str(a) for a in args])
    return code, capsys.readouterr().err


def one_line(err: str, *words: str) -> str:
    """Assert ``err`` is one line naming every one of ``words``, with no traceback; return it."""
    lines = [line for line in err.splitlines() if line.strip()]
    assert "Traceback" not in err, err
    assert len(lines) == 1, err
    for w in words:
        assert w in lines[0], (w, lines[0])
    return lines[0]


def subprocess_env() -> dict[str, str]:
    """Environment for a ``python -m tunespace`` child that imports this checkout."""
    src = str(Path(__file__).resolve().parents[2] / "src")
    return {**os.environ, "PYTHONPATH": src + os.pathsep + os.environ.get("PYTHONPATH", "")}


PYTHON = sys.executable

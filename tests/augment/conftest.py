"""Shared short test signals (16 kHz) and estimators that do not use tunespace code."""

import numpy as np
import pytest

SR = 16000


def harmonic(f0: float, seconds: float, n_harm: int = 5) -> np.ndarray:
    t = np.arange(int(seconds * SR)) / SR
    return sum(np.sin(2 * np.pi * f0 * h * t) / h for h in range(1, n_harm + 1)).astype(np.float32) * 0.3


@pytest.fixture(scope="session")
def tone():
    """1.5 s harmonic tone at 330 Hz."""
    return harmonic(330.0, 1.5)


@pytest.fixture(scope="session")
def triad():
    """1.5 s C major triad (C5 E5 G5) of two-harmonic tones."""
    return (harmonic(523.25, 1.5, 2) + harmonic(659.26, 1.5, 2) + harmonic(783.99, 1.5, 2)) / 3


@pytest.fixture(scope="session")
def pulses():
    """8 s of a 440 Hz tone with amplitude pulses at 120 BPM (every 0.5 s)."""
    t = np.arange(8 * SR) / SR
    env = np.exp(-((t + 0.25) % 0.5) / 0.05)
    return (np.sin(2 * np.pi * 440 * t) * (0.15 + 0.85 * env) * 0.5).astype(np.float32)


@pytest.fixture(scope="session")
def noise():
    return (0.1 * np.random.default_rng(11).standard_normal(2 * SR)).astype(np.float32)


@pytest.fixture(scope="session")
def logmel():
    from tunespace.features import LogMel

    return LogMel()

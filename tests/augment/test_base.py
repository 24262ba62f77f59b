"""Explicit randomness: replay, determinism, per-item independence, sampling ranges."""

import numpy as np
import pytest
import torch

from tunespace.augment import spectral, waveform

SPECTRAL = [spectral.TimeStretch, spectral.PitchShift, spectral.Equaliser, spectral.Gain, spectral.Noise]
WAVEFORM = [waveform.TimeStretch, waveform.PitchShift, waveform.Equaliser, waveform.Gain, waveform.Noise,
            waveform.Reverb]


@pytest.fixture(scope="module")
def batch_power(logmel, tone):
    x = torch.from_numpy(tone[:8000])
    return logmel.power(torch.stack([x] * 4))


@pytest.mark.parametrize("cls", SPECTRAL)
def test_spectral_replay_determinism_independence(cls, batch_power):
    aug = cls()
    y, params = aug(batch_power, np.random.default_rng(7))
    assert y.shape == batch_power.shape
    assert all(np.asarray(v).shape[0] == 4 for v in params.values())
    torch.testing.assert_close(aug.apply(batch_power, params), y, rtol=0, atol=0)  # exact replay
    y2, params2 = aug(batch_power, np.random.default_rng(7))
    torch.testing.assert_close(y2, y, rtol=0, atol=0)
    # identical inputs, independent parameters: every item differs from the others
    for i in range(1, 4):
        assert not torch.allclose(y[0], y[i])
    # each item equals the augmentation of that item alone with its own parameters
    one = {k: np.asarray(v)[2:3] for k, v in params.items()}
    torch.testing.assert_close(aug.apply(batch_power[2:3], one)[0], y[2], rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("cls", WAVEFORM)
def test_waveform_replay_and_determinism(cls, tone):
    aug = cls(sample_rate=16000)
    x = np.stack([tone[:8000], tone[4000:12000]])
    y, params = aug(x, np.random.default_rng(3))
    assert y.shape == x.shape and y.dtype == np.float32
    np.testing.assert_array_equal(aug.apply(x, params), y)
    np.testing.assert_array_equal(aug(x, np.random.default_rng(3))[0], y)
    assert not np.allclose(y, x)


def test_probability_zero_is_identity_and_p_is_respected(batch_power):
    aug = spectral.PitchShift(p=0.0)
    y, params = aug(batch_power, np.random.default_rng(0))
    assert not params["applied"].any()
    torch.testing.assert_close(y, batch_power, rtol=0, atol=0)
    applied = spectral.Gain(p=0.3).sample(np.random.default_rng(1), 4000)["applied"]
    assert 0.27 < applied.mean() < 0.33


def test_sampling_ranges():
    rng = np.random.default_rng(0)
    rate = waveform.TimeStretch(min_rate=0.7, max_rate=1.4).sample(rng, 5000)["rate"]
    assert rate.min() >= 0.7 and rate.max() <= 1.4
    # log-uniform: the median is the geometric mean of the bounds
    assert abs(np.median(rate) - np.sqrt(0.7 * 1.4)) < 0.02
    semis = spectral.PitchShift(min_semitones=-2, max_semitones=2, integer=True).sample(rng, 1000)["semitones"]
    assert set(np.unique(semis)) == {-2.0, -1.0, 0.0, 1.0, 2.0}
    eq = spectral.Equaliser(n_peaks=3).sample(rng, 100)
    assert eq["peak_freq_hz"].shape == (100, 3)
    assert np.abs(eq["peak_gain_db"]).max() <= 12 and np.abs(eq["low_shelf_gain_db"]).max() <= 12


def test_spectral_runs_on_the_input_device_dtype(batch_power):
    y, _ = spectral.Equaliser()(batch_power, np.random.default_rng(0))
    assert y.device == batch_power.device and y.dtype == torch.float32


def test_waveform_time_stretch_full_length():
    x = np.sin(np.arange(16000) / 10).astype(np.float32)
    aug = waveform.TimeStretch(keep_length=False)
    y = aug.apply(x, {"rate": np.array([1.25]), "applied": np.array([True])})
    assert abs(len(y) - 16000 / 1.25) <= 2

"""Explicit randomness: replay, determinism, per-item independence, sampling ranges."""

import re

import numpy as np
import pytest
import torch

from tunespace.augment import SPECS, spectral, waveform
from tunespace.errors import ConfigError

SPECTRAL = list(spectral.AUGMENTATIONS.values())
WAVEFORM = list(waveform.AUGMENTATIONS.values())


def test_every_type_has_a_function_per_backend():
    assert set(waveform.AUGMENTATIONS) == set(SPECS)
    assert set(spectral.AUGMENTATIONS) == set(SPECS)
    for backend in (spectral, waveform):
        for kind, cls in backend.AUGMENTATIONS.items():
            assert issubclass(cls, SPECS[kind]) and cls.kind == kind
            assert callable(getattr(backend.functional, kind, None))  # the plain function of the same name


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
    y = waveform.functional.time_stretch(x, 1.25, 16000, keep_length=False)
    assert abs(len(y) - 16000 / 1.25) <= 2
    assert waveform.functional.time_stretch(x, 1.25, 16000).shape == x.shape


# the plain functions with one value for every item give what the augmentation objects give
SPECTRAL_VALUES = {
    "time_stretch": {"rate": 1.2},
    "pitch_shift": {"semitones": -2.5},
    "gain": {"gain_db": 4.0},
    "low_pass": {"cutoff_hz": 1500.0},
    "noise": {"snr_db": 20.0, "noise_seed": 3},
    "eq": {
        "peak_freq_hz": [[500.0, 2000.0]],
        "peak_gain_db": [[6.0, -6.0]],
        "peak_q": [[1.0, 2.0]],
        "low_shelf_freq_hz": 100.0,
        "low_shelf_gain_db": 3.0,
        "high_shelf_freq_hz": 4000.0,
        "high_shelf_gain_db": -3.0,
    },
}


@pytest.mark.parametrize("kind", sorted(SPECTRAL_VALUES))
def test_spectral_functions_are_what_the_augmentations_apply(kind, batch_power):
    fe = spectral.Gain().frontend
    values = SPECTRAL_VALUES[kind]
    n = batch_power.shape[0]
    params = {k: np.repeat(np.asarray(v), n, axis=0) if np.ndim(v) == 2 else np.full(n, v) for k, v in values.items()}
    params["applied"] = np.array([True, False, True, True])
    y = spectral.AUGMENTATIONS[kind]().apply(batch_power, params)
    context = {
        "eq": {"sample_rate": fe.sample_rate, "n_fft": fe.n_fft},
        "low_pass": {"sample_rate": fe.sample_rate, "n_fft": fe.n_fft},
        "noise": {"n_fft": fe.n_fft, "win_length": fe.win_length},
    }.get(kind, {})
    direct = getattr(spectral.functional, kind)(batch_power, **{k: params[k] for k in values}, **context)
    torch.testing.assert_close(y[[0, 2, 3]], direct[[0, 2, 3]], rtol=0, atol=0)
    torch.testing.assert_close(y[1], batch_power[1], rtol=0, atol=0)  # not applied: untouched
    assert not torch.allclose(direct[0], batch_power[0])
    if kind != "noise":  # a number means "the same for every item"
        scalar = {k: (np.asarray(v)[0] if np.ndim(v) == 2 else v) for k, v in values.items()}
        torch.testing.assert_close(getattr(spectral.functional, kind)(batch_power, **scalar, **context), direct)


@pytest.mark.parametrize("kind", sorted(SPECS))
def test_waveform_functions_are_what_the_augmentations_apply(kind, tone):
    aug = waveform.AUGMENTATIONS[kind](sample_rate=16000)
    x = np.stack([tone[:8000], tone[4000:12000]])
    params = aug.sample(np.random.default_rng(5), 2)
    params["applied"] = np.array([False, True])
    y = aug.apply(x, params)
    item = {k: v[1] for k, v in params.items() if k != "applied"}
    context = {} if kind in ("gain", "noise") else {"sample_rate": 16000}
    direct = getattr(waveform.functional, kind)(x[1], **item, **context)
    np.testing.assert_array_equal(y[1], direct)
    np.testing.assert_array_equal(y[0], x[0])
    assert direct.dtype == np.float32 and direct.shape == x[1].shape


def test_fixed_values_are_checked_like_ranges():
    assert SPECS["time_stretch"].check("rate", 2) == 2.0
    for kind, param, value, word in [
        ("time_stretch", "rate", 0.0, "outside (0, 4]"),
        ("pitch_shift", "semitones", 30, "outside [-24, 24]"),
        ("gain", "gain_db", "loud", "not a number"),
        ("low_pass", "cutoff_hz", float("nan"), "not finite"),
    ]:
        with pytest.raises(ConfigError, match=rf"augment\.{kind}\.{param}: .*{re.escape(word)}"):
            SPECS[kind].check(param, value)
    with pytest.raises(ConfigError, match="augment.eq.max_freq_hz: 7000 Hz is not below Nyquist"):
        waveform.Equaliser(sample_rate=12000, max_freq_hz=7000)

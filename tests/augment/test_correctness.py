"""Both backends against independent estimators (librosa pitch / chroma / onsets, scipy Welch)."""

import numpy as np
import pytest
import scipy.signal
import torch

from tunespace.augment import spectral, waveform

SR = 16000

BACKENDS = ("waveform", "spectral")


def _make(backend, cls_name, **spec):
    mod = waveform if backend == "waveform" else spectral
    return getattr(mod, cls_name)(**spec)


def _params(**values):
    out = {k: np.atleast_1d(np.asarray(v, dtype=np.float64)) for k, v in values.items()}
    out["applied"] = np.array([True])
    return out


def _run(backend, aug, x, params, logmel):
    """Waveform backend: augmented audio. Spectral: augmented (F, T) power and the input's power."""
    if backend == "waveform":
        return aug.apply(x, params)
    p = logmel.power(torch.from_numpy(x)[None])
    return aug.apply(p, params)[0].numpy()


def _clean(backend, x, logmel):
    """What the estimators read for the un-augmented input: audio, or its (F, T) power."""
    if backend == "waveform":
        return x
    return logmel.power(torch.from_numpy(x)[None])[0].numpy()


# ---------------------------------------------------------------- estimators


def pitch_hz(backend, y, logmel):
    """Waveform: median YIN f0. Spectral: interpolated peak of the mean linear spectrum (100-1000 Hz)."""
    import librosa

    if backend == "waveform":
        mid = y[len(y) // 4 : 3 * len(y) // 4]
        return float(np.median(librosa.yin(mid, fmin=100, fmax=1000, sr=SR, frame_length=2048)))
    spec = np.log(y[:, y.shape[1] // 4 : 3 * y.shape[1] // 4].mean(1) + 1e-12)
    lo, hi = int(100 * 2048 / SR), int(1000 * 2048 / SR)
    k = lo + int(np.argmax(spec[lo:hi]))
    a, b, c = spec[k - 1], spec[k], spec[k + 1]
    return (k + 0.5 * (a - c) / (a - 2 * b + c)) * SR / 2048


def chroma(backend, y, logmel):
    import librosa

    if backend == "waveform":
        return librosa.feature.chroma_stft(y=y, sr=SR, n_fft=2048, hop_length=160, tuning=0.0).mean(1)
    return (librosa.filters.chroma(sr=SR, n_fft=2048, tuning=0.0) @ y).mean(1)


def best_shift(c0, c1):
    return int(np.argmax([np.dot(np.roll(c0, k), c1) for k in range(12)]))


def beat_period_s(backend, y, logmel):
    """Period of the onsets librosa detects, by least squares of onset time on beat index."""
    import librosa

    if backend == "waveform":
        t = librosa.onset.onset_detect(y=y, sr=SR, hop_length=160, units="time")
    else:
        mel = logmel.mel(torch.from_numpy(y)[None])[0].numpy()
        env = librosa.onset.onset_strength(S=librosa.power_to_db(mel), sr=SR, hop_length=160)
        t = librosa.onset.onset_detect(onset_envelope=env, sr=SR, hop_length=160, units="time")
    t = t[(t > 1.5) & (t < 6.5)]  # away from the zeros a centred stretch leaves at the ends
    ioi = np.median(np.diff(t))
    idx = np.round((t - t[0]) / ioi)
    assert len(t) >= 8 and np.all(np.abs(t - t[0] - idx * ioi) < 0.3 * ioi)
    return float(np.polyfit(idx, t, 1)[0])


def band_gain_db(backend, x, y, f_lo, f_hi, logmel):
    if backend == "waveform":
        f, p0 = scipy.signal.welch(x, SR, nperseg=4096)
        _, p1 = scipy.signal.welch(y, SR, nperseg=4096)
    else:
        p0 = logmel.power(torch.from_numpy(x)[None])[0].numpy().mean(1)
        p1 = y.mean(1)
        f = np.arange(len(p0)) * SR / 2048
    band = (f >= f_lo) & (f <= f_hi)
    return 10 * np.log10(p1[band].sum() / p0[band].sum())


# ---------------------------------------------------------------- tests


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("semitones", [3.0, -4.0])
def test_pitch_shift_moves_f0(backend, semitones, tone, logmel):
    aug = _make(backend, "PitchShift")
    y = _run(backend, aug, tone, _params(semitones=semitones), logmel)
    f0 = pitch_hz(backend, y, logmel)
    expected = 330.0 * 2 ** (semitones / 12)
    assert abs(1200 * np.log2(f0 / expected)) < 30, (f0, expected)
    assert abs(1200 * np.log2(pitch_hz(backend, _clean(backend, tone, logmel), logmel) / 330.0)) < 30


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("semitones", [2, 5, -3])
def test_pitch_shift_rotates_chroma_of_triad(backend, semitones, triad, logmel):
    aug = _make(backend, "PitchShift")
    c0 = chroma(backend, _clean(backend, triad, logmel), logmel)
    c1 = chroma(backend, _run(backend, aug, triad, _params(semitones=float(semitones)), logmel), logmel)
    assert set(np.argsort(c0)[-3:]) == {0, 4, 7}  # C, E, G
    assert best_shift(c0, c1) == semitones % 12
    assert set(np.argsort(c1)[-3:]) == {(0 + semitones) % 12, (4 + semitones) % 12, (7 + semitones) % 12}


@pytest.mark.slow
@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("rate", [1.25, 0.8])
def test_time_stretch_changes_tempo_not_pitch(backend, rate, pulses, logmel):
    aug = _make(backend, "TimeStretch")
    base = _clean(backend, pulses, logmel)
    y = _run(backend, aug, pulses, _params(rate=rate), logmel)
    p0, p1 = beat_period_s(backend, base, logmel), beat_period_s(backend, y, logmel)
    assert abs(p0 - 0.5) < 0.01
    assert abs((p0 / p1) / rate - 1) < 0.03, (p0, p1)
    if backend == "waveform":  # the stretched part is centred, zeros outside it
        y = y[int(len(y) * 0.3) : int(len(y) * 0.7)]
    else:
        y = y[:, int(y.shape[1] * 0.3) : int(y.shape[1] * 0.7)]
    assert abs(1200 * np.log2(pitch_hz(backend, y, logmel) / 440.0)) < 30


@pytest.mark.parametrize("backend", BACKENDS)
def test_eq_changes_band_energy_by_gain(backend, noise, logmel):
    aug = _make(backend, "Equaliser", n_peaks=1)
    params = _params(low_shelf_freq_hz=150.0, low_shelf_gain_db=-6.0, high_shelf_freq_hz=5000.0, high_shelf_gain_db=0.0)
    params.update(peak_freq_hz=np.array([[1000.0]]), peak_gain_db=np.array([[9.0]]), peak_q=np.array([[2.0]]))
    y = _run(backend, aug, noise, params, logmel)
    assert abs(band_gain_db(backend, noise, y, 980, 1020, logmel) - 9.0) < 1.0
    assert abs(band_gain_db(backend, noise, y, 20, 60, logmel) - (-6.0)) < 1.0
    assert abs(band_gain_db(backend, noise, y, 3000, 3500, logmel)) < 1.0


@pytest.mark.parametrize("backend", BACKENDS)
def test_gain_and_noise_levels(backend, noise, logmel):
    y = _run(backend, _make(backend, "Gain"), noise, _params(gain_db=-6.0), logmel)
    assert abs(band_gain_db(backend, noise, y, 100, 7000, logmel) + 6.0) < 0.1
    tone = (0.2 * np.sin(2 * np.pi * 500 * np.arange(SR) / SR)).astype(np.float32)
    y = _run(backend, _make(backend, "Noise"), tone, _params(snr_db=10.0, noise_seed=5), logmel)
    # added power over the whole band is a tenth of the tone's power: +0.41 dB
    assert abs(band_gain_db(backend, tone, y, 0, 8000, logmel) - 10 * np.log10(1.1)) < 0.15
    # away from the tone the added noise is white: equal power in equal-width bands
    if backend == "waveform":
        f, py = scipy.signal.welch(y, SR, nperseg=2048)
    else:
        py, f = y.mean(1), np.arange(y.shape[0]) * SR / 2048
    lo, hi = py[(f >= 1000) & (f < 3000)].sum(), py[(f >= 5000) & (f < 7000)].sum()
    assert abs(10 * np.log10(lo / hi)) < 1.0


def first_order_low_pass_db(f_hz, cutoff_hz):
    """Power response of the bilinear (pre-warped) first-order low-pass, from its analog prototype."""
    ratio = np.tan(np.pi * f_hz / SR) / np.tan(np.pi * cutoff_hz / SR)
    return -10 * np.log10(1 + ratio**2)


@pytest.mark.parametrize("backend", BACKENDS)
def test_low_pass_attenuates_like_a_first_order_filter(backend, noise, logmel):
    y = _run(backend, _make(backend, "LowPass"), noise, _params(cutoff_hz=1000.0), logmel)
    for lo, hi in [(100, 200), (950, 1050), (1900, 2100), (3900, 4100), (6000, 6400)]:
        expected = first_order_low_pass_db((lo + hi) / 2, 1000.0)
        assert abs(band_gain_db(backend, noise, y, lo, hi, logmel) - expected) < 0.2, (lo, hi, expected)
    assert first_order_low_pass_db(1000.0, 1000.0) == pytest.approx(-3.01, abs=0.01)


def test_waveform_low_pass_runs_the_filter_the_spectral_backend_models(noise):
    from tunespace.augment import biquad

    y = waveform.functional.low_pass(noise, 1500.0, sample_rate=SR)  # pedalboard (JUCE)
    ref = scipy.signal.sosfilt(biquad.first_order_low_pass(np.array([1500.0]), SR), noise.astype(np.float64))
    np.testing.assert_allclose(y, ref, rtol=0, atol=1e-6 * float(np.abs(ref).max()))


def test_spectral_reverb_decays_like_a_convolution_with_decaying_noise(logmel):
    """A 0.1 s noise burst: the spectral reverb's energy decays at -60 dB per T60, as the burst
    convolved (scipy) with noise whose power decays by 60 dB over T60; nothing before the burst;
    a short tail keeps the burst's energy; wet level 0 changes nothing."""
    rng = np.random.default_rng(0)
    x = np.zeros(3 * SR, np.float32)
    x[SR // 2 : SR // 2 + SR // 10] = rng.standard_normal(SR // 10)
    t60 = 1.0
    lags = np.arange(2 * SR) / SR
    rir = rng.standard_normal(lags.size) * np.exp(-np.log(1e6) / 2 * lags / t60)
    conv = scipy.signal.fftconvolve(x, rir)[: x.size].astype(np.float32)
    aug = spectral.Reverb()
    room = (t60 - 0.3) / 2.0  # reverb_t60: 0.3 + 2 * room_size
    out = _run("spectral", aug, x, _params(room_size=room, wet_level=1.0), logmel)
    frame_s = 160 / SR
    t = np.arange(out.shape[-1]) * frame_s
    late = (t > 0.8) & (t < 1.8)

    def slope_db_per_s(power):
        db = 10 * np.log10(power.sum(0) + 1e-20)
        return np.polyfit(t[late], db[late], 1)[0]

    expected = -60.0 / t60
    assert slope_db_per_s(out) == pytest.approx(expected, rel=0.05)
    assert slope_db_per_s(_clean("spectral", conv, logmel)) == pytest.approx(expected, rel=0.15)
    before = t < 0.45  # the burst starts at 0.5 s (frames are 25 ms long)
    assert out[:, before].sum() < 1e-6 * out.sum()
    p = _clean("spectral", x, logmel)
    short = _run("spectral", aug, x, _params(room_size=0.0, wet_level=1.0), logmel)  # T60 0.3 s fits
    assert short.sum() == pytest.approx(p.sum(), rel=1e-3)
    dry = aug.apply(torch.from_numpy(p)[None], _params(room_size=0.5, wet_level=0.0))[0].numpy()
    np.testing.assert_array_equal(dry, p)

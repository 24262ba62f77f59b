"""Waveform augmentations as plain functions of one signal, through well-kept libraries.

Every function takes one float32 signal ``x`` of shape ``(samples,)`` at ``sample_rate`` Hz
and plain numbers (numpy scalars welcome), and returns a float32 ``(samples,)`` signal (only
``time_stretch(..., keep_length=False)`` changes the length). Units: rates are dimensionless
(``> 1`` faster), pitch in semitones, gains in dB, frequencies in Hz, SNR in dB.

What does the work: Rubber Band through ``pedalboard.time_stretch`` (time-stretch,
pitch-shift), ``scipy.signal.sosfilt`` with the RBJ sections of
:mod:`tunespace.augment.biquad` (EQ), ``pedalboard.LowpassFilter`` (low-pass),
``pedalboard.Reverb`` (Freeverb). Written here: only gain, white noise at an SNR and the
centring of a time-stretched signal (:func:`place_centred`).
"""

from __future__ import annotations

import numpy as np
import pedalboard
from scipy.signal import sosfilt

from .. import biquad


def place_centred(y: np.ndarray, length: int, offset: int) -> np.ndarray:
    """Put ``y`` into a zero array of ``length`` samples starting at ``offset`` (may be negative)."""
    out = np.zeros(length, dtype=np.float32)
    lo, hi = max(0, offset), min(length, offset + y.shape[0])
    if hi > lo:
        out[lo:hi] = y[lo - offset : hi - offset]
    return out


def time_stretch(x: np.ndarray, rate: float, sample_rate: float, keep_length: bool = True) -> np.ndarray:
    """Rubber Band time-stretch by ``rate`` (``> 1`` faster), pitch unchanged.

    With ``keep_length`` the output has the input's length and its centre aligned: output
    sample ``t`` holds the input content at ``c + (t - c) * rate``, ``c`` the centre sample;
    where that falls outside the input the output is zero. Without it the whole stretched
    signal is returned (``round(samples / rate)`` samples).
    """
    y = pedalboard.time_stretch(np.ascontiguousarray(x[None]), float(sample_rate), stretch_factor=float(rate))[0]
    if not keep_length:
        return y
    c = (x.shape[0] - 1) / 2.0
    return place_centred(y, x.shape[0], int(round(c - c / float(rate))))


def pitch_shift(x: np.ndarray, semitones: float, sample_rate: float) -> np.ndarray:
    """Rubber Band pitch-shift by ``semitones`` (positive = up), duration unchanged.

    The whole spectrum moves, formants included (``preserve_formants=False``): pedalboard's
    default formant preservation keeps the spectral envelope in place, which attenuates
    partials shifted out of it and is not what the spectral backend does either.
    """
    y = pedalboard.time_stretch(
        np.ascontiguousarray(x[None]),
        float(sample_rate),
        stretch_factor=1.0,
        pitch_shift_in_semitones=float(semitones),
        preserve_formants=False,
    )[0]
    return place_centred(y, x.shape[0], 0)


def eq(
    x: np.ndarray,
    peak_freq_hz: np.ndarray,
    peak_gain_db: np.ndarray,
    peak_q: np.ndarray,
    low_shelf_freq_hz: float,
    low_shelf_gain_db: float,
    high_shelf_freq_hz: float,
    high_shelf_gain_db: float,
    *,
    sample_rate: float,
) -> np.ndarray:
    """Filter with peaking biquads (Hz, dB, Q; ``(K,)`` each), then a low and a high shelf (Hz, dB).

    The RBJ sections of :func:`tunespace.augment.biquad.equaliser_sos` (shelf Q 1/sqrt(2)),
    run by ``scipy.signal.sosfilt`` in float64.
    """
    peaks = (np.asarray(v, dtype=np.float64).reshape(1, -1) for v in (peak_freq_hz, peak_gain_db, peak_q))
    shelves = (
        np.asarray(v, dtype=np.float64).reshape(1)
        for v in (low_shelf_freq_hz, low_shelf_gain_db, high_shelf_freq_hz, high_shelf_gain_db)
    )
    sos = biquad.equaliser_sos(*peaks, *shelves, sample_rate)[0]
    return sosfilt(sos, x.astype(np.float64)).astype(np.float32)


def low_pass(x: np.ndarray, cutoff_hz: float, *, sample_rate: float) -> np.ndarray:
    """First-order low-pass (-3 dB at ``cutoff_hz`` Hz, 6 dB/octave): ``pedalboard.LowpassFilter``."""
    fx = pedalboard.LowpassFilter(cutoff_frequency_hz=float(cutoff_hz))
    return fx(np.ascontiguousarray(x[None], dtype=np.float32), float(sample_rate))[0]


def gain(x: np.ndarray, gain_db: float) -> np.ndarray:
    """Multiply by ``10 ** (gain_db / 20)`` (in float64, rounded to float32)."""
    return (x.astype(np.float64) * 10.0 ** (float(gain_db) / 20.0)).astype(np.float32)


def noise(x: np.ndarray, snr_db: float, noise_seed: int) -> np.ndarray:
    """Add white Gaussian noise of power ``mean(x ** 2) / 10 ** (snr_db / 10)``, drawn from ``noise_seed``."""
    power = float(np.mean(x.astype(np.float64) ** 2))
    white = np.random.default_rng(int(noise_seed)).standard_normal(x.shape[0])
    return (x + white * np.sqrt(power / 10.0 ** (float(snr_db) / 10.0))).astype(np.float32)


def reverb(x: np.ndarray, room_size: float, wet_level: float, *, sample_rate: float) -> np.ndarray:
    """Freeverb (``pedalboard.Reverb``) with ``room_size`` and ``wet_level`` in [0, 1], dry level ``1 - wet_level``."""
    fx = pedalboard.Reverb(room_size=float(room_size), wet_level=float(wet_level), dry_level=float(1.0 - wet_level))
    return fx(np.ascontiguousarray(x[None]), float(sample_rate))[0]

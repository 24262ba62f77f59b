"""Apply chosen augmentations with fixed values (not drawn) to a whole file, for listening.

The values are checked against the same limits as the policies' ranges
(:meth:`tunespace.augment.base.Augmentation.check`) and applied by the waveform backend's
plain functions (:mod:`tunespace.augment.waveform.functional`).
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import ConfigError
from .base import EqualiserSpec, GainSpec, LowPassSpec, NoiseSpec, PitchShiftSpec, ReverbSpec, TimeStretchSpec
from .waveform import functional as F

Peak = tuple[float, float, float]
#: Wet level of ``--reverb`` (dry level 0.7).
REVERB_WET_LEVEL = 0.3


def parse_eq(text: str) -> list[Peak]:
    """``"1000:6:1.4,250:-3:0.7"`` -> ``[(1000.0, 6.0, 1.4), (250.0, -3.0, 0.7)]`` (Hz, dB, Q)."""
    peaks = []
    for part in text.split(","):
        fields = part.strip().split(":")
        try:
            if len(fields) != 3:
                raise ValueError
            peaks.append((float(fields[0]), float(fields[1]), float(fields[2])))
        except ValueError:
            raise ConfigError(f"--eq: {part.strip()!r} is not FREQ_HZ:GAIN_DB:Q") from None
    return peaks


def augment_file(
    in_path: str | Path,
    out_path: str | Path,
    *,
    time_stretch: float | None = None,
    pitch_shift: float | None = None,
    eq: list[Peak] | None = None,
    low_pass_hz: float | None = None,
    gain_db: float | None = None,
    noise_snr_db: float | None = None,
    reverb_room_size: float | None = None,
    seed: int = 0,
) -> dict[str, dict[str, Any]]:
    """Apply the given augmentations (waveform backend) to a whole file and write the result.

    Order: time-stretch, pitch-shift, EQ, low-pass, gain, noise, reverb. The file is read mono
    at its own sample rate, not cropped (time-stretch changes its duration), and written as
    float WAV or FLAC by the extension of ``out_path``. Every value is checked before the file
    is read.

    Args:
        in_path, out_path: audio files.
        time_stretch: rate, ``> 1`` faster.
        pitch_shift: semitones.
        eq: peaking filters ``(freq_hz, gain_db, q)`` (with flat 0 dB shelves at 100 and 3000 Hz).
        low_pass_hz: cutoff of a first-order low-pass, Hz.
        gain_db: broadband gain, dB.
        noise_snr_db: white noise at this SNR, dB.
        reverb_room_size: Freeverb room size in [0, 1] (wet level 0.3).
        seed: seed of the noise.
    Returns:
        ``{kind: {param: value}}`` of what was applied.
    Raises:
        ConfigError: a value out of range; AudioError: unreadable input.
    """
    from .. import audio

    sr = audio.info(in_path).sample_rate
    steps: list[tuple[str, dict[str, Any], Callable[[np.ndarray], np.ndarray]]] = []
    if time_stretch is not None:
        rate = TimeStretchSpec.check("rate", time_stretch)
        steps.append(("time_stretch", {"rate": rate}, lambda x: F.time_stretch(x, rate, sr, keep_length=False)))
    if pitch_shift is not None:
        semitones = PitchShiftSpec.check("semitones", pitch_shift)
        steps.append(("pitch_shift", {"semitones": semitones}, lambda x: F.pitch_shift(x, semitones, sr)))
    if eq:
        bands = {
            "peak_freq_hz": [
                EqualiserSpec.check_below_nyquist("freq_hz", EqualiserSpec.check("freq_hz", f), sr) for f, _, _ in eq
            ],
            "peak_gain_db": [EqualiserSpec.check("gain_db", g) for _, g, _ in eq],
            "peak_q": [EqualiserSpec.check("q", q) for _, _, q in eq],
            "low_shelf_freq_hz": 100.0,
            "low_shelf_gain_db": 0.0,
            "high_shelf_freq_hz": 3000.0,
            "high_shelf_gain_db": 0.0,
        }
        steps.append(("eq", bands, lambda x: F.eq(x, **bands, sample_rate=sr)))
    if low_pass_hz is not None:
        cutoff = LowPassSpec.check_below_nyquist("cutoff_hz", LowPassSpec.check("cutoff_hz", low_pass_hz), sr)
        steps.append(("low_pass", {"cutoff_hz": cutoff}, lambda x: F.low_pass(x, cutoff, sample_rate=sr)))
    if gain_db is not None:
        gain = GainSpec.check("gain_db", gain_db)
        steps.append(("gain", {"gain_db": gain}, lambda x: F.gain(x, gain)))
    if noise_snr_db is not None:
        snr = NoiseSpec.check("snr_db", noise_snr_db)
        steps.append(("noise", {"snr_db": snr, "noise_seed": int(seed)}, lambda x: F.noise(x, snr, seed)))
    if reverb_room_size is not None:
        room = ReverbSpec.check("room_size", reverb_room_size)
        steps.append(
            (
                "reverb",
                {"room_size": room, "wet_level": REVERB_WET_LEVEL},
                lambda x: F.reverb(x, room, REVERB_WET_LEVEL, sample_rate=sr),
            )
        )
    x = audio.load(in_path, sr=sr)
    for _, _, fn in steps:
        x = fn(x)
    audio.save(out_path, x, sr)
    return {kind: values for kind, values, _ in steps}

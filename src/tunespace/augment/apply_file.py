"""Apply chosen augmentations (fixed values, not drawn) to a whole file, for listening."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from ..errors import ConfigError
from . import waveform

Peak = tuple[float, float, float]


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


def augment_file(in_path: str | Path, out_path: str | Path, *, time_stretch: float | None = None,
                 pitch_shift: float | None = None, eq: list[Peak] | None = None, gain_db: float | None = None,
                 noise_snr_db: float | None = None, reverb_room_size: float | None = None,
                 seed: int = 0) -> dict[str, dict[str, Any]]:
    """Apply the given augmentations (waveform backend) to a whole file and write the result.

    Order: time-stretch, pitch-shift, EQ, gain, noise, reverb. The file is read mono at its
    own sample rate, not cropped (time-stretch changes its duration), and written as float WAV
    or FLAC by the extension of ``out_path``.

    Args:
        in_path, out_path: audio files.
        time_stretch: rate, ``> 1`` faster.
        pitch_shift: semitones.
        eq: peaking filters ``(freq_hz, gain_db, q)``.
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
    x = audio.load(in_path, sr=sr)
    steps: list[tuple[Any, dict[str, np.ndarray]]] = []
    if time_stretch is not None:
        aug = waveform.TimeStretch(sr, keep_length=False, min_rate=time_stretch, max_rate=time_stretch)
        steps.append((aug, {"rate": np.array([time_stretch])}))
    if pitch_shift is not None:
        aug = waveform.PitchShift(sr, min_semitones=pitch_shift, max_semitones=pitch_shift)
        steps.append((aug, {"semitones": np.array([pitch_shift])}))
    if eq:
        f, g, q = (np.array([[p[i] for p in eq]], dtype=np.float64) for i in range(3))
        aug = waveform.Equaliser(sr, n_peaks=len(eq), min_freq_hz=float(f.min()), max_freq_hz=float(f.max()),
                                 min_gain_db=float(g.min()), max_gain_db=float(g.max()), min_q=float(q.min()),
                                 max_q=float(q.max()), shelves=False)
        steps.append((aug, {"peak_freq_hz": f, "peak_gain_db": g, "peak_q": q,
                            "low_shelf_freq_hz": np.array([100.0]), "low_shelf_gain_db": np.zeros(1),
                            "high_shelf_freq_hz": np.array([3000.0]), "high_shelf_gain_db": np.zeros(1)}))
    if gain_db is not None:
        steps.append((waveform.Gain(sr, min_gain_db=gain_db, max_gain_db=gain_db), {"gain_db": np.array([gain_db])}))
    if noise_snr_db is not None:
        aug = waveform.Noise(sr, min_snr_db=noise_snr_db, max_snr_db=noise_snr_db)
        steps.append((aug, {"snr_db": np.array([noise_snr_db]), "noise_seed": np.array([seed], dtype=np.int64)}))
    if reverb_room_size is not None:
        aug = waveform.Reverb(sr, min_room_size=reverb_room_size, max_room_size=reverb_room_size,
                              min_wet_level=0.3, max_wet_level=0.3)
        steps.append((aug, {"room_size": np.array([reverb_room_size]), "wet_level": np.array([0.3])}))
    applied: dict[str, dict[str, Any]] = {}
    for aug, params in steps:
        params["applied"] = np.array([True])
        x = aug.apply(x, params)
        applied[aug.kind] = {k: v.tolist()[0] for k, v in params.items() if k != "applied"}
    audio.save(out_path, x, sr)
    return applied

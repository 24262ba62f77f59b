"""Key and tempo estimators used to check that corpus labels are audible.

Independent of the generator: they only see the rendered audio. Key: mean CQT chroma
(C3 upwards, so that the overtones of bass notes do not dominate) correlated with the 24
rotations of a key profile (Temperley's Kostka-Payne profiles by default, or
Krumhansl-Kessler's), i.e. the Krumhansl-Schmuckler algorithm. Tempo:
librosa's beat tracker. Octave-tolerant tempo agreement follows the research brief's
Acc2 (ratio within 4 % of 1, 2, 1/2, 3 or 1/3).
"""

from __future__ import annotations

import numpy as np

from tunespace.keys import KEY_NAMES, parse_key

# Krumhansl & Kessler (1982) probe-tone profiles, tonic first.
KK_MAJOR = np.array([6.35, 2.23, 3.48, 2.33, 4.38, 4.09, 2.52, 5.19, 2.39, 3.66, 2.29, 2.88])
KK_MINOR = np.array([6.33, 2.68, 3.52, 5.38, 2.60, 3.53, 2.54, 4.75, 3.98, 2.69, 3.34, 3.17])
# Temperley (1999/2001) Kostka-Payne profiles, tonic first.
TP_MAJOR = np.array([5.0, 2.0, 3.5, 2.0, 4.5, 4.0, 2.0, 4.5, 2.0, 3.5, 1.5, 4.0])
TP_MINOR = np.array([5.0, 2.0, 3.5, 4.5, 2.0, 4.0, 2.0, 4.5, 3.5, 2.0, 1.5, 4.0])
PROFILES = {"temperley": (TP_MAJOR, TP_MINOR), "krumhansl": (KK_MAJOR, KK_MINOR)}


def key_chroma(audio: np.ndarray, sr: int) -> np.ndarray:
    """Mean CQT chroma, shape (12,), of mono ``audio`` at ``sr`` Hz, from C3 over 5 octaves."""
    import librosa

    return librosa.feature.chroma_cqt(y=audio, sr=sr, hop_length=2048, fmin=librosa.note_to_hz("C3"), n_octaves=5).mean(
        axis=1
    )


def estimate_key(audio: np.ndarray, sr: int, profile: str = "temperley") -> str:
    """Key name (``"F# minor"``) of mono ``audio`` at ``sr`` Hz, Krumhansl-Schmuckler style."""
    return key_from_chroma(key_chroma(audio, sr), profile)


def key_from_chroma(chroma: np.ndarray, profile: str = "temperley") -> str:
    """The key whose rotated ``profile`` correlates best with ``chroma`` (12,)."""
    major, minor = PROFILES[profile]
    best, best_r = KEY_NAMES[0], -2.0
    for name in KEY_NAMES:
        pc, mode = parse_key(name)
        prof = np.roll(major if mode == "major" else minor, pc)
        r = float(np.corrcoef(chroma, prof)[0, 1])
        if r > best_r:
            best, best_r = name, r
    return best


def estimate_tempo(audio: np.ndarray, sr: int) -> float:
    """Tempo in BPM of mono ``audio`` at ``sr`` Hz (librosa beat tracker)."""
    import librosa

    tempo, _ = librosa.beat.beat_track(y=audio, sr=sr)
    return float(np.atleast_1d(tempo)[0])


def tempo_agrees(estimate: float, label: float, octave: bool = False, tol: float = 0.04) -> bool:
    """Acc1 (``octave=False``) or Acc2 (``octave=True``) agreement of two tempi in BPM."""
    factors = (1.0, 2.0, 0.5, 3.0, 1.0 / 3.0) if octave else (1.0,)
    return any(abs(estimate / (label * f) - 1.0) <= tol for f in factors)

"""Key and tempo estimators used to check that corpus labels are audible.

Independent of the generator: they only see the rendered audio. Key: mean CQT chroma
correlated with the 24 rotations of the Krumhansl-Kessler key profiles. Tempo:
librosa's beat tracker. Octave-tolerant tempo agreement follows the research brief's
Acc2 (ratio within 4 % of 1, 2, 1/2, 3 or 1/3).
"""

from __future__ import annotations

import numpy as np

from tunespace.keys import KEY_NAMES, parse_key

# Krumhansl & Kessler (1982) probe-tone profiles, tonic first.
KK_MAJOR = np.array([6.35, 2.23, 3.48, 2.33, 4.38, 4.09, 2.52, 5.19, 2.39, 3.66, 2.29, 2.88])
KK_MINOR = np.array([6.33, 2.68, 3.52, 5.38, 2.60, 3.53, 2.54, 4.75, 3.98, 2.69, 3.34, 3.17])


def estimate_key(audio: np.ndarray, sr: int) -> str:
    """Key name (``"F# minor"``) of mono ``audio`` at ``sr`` Hz, Krumhansl-Schmuckler style."""
    import librosa

    chroma = librosa.feature.chroma_cqt(y=audio, sr=sr, hop_length=2048).mean(axis=1)
    best, best_r = KEY_NAMES[0], -2.0
    for name in KEY_NAMES:
        pc, mode = parse_key(name)
        prof = np.roll(KK_MAJOR if mode == "major" else KK_MINOR, pc)
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

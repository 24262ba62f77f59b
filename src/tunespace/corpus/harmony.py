"""Diatonic harmony in a key: scales, chords on scale degrees, and voicings in a register.

Written by hand: it is a few lines of arithmetic on semitones, and music21's equivalent
(``roman.RomanNumeral``) costs milliseconds per chord, too slow for thousands of chords.
Pitches are MIDI note numbers; pitch classes are semitones above C (0-11); offsets are
semitones above the tonic. Minor keys use the natural minor scale, except that the
dominant (degree 4) and leading-tone (degree 6) chords take the raised seventh (harmonic
minor), which makes V-i cadences, and so the minor key, unambiguous.
"""

from __future__ import annotations

MAJOR_SCALE: tuple[int, ...] = (0, 2, 4, 5, 7, 9, 11)
MINOR_SCALE: tuple[int, ...] = (0, 2, 3, 5, 7, 8, 10)


def scale_offsets(mode: str, degree: int | None = None) -> tuple[int, ...]:
    """The seven scale offsets (semitones above the tonic) to use over the chord on ``degree``.

    Args:
        mode: ``"major"`` or ``"minor"``.
        degree: 0-based scale degree of the current chord; in minor, degrees 4 and 6 raise
            the seventh (10 -> 11 semitones).
    """
    if mode == "major":
        return MAJOR_SCALE
    if degree is not None and degree % 7 in (4, 6):
        return MINOR_SCALE[:6] + (11,)
    return MINOR_SCALE


def chord_offsets(mode: str, degree: int, seventh: bool = False) -> list[int]:
    """Offsets above the tonic of the diatonic triad (or seventh chord) on ``degree``.

    Args:
        mode: ``"major"`` or ``"minor"``.
        degree: 0-based scale degree of the root (0 = tonic, 4 = dominant).
        seventh: add the diatonic seventh.
    Returns:
        ascending offsets, root first (may exceed 11).
    """
    scale = scale_offsets(mode, degree)
    steps = (0, 2, 4, 6) if seventh else (0, 2, 4)
    out = []
    for s in steps:
        i = degree + s
        out.append(scale[i % 7] + 12 * (i // 7))
    return out


def place(pc: int, centre: int) -> int:
    """The MIDI pitch of pitch class ``pc`` (any integer) in ``[centre - 6, centre + 6)``."""
    return centre - 6 + (pc - (centre - 6)) % 12


def voice(tonic: int, offsets: list[int], centre: int) -> list[int]:
    """Close-position voicing of a chord with its root nearest ``centre``.

    Args:
        tonic: tonic pitch class (0-11).
        offsets: chord offsets above the tonic, root first (from :func:`chord_offsets`).
        centre: MIDI pitch the root is placed near.
    Returns:
        ascending MIDI pitches.
    """
    root = place(tonic + offsets[0], centre)
    return [root + o - offsets[0] for o in offsets]


def scale_pitches(tonic: int, mode: str, degree: int, low: int, high: int) -> list[int]:
    """All MIDI pitches of the scale (as used over ``degree``) within ``[low, high]``."""
    pcs = {(tonic + o) % 12 for o in scale_offsets(mode, degree)}
    return [p for p in range(low, high + 1) if p % 12 in pcs]

"""Musical keys: the 24 major/minor key names tunespace uses, and parsing of other spellings.

Canonical form: ``"<tonic> <mode>"`` with sharps, e.g. ``"C major"``, ``"F# minor"``. This is
also the form mir_eval's key metrics accept. Pitch classes count semitones above C (0-11).
"""

from __future__ import annotations

import re

from .errors import ConfigError

PITCH_CLASSES: tuple[str, ...] = ("C", "C#", "D", "D#", "E", "F", "F#", "G", "G#", "A", "A#", "B")
MODES: tuple[str, ...] = ("major", "minor")
#: All 24 keys in a fixed, documented order: C major, C# major, ..., B major, C minor, ..., B minor.
KEY_NAMES: tuple[str, ...] = tuple(f"{pc} {m}" for m in MODES for pc in PITCH_CLASSES)

_NOTE = {"C": 0, "D": 2, "E": 4, "F": 5, "G": 7, "A": 9, "B": 11}
_KEY_RE = re.compile(r"^\s*([A-Ga-g])\s*([#b♯♭]*)\s*[:\s-]?\s*(major|minor|maj|min|m)?\s*$", re.I)


def key_name(tonic: int, mode: str) -> str:
    """Canonical name of the key with tonic pitch class ``tonic`` (0-11) and ``mode``."""
    if mode not in MODES:
        raise ConfigError(f"unknown mode {mode!r}; expected 'major' or 'minor'")
    return f"{PITCH_CLASSES[tonic % 12]} {mode}"


def parse_key(text: str) -> tuple[int, str]:
    """Parse a key spelled as ``"F# minor"``, ``"Gb major"``, ``"f#:min"``, ``"Am"``...

    Returns:
        (tonic pitch class 0-11, ``"major"`` or ``"minor"``). A bare tonic means major.
    Raises:
        ConfigError: the text is not a key.
    """
    m = _KEY_RE.match(text)
    if not m:
        raise ConfigError(f"not a key: {text!r}")
    letter, accidentals, mode = m.groups()
    pc = _NOTE[letter.upper()]
    pc += accidentals.count("#") + accidentals.count("♯") - accidentals.count("b") - accidentals.count("♭")
    mode_l = (mode or "major").lower()
    if mode == "m" or mode_l in ("minor", "min"):
        mode_n = "minor"
    else:
        mode_n = "major"
    return pc % 12, mode_n


def normalise_key(text: str) -> str:
    """Canonical name (sharps, full mode word) of any spelling :func:`parse_key` accepts."""
    return key_name(*parse_key(text))

"""Reader of the GiantSteps key and GiantSteps tempo datasets (Knees et al., ISMIR 2015).

Both share one layout, so one reader takes whichever annotation folders exist::

    ROOT/audio/<id>.LOFI.mp3
    ROOT/annotations/key/<id>.LOFI.key      one line, e.g. "Eb minor"  -> property "key"
    ROOT/annotations/tempo/<id>.LOFI.bpm    one number (BPM)          -> property "tempo_bpm"

Track ids are the part of the file name before the first dot (``"10089"``). Keys are
normalised with :func:`tunespace.keys.normalise_key` (``"Eb minor"`` -> ``"D# minor"``). An
annotation that cannot be parsed, or one without audio, is skipped and listed in
``Dataset.problems``; a track without an annotation simply lacks that label.
"""

from __future__ import annotations

from pathlib import Path

from ..errors import ConfigError, DatasetError
from ..keys import normalise_key
from .base import AUDIO_SUFFIXES, Dataset, Track, existing_dir, make_dataset

NAME = "giantsteps"
EXPECTED = "ROOT/audio/*.mp3 and ROOT/annotations/key/*.key and/or ROOT/annotations/tempo/*.bpm"


def detect(root: Path) -> bool:
    """True if ``root`` has ``audio/`` and ``annotations/key`` or ``annotations/tempo``."""
    return (root / "audio").is_dir() and any((root / "annotations" / a).is_dir() for a in ("key", "tempo"))


def _track_id(path: Path) -> str:
    return path.name.split(".")[0]


def read_giantsteps(root: str | Path) -> Dataset:
    """Read GiantSteps key and/or tempo.

    Args:
        root: the dataset folder.
    Returns:
        A :class:`Dataset` named ``"giantsteps"`` with property ``key`` ("key") and/or
        ``tempo_bpm`` ("tempo", BPM; named like the tunespace corpus column), by which
        annotation folders exist.
    Raises:
        DatasetError: no ``audio/`` folder or no annotation folder.
    """
    root = existing_dir(root, NAME, EXPECTED)
    if not detect(root):
        raise DatasetError(f"{root}: the giantsteps reader expects {EXPECTED}")
    audio = {
        _track_id(p): p.resolve() for p in sorted((root / "audio").iterdir()) if p.suffix.lower() in AUDIO_SUFFIXES
    }
    labels: dict[str, dict[str, object]] = {tid: {} for tid in audio}
    kinds: dict[str, str] = {}
    problems: list[str] = []
    for folder, suffix, prop, kind in (("key", ".key", "key", "key"), ("tempo", ".bpm", "tempo_bpm", "tempo")):
        ann_dir = root / "annotations" / folder
        if not ann_dir.is_dir():
            continue
        kinds[prop] = kind
        for f in sorted(ann_dir.glob(f"*{suffix}")):
            tid = _track_id(f)
            text = f.read_text(encoding="utf-8", errors="replace").strip()
            try:
                value: object = normalise_key(text) if kind == "key" else float(text.split()[0])
            except (ConfigError, ValueError, IndexError):
                problems.append(f"{f.relative_to(root)}: cannot parse {text[:40]!r} as a {kind}")
                continue
            if tid not in labels:
                problems.append(f"{f.relative_to(root)}: no audio file for id {tid!r}")
                continue
            labels[tid][prop] = value
    tracks = [Track(id=tid, path=p, labels=labels[tid]) for tid, p in audio.items()]
    return make_dataset(NAME, root, tracks, kinds, problems=problems)

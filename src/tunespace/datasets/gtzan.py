"""Reader of GTZAN (Tzanetakis and Cook, 2002), as distributed on Kaggle/Marsyas.

Layout: ``ROOT/genres_original/<genre>/<genre>.000NN.wav`` (also accepted:
``ROOT/Data/genres_original``, or ROOT being ``genres_original`` itself). One property:
``genre`` ("categorical", the folder name). Track ids are file stems (``"jazz.00054"``).
The audio is not decoded here: the known-corrupt ``jazz.00054.wav`` is listed like any other
and fails only when loaded. No split (the fault-filtered split is not included).
"""

from __future__ import annotations

from pathlib import Path

from ..errors import DatasetError
from .base import AUDIO_SUFFIXES, Dataset, Track, existing_dir, make_dataset

NAME = "gtzan"
EXPECTED = "ROOT/genres_original/<genre>/<genre>.000NN.wav"


def _genres_dir(root: Path) -> Path | None:
    for cand in (root / "genres_original", root / "Data" / "genres_original"):
        if cand.is_dir():
            return cand
    if root.name == "genres_original":
        return root
    return None


def detect(root: Path) -> bool:
    """True if ``root`` has a ``genres_original`` folder."""
    return _genres_dir(root) is not None


def read_gtzan(root: str | Path) -> Dataset:
    """Read GTZAN.

    Args:
        root: the folder holding ``genres_original/``.
    Returns:
        A :class:`Dataset` named ``"gtzan"`` with the ``genre`` property.
    Raises:
        DatasetError: no ``genres_original`` folder, or no audio in it.
    """
    root = existing_dir(root, NAME, EXPECTED)
    genres = _genres_dir(root)
    if genres is None:
        raise DatasetError(f"{root}: no genres_original folder; the gtzan reader expects {EXPECTED}")
    tracks: list[Track] = []
    problems: list[str] = []
    for genre_dir in sorted(p for p in genres.iterdir() if p.is_dir()):
        for f in sorted(genre_dir.iterdir()):
            if f.suffix.lower() not in AUDIO_SUFFIXES:
                continue
            if not f.name.startswith(genre_dir.name + "."):
                problems.append(f"{f.relative_to(root)}: name does not start with its genre {genre_dir.name!r}")
            tracks.append(Track(id=f.stem, path=f.resolve(), labels={"genre": genre_dir.name}))
    if not tracks:
        raise DatasetError(f"{genres}: no audio files; the gtzan reader expects {EXPECTED}")
    return make_dataset(NAME, root, tracks, {"genre": "categorical"}, problems=problems)

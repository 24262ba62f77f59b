"""``summarise``: a short text summary of a corpus folder's labels and durations."""

from __future__ import annotations

import csv
from collections import Counter
from pathlib import Path

from ..errors import DatasetError


def read_tracks(corpus_dir: str | Path) -> list[dict[str, str]]:
    """Rows of ``corpus_dir/tracks.csv`` as dicts of strings.

    Raises:
        DatasetError: the folder has no ``tracks.csv``.
    """
    p = Path(corpus_dir) / "tracks.csv"
    if not p.is_file():
        raise DatasetError(f"{corpus_dir}: no tracks.csv (not a tunespace corpus folder)")
    with open(p, newline="", encoding="utf-8") as f:
        return list(csv.DictReader(f))


def _counts(rows: list[dict[str, str]], col: str) -> str:
    c = Counter(r[col] for r in rows)
    return ", ".join(f"{k} {n}" for k, n in sorted(c.items()))


def summarise(corpus_dir: str | Path) -> str:
    """Multi-line summary: track count, total duration, and per-label counts and ranges.

    Args:
        corpus_dir: a folder written by :func:`tunespace.corpus.build_corpus`.
    Returns:
        text: genres (counts), keys (coverage of the 24 and counts), tempo range/mean in BPM,
        moods, instruments (counts) and total duration (s and min).
    """
    rows = read_tracks(corpus_dir)
    if not rows:
        return f"corpus {corpus_dir}: 0 tracks"
    tempi = [float(r["tempo_bpm"]) for r in rows]
    total = sum(float(r["duration_s"]) for r in rows)
    keys = Counter(r["key"] for r in rows)
    sources = sorted({r["source"] for r in rows})
    lines = [
        f"corpus {corpus_dir}: {len(rows)} tracks, {total:.0f} s ({total / 60:.1f} min), source {', '.join(sources)}",
        f"  genres:      {_counts(rows, 'genre')}",
        f"  keys:        {len(keys)}/24 covered; " + ", ".join(f"{k} {n}" for k, n in sorted(keys.items())),
        f"  tempo:       {min(tempi):g}-{max(tempi):g} BPM, mean {sum(tempi) / len(tempi):.1f}",
        f"  moods:       {_counts(rows, 'mood')}",
        f"  instruments: {_counts(rows, 'instrument')}",
    ]
    return "\n".join(lines)

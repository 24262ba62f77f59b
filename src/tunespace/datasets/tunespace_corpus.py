"""Reader of tunespace's own corpus folders (``tunespace corpus build`` output).

Layout::

    DIR/corpus.json     corpus description (seed, generator settings)
    DIR/tracks.csv      one row per track: track_id, path, duration_s, key, tempo_bpm,
                        genre, mood, instrument, source, seed [, extra label columns]

``path`` is relative to DIR; ``key`` is any spelling :func:`tunespace.keys.normalise_key`
accepts. Properties are named after their columns; kinds: ``key`` -> "key", ``tempo_bpm`` ->
"tempo" (BPM), ``genre``/``mood``/``instrument`` ->
"categorical"; any extra column is "continuous" when every non-empty value is a number, else
"categorical". ``path, duration_s, source, seed, track_id`` are not labels. An empty cell means
"unknown" (the label is absent).
"""

from __future__ import annotations

import csv
from pathlib import Path

from ..corpus.plan import CSV_COLUMNS
from ..errors import DatasetError
from .base import Dataset, Track, existing_dir, is_number, make_dataset, parse_label_row

NAME = "tunespace"
EXPECTED = "DIR/tracks.csv and DIR/corpus.json (a tunespace corpus)"
REQUIRED_COLUMNS = CSV_COLUMNS  # the corpus writer's columns (music21 builds add ``piece``)
NOT_LABELS = ("track_id", "path", "duration_s", "source", "seed")
FIXED_KINDS = {
    "key": "key",
    "tempo_bpm": "tempo",
    "genre": "categorical",
    "mood": "categorical",
    "instrument": "categorical",
}


def detect(root: Path) -> bool:
    """True if ``root`` looks like a tunespace corpus."""
    return (root / "tracks.csv").is_file() and (root / "corpus.json").is_file()


def read_tunespace(root: str | Path) -> Dataset:
    """Read a tunespace corpus folder.

    Args:
        root: the corpus folder.
    Returns:
        A :class:`Dataset` named ``"tunespace"``; ``Track.duration_s`` from the CSV (seconds).
    Raises:
        DatasetError: files or required columns missing, or a bad ``key``/number.
    """
    root = existing_dir(root, NAME, EXPECTED)
    if not detect(root):
        raise DatasetError(f"{root}: expected {EXPECTED}")
    table = root / "tracks.csv"
    with open(table, newline="", encoding="utf-8") as f:
        reader = csv.DictReader(f)
        columns = list(reader.fieldnames or [])
        rows = list(reader)
    missing = [c for c in REQUIRED_COLUMNS if c not in columns]
    if missing:
        raise DatasetError(f"{table}: missing columns {missing}; expected {list(REQUIRED_COLUMNS)}")
    extra = [c for c in columns if c not in REQUIRED_COLUMNS]
    kinds = dict(FIXED_KINDS)
    for c in extra:
        values = [r[c] for r in rows if r[c] not in ("", None)]
        kinds[c] = "continuous" if values and all(is_number(v) for v in values) else "categorical"

    tracks: list[Track] = []
    for line, r in enumerate(rows, start=2):
        labels = parse_label_row(table, line, r, kinds)
        try:
            duration = float(r["duration_s"]) if r["duration_s"] else None
        except ValueError:
            raise DatasetError(f"{table}, line {line}: bad duration_s {r['duration_s']!r}") from None
        tracks.append(Track(id=r["track_id"], path=(root / r["path"]).resolve(), labels=labels, duration_s=duration))
    return make_dataset(NAME, root, tracks, kinds)

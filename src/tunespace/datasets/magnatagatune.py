"""Reader of MagnaTagATune (Law et al., ISMIR 2009).

Layout: ``ROOT/annotations_final.csv`` — tab-separated despite its name, fields usually
double-quoted — with columns ``clip_id``, 188 binary tag columns (``0``/``1``) and
``mp3_path`` (e.g. ``f/american_bach_soloists-...-0-29.mp3``, relative to the audio folder:
option ``audio_dir``, default ROOT, or ROOT/mp3 when that exists). One property ``tags``
(kind "tags"). With ``top_n`` (default 50, the standard setting) only the ``top_n`` most
frequent tags are kept (ties broken by tag name); ``top_n=None`` keeps all 188. Clips are
kept even when none of their tags survives (empty tag list). No split.
"""

from __future__ import annotations

import csv
from pathlib import Path

from ..errors import DatasetError
from .base import Dataset, Track, existing_dir, make_dataset

NAME = "magnatagatune"
EXPECTED = "ROOT/annotations_final.csv (tab-separated: clip_id, tag columns, mp3_path)"


def detect(root: Path) -> bool:
    """True if ``root`` holds ``annotations_final.csv``."""
    return (root / "annotations_final.csv").is_file()


def read_magnatagatune(root: str | Path, top_n: int | None = 50, audio_dir: str | Path | None = None) -> Dataset:
    """Read MagnaTagATune.

    Args:
        root: folder holding ``annotations_final.csv``.
        top_n: keep the ``top_n`` most frequent tags (None: all).
        audio_dir: folder ``mp3_path`` is relative to (default ROOT/mp3 if it exists, else ROOT).
    Returns:
        A :class:`Dataset` named ``"magnatagatune"`` with property ``tags``; ids are clip ids.
    Raises:
        DatasetError: no table, missing ``clip_id``/``mp3_path`` columns, a non-0/1 tag value.
    """
    root = existing_dir(root, NAME, EXPECTED)
    table = root / "annotations_final.csv"
    if not table.is_file():
        raise DatasetError(f"{root}: no annotations_final.csv; the magnatagatune reader expects {EXPECTED}")
    if top_n is not None and top_n <= 0:
        raise DatasetError(f"top_n must be a positive number of tags or None, got {top_n}")
    with open(table, newline="", encoding="utf-8") as f:
        rows = list(csv.reader(f, delimiter="\t"))
    if not rows:
        raise DatasetError(f"{table}: empty; expected a header line")
    header = rows[0]
    if "clip_id" not in header or "mp3_path" not in header:
        raise DatasetError(f"{table}: header lacks clip_id or mp3_path (is it tab-separated?); expected {EXPECTED}")
    i_id, i_path = header.index("clip_id"), header.index("mp3_path")
    tag_cols = [i for i in range(len(header)) if i not in (i_id, i_path)]
    audio_root = Path(audio_dir) if audio_dir is not None else (root / "mp3" if (root / "mp3").is_dir() else root)

    clips: list[tuple[str, str, list[str]]] = []
    counts = dict.fromkeys((header[i] for i in tag_cols), 0)
    for line, r in enumerate(rows[1:], start=2):
        if not r or not any(c.strip() for c in r):
            continue
        if len(r) != len(header):
            raise DatasetError(f"{table}, line {line}: {len(r)} fields, header has {len(header)}")
        tags = []
        for i in tag_cols:
            v = r[i].strip()
            if v not in ("0", "1"):
                raise DatasetError(f"{table}, line {line}: tag {header[i]!r} value {v!r} is not 0 or 1")
            if v == "1":
                tags.append(header[i])
                counts[header[i]] += 1
        clips.append((r[i_id].strip(), r[i_path].strip(), tags))

    ranked = sorted(counts, key=lambda t: (-counts[t], t))
    keep = set(ranked if top_n is None else ranked[:top_n])
    tracks = []
    missing = []
    for cid, rel, tags in clips:
        path = audio_root / rel
        if not path.is_file():
            missing.append(rel)
        tracks.append(Track(id=cid, path=path.resolve(), labels={"tags": sorted(t for t in tags if t in keep)}))
    problems = []
    if missing:
        problems.append(
            f"{len(missing)} of {len(tracks)} audio files not found under {audio_root} (first: {missing[0]})"
        )
    ds = make_dataset(NAME, root, tracks, {"tags": "tags"}, problems=problems)
    ds.vocabularies["tags"] = sorted(keep)  # a kept tag is in the vocabulary even if rare
    return ds

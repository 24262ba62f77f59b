"""Dataset readers: every source becomes the one model of :mod:`tunespace.datasets.base`.

Readers (one module each, ``read_<name>(root, **options) -> Dataset``), in the order
:func:`open_dataset` tries them when ``kind="auto"``:

- ``tunespace``: tunespace corpus (``tracks.csv`` + ``corpus.json``)
- ``gtzan``: ``genres_original/<genre>/*.wav``
- ``giantsteps``: ``audio/*.mp3`` + ``annotations/key|tempo``
- ``mtg_jamendo``: ``autotagging*.tsv``
- ``magnatagatune``: ``annotations_final.csv``
- ``csv``: any folder of audio plus exactly one ``*.csv`` of labels
- ``folder``: any folder of audio files, no labels (tried last)

A dataset may also be given as a file: a CSV of labels (read by ``csv`` with the audio in the
CSV's folder), one audio file, or a text file listing audio paths
(:mod:`tunespace.datasets.file_list`).
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from ..errors import DatasetError
from . import audio_folder, csv_folder, file_list, giantsteps, gtzan, magnatagatune, mtg_jamendo, tunespace_corpus
from .audio_folder import read_folder
from .base import PROPERTY_KINDS, Dataset, Track, build_vocabularies, make_dataset
from .csv_folder import read_csv
from .giantsteps import read_giantsteps
from .gtzan import read_gtzan
from .magnatagatune import read_magnatagatune
from .mtg_jamendo import read_mtg_jamendo
from .tunespace_corpus import read_tunespace

#: Reader name -> (read function, layout test, what the layout looks like); auto-detection order.
READERS: dict[str, tuple[Callable[..., Dataset], Callable[[Path], bool], str]] = {
    tunespace_corpus.NAME: (read_tunespace, tunespace_corpus.detect, tunespace_corpus.EXPECTED),
    gtzan.NAME: (read_gtzan, gtzan.detect, gtzan.EXPECTED),
    giantsteps.NAME: (read_giantsteps, giantsteps.detect, giantsteps.EXPECTED),
    mtg_jamendo.NAME: (read_mtg_jamendo, mtg_jamendo.detect, mtg_jamendo.EXPECTED),
    magnatagatune.NAME: (read_magnatagatune, magnatagatune.detect, magnatagatune.EXPECTED),
    csv_folder.NAME: (read_csv, csv_folder.detect, csv_folder.EXPECTED),
    audio_folder.NAME: (read_folder, audio_folder.detect, audio_folder.EXPECTED),
}

__all__ = [
    "PROPERTY_KINDS",
    "READERS",
    "Dataset",
    "Track",
    "build_vocabularies",
    "detect_kind",
    "make_dataset",
    "open_dataset",
    "read_csv",
    "read_folder",
    "read_giantsteps",
    "read_gtzan",
    "read_magnatagatune",
    "read_mtg_jamendo",
    "read_tunespace",
    "summarise_dataset",
]


def detect_kind(root: str | Path) -> str:
    """Name of the first reader whose layout ``root`` matches.

    Raises:
        DatasetError: ``root`` is not a folder or matches no reader (the message lists what
            each reader expects).
    """
    path = Path(root)
    if path.is_file():
        raise DatasetError(f"{path}: a file; open_dataset reads a CSV, audio or list file directly")
    if not path.is_dir():
        raise DatasetError(f"{path}: no such folder or file")
    for name, (_, detect, _) in READERS.items():
        if detect(path):
            return name
    expected = "; ".join(f"{n}: {e}" for n, (_, _, e) in READERS.items())
    raise DatasetError(f"{path}: no known dataset layout; expected one of: {expected}")


def open_dataset(root: str | Path, kind: str = "auto", **options: Any) -> Dataset:
    """Read the dataset in ``root`` with the reader ``kind`` (or the detected one).

    Args:
        root: dataset folder; or a file: a ``*.csv`` of labels (audio in its folder, read by
            ``csv``), one audio file, or a text file listing audio paths (``.txt``, ``.lst``,
            ``.m3u``).
        kind: a name in :data:`READERS`, or ``"auto"`` to detect it.
        **options: passed to the reader (e.g. ``top_n=50`` for magnatagatune).
    Raises:
        DatasetError: unknown kind, or a folder that does not have the reader's layout.
    """
    path = Path(root)
    if path.is_file() and kind in ("auto", "csv", "list", "file"):
        if path.suffix.lower() == ".csv":
            return read_csv(path.parent, csv=path.name, **options)
        if file_list.is_audio_file(path):
            return file_list.read_audio_file(path)
        if file_list.is_list_file(path):
            return file_list.read_list(path)
        raise DatasetError(f"{path}: not a dataset; expected a folder, a *.csv of labels, or {file_list.EXPECTED}")
    if kind == "auto":
        kind = detect_kind(root)
    if kind not in READERS:
        raise DatasetError(f"unknown dataset kind {kind!r}; expected 'auto' or one of {sorted(READERS)}")
    reader = READERS[kind][0]
    try:
        return reader(root, **options)
    except TypeError as e:
        if "unexpected keyword" in str(e):
            raise DatasetError(f"dataset kind {kind!r}: {e}") from None
        raise


def summarise_dataset(ds: Dataset) -> str:
    """A short multi-line text: reader, root, track count, properties (kind, labels), splits, problems."""
    lines = [f"reader: {ds.name}", f"root: {ds.root}", f"tracks: {len(ds)}"]
    if ds.kinds:
        lines.append("properties:")
        width = max(len(p) for p in ds.kinds)
        for prop, kind in ds.kinds.items():
            values = [v for v in ds.labels_of(prop) if v is not None]
            if kind in ("categorical", "key", "tags"):
                what = f"{len(ds.vocabularies.get(prop, []))} labels"
            else:
                nums = [float(v) for v in values]
                what = f"range {min(nums):g}-{max(nums):g}" if nums else "no values"
            lines.append(f"  {prop:<{width}}  {kind:<11}  {what}, labelled tracks {len(values)}")
    else:
        lines.append("properties: none")
    if ds.splits:
        counts: dict[str, int] = {}
        for s in ds.splits.values():
            counts[s] = counts.get(s, 0) + 1
        lines.append("splits: " + ", ".join(f"{k} {counts[k]}" for k in sorted(counts)))
    if ds.problems:
        lines.append(f"problems: {len(ds.problems)}")
        lines.extend(f"  {p}" for p in ds.problems[:10])
        if len(ds.problems) > 10:
            lines.append(f"  ... and {len(ds.problems) - 10} more")
    return "\n".join(lines)

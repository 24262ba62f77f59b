"""Reader of any folder of audio files plus a CSV table of labels.

Layout: audio files anywhere under ROOT (extensions :data:`~tunespace.datasets.base.AUDIO_SUFFIXES`)
and a CSV (comma-separated, header row) with one row per track. Rows are matched to audio
either through ``path_column`` (path relative to ROOT) or, without it, by the audio file's
stem (name without extension) equal to the row's id. Rows without audio and audio without a
row are left out and listed in ``Dataset.problems``.

Label kinds: given by ``columns`` as a dict, else inferred per column by
:func:`tunespace.datasets.base.infer_kind` (the rule of ``tunespace.labels`` too): ``key`` by
name or when every value is a key with a mode, ``tempo`` for ``tempo``/``tempo_bpm``/``bpm``,
``continuous`` when every value is a number, else ``categorical``. Kind "key" values are normalised with
:func:`tunespace.keys.normalise_key`; kind "tags" values are split on ``;``.
"""

from __future__ import annotations

import csv as csvlib
from collections.abc import Mapping, Sequence
from pathlib import Path

from ..errors import DatasetError
from .base import (
    AUDIO_SUFFIXES,
    PROPERTY_KINDS,
    Dataset,
    Track,
    existing_dir,
    infer_kind,
    make_dataset,
    parse_label_row,
)

NAME = "csv"
EXPECTED = "a folder of audio files and exactly one *.csv of labels (or give the CSV file itself as the dataset)"


def detect(root: Path) -> bool:
    """True if ``root`` holds exactly one CSV file and at least one audio file."""
    return len(list(root.glob("*.csv"))) == 1 and any(_audio_files(root))


def read_csv(
    root: str | Path,
    csv: str | Path | None = None,
    id_column: str | None = None,
    path_column: str | None = None,
    columns: Sequence[str] | Mapping[str, str] | None = None,
) -> Dataset:
    """Read a folder of audio with a CSV of labels.

    Args:
        root: folder holding the audio (searched recursively).
        csv: the label table (default: the only ``*.csv`` directly in ``root``); a relative
            path is taken relative to ``root``.
        id_column: column of track ids (default: the first column).
        path_column: column of audio paths relative to ``root`` (default: none; match audio
            file stems to ids).
        columns: label columns: a list (kinds inferred) or a dict column -> kind (default: all
            other columns, kinds inferred).
    Returns:
        A :class:`Dataset` named ``"csv"``; unmatched rows and files are in ``problems``.
    Raises:
        DatasetError: no CSV, unknown column or kind, duplicate ids, or an unparsable value
            in a "key"/"tempo"/"continuous" column.
    """
    root = existing_dir(root, NAME, EXPECTED)
    table = _find_table(root, csv)
    with open(table, newline="", encoding="utf-8-sig") as f:
        reader = csvlib.DictReader(f)
        header = list(reader.fieldnames or [])
        rows = list(reader)
    if not header:
        raise DatasetError(f"{table}: empty CSV; expected a header row")
    id_column = id_column or header[0]
    for name, col in (("id_column", id_column), ("path_column", path_column)):
        if col is not None and col not in header:
            raise DatasetError(f"{table}: {name} {col!r} is not a column; columns are {header}")
    kinds = _label_kinds(table, header, rows, id_column, path_column, columns)

    by_stem: dict[str, Path] = {}
    if path_column is None:
        for p in _audio_files(root):
            by_stem.setdefault(p.stem, p)
    problems: list[str] = []
    tracks: list[Track] = []
    used: set[Path] = set()
    seen: set[str] = set()
    for line, r in enumerate(rows, start=2):
        tid = (r.get(id_column) or "").strip()
        if not tid:
            problems.append(f"{table.name} line {line}: empty {id_column}, row skipped")
            continue
        if tid in seen:
            raise DatasetError(f"{table}, line {line}: duplicate id {tid!r}")
        seen.add(tid)
        if path_column is not None:
            audio = (root / (r.get(path_column) or "")).resolve()
            if not audio.is_file():
                problems.append(f"{table.name} line {line}: no audio file {r.get(path_column)!r} for id {tid!r}")
                continue
        else:
            found = by_stem.get(tid)
            if found is None:
                problems.append(f"{table.name} line {line}: no audio file named {tid}.* for id {tid!r}")
                continue
            audio = found.resolve()
        used.add(audio)
        tracks.append(Track(id=tid, path=audio, labels=parse_label_row(table, line, r, kinds)))
    if path_column is None:
        for p in sorted(by_stem.values()):
            if p.resolve() not in used:
                problems.append(f"{p.relative_to(root)}: audio file without a row in {table.name}")
    return make_dataset(NAME, root, tracks, kinds, problems=problems)


def _find_table(root: Path, table: str | Path | None) -> Path:
    if table is not None:
        path = Path(table)
        path = path if path.is_absolute() else root / path
        if not path.is_file():
            raise DatasetError(f"{path}: label CSV not found")
        return path
    found = sorted(root.glob("*.csv"))
    if len(found) != 1:
        what = "no" if not found else f"{len(found)}"
        raise DatasetError(
            f"{root}: found {what} *.csv files; the csv reader expects exactly one, "
            "or give the CSV file itself as the dataset"
        )
    return found[0]


def _audio_files(root: Path) -> list[Path]:
    return sorted(p for p in root.rglob("*") if p.suffix.lower() in AUDIO_SUFFIXES and p.is_file())


def _label_kinds(
    table: Path,
    header: list[str],
    rows: list[dict[str, str]],
    id_column: str,
    path_column: str | None,
    columns: Sequence[str] | Mapping[str, str] | None,
) -> dict[str, str]:
    if columns is None:
        names = [c for c in header if c not in (id_column, path_column)]
        given: dict[str, str] = {}
    elif isinstance(columns, Mapping):
        names, given = list(columns), dict(columns)
    else:
        names, given = list(columns), {}
    kinds: dict[str, str] = {}
    for c in names:
        if c not in header:
            raise DatasetError(f"{table}: label column {c!r} is not a column; columns are {header}")
        kind = given.get(c)
        if kind is None:
            kind = infer_kind(c, [r[c].strip() for r in rows if (r.get(c) or "").strip()])
        if kind not in PROPERTY_KINDS:
            raise DatasetError(f"{table}: column {c!r} has unknown kind {kind!r}; expected one of {PROPERTY_KINDS}")
        kinds[c] = kind
    return kinds

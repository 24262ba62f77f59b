"""Reader of MTG-Jamendo (Bogdanov et al., ICML 2019 workshop), mtg-jamendo-dataset layout.

Files (in ROOT or ROOT/data)::

    autotagging.tsv, autotagging_genre.tsv, autotagging_moodtheme.tsv,
    autotagging_instrument.tsv, autotagging_top50tags.tsv
    splits/split-<n>/<table>-train.tsv, -validation.tsv, -test.tsv   (optional)

Each table is tab-separated with the header ``TRACK_ID ARTIST_ID ALBUM_ID PATH DURATION
TAGS``; the tags are the remaining tab-separated fields of a row, e.g. ``genre---rock
mood/theme---happy instrument---guitar``. ``PATH`` (``14/214.mp3``) is relative to the audio
folder (option ``audio_dir``; default ROOT/audio if it exists, else ROOT); where only the
low-quality download ``14/214.low.mp3`` exists, that file is used.

Properties, all of kind "tags" (multi-label): ``genre``, ``mood`` (the ``mood/theme``
category), ``instrument`` (tag names without their category prefix) and ``tags`` (every
tag, with its prefix, e.g. ``"genre---rock"``). Splits: ``"train"``, ``"valid"``,
``"test"`` from ``splits/split-<split>`` when present. Audio files are not opened; the count of
missing ones is reported in ``Dataset.problems``.
"""

from __future__ import annotations

from pathlib import Path

from ..errors import DatasetError
from .base import Dataset, Track, existing_dir, make_dataset

NAME = "mtg_jamendo"
EXPECTED = "autotagging*.tsv (e.g. autotagging.tsv, autotagging_moodtheme.tsv) in ROOT or ROOT/data"
HEADER = ("TRACK_ID", "ARTIST_ID", "ALBUM_ID", "PATH", "DURATION")
SUBSETS = (
    "autotagging",
    "autotagging_genre",
    "autotagging_moodtheme",
    "autotagging_instrument",
    "autotagging_top50tags",
)
#: Tag category prefix -> property name.
CATEGORIES = {"genre": "genre", "mood/theme": "mood", "instrument": "instrument"}
_SPLIT_NAMES = {"train": "train", "validation": "valid", "valid": "valid", "test": "test"}


def _data_dir(root: Path) -> Path | None:
    for cand in (root, root / "data"):
        if any(cand.glob("autotagging*.tsv")):
            return cand
    return None


def detect(root: Path) -> bool:
    """True if ``root`` (or ``root/data``) holds an ``autotagging*.tsv`` table."""
    return _data_dir(root) is not None


def read_mtg_jamendo(
    root: str | Path,
    subset: str | None = None,
    audio_dir: str | Path | None = None,
    split: int = 0,
) -> Dataset:
    """Read MTG-Jamendo.

    Args:
        root: folder holding the ``autotagging*.tsv`` tables (or their ``data/`` folder).
        subset: table name without ``.tsv``, one of :data:`SUBSETS` or its suffix
            (``"moodtheme"``); default ``autotagging`` if present, else the first table found.
        audio_dir: folder the ``PATH`` column is relative to (default ROOT/audio or ROOT).
        split: official split number (``splits/split-<split>``), used when present.
    Returns:
        A :class:`Dataset` named ``"mtg_jamendo"`` with tag properties and splits.
    Raises:
        DatasetError: no table, a malformed header or row.
    """
    root = existing_dir(root, NAME, EXPECTED)
    data = _data_dir(root)
    if data is None:
        raise DatasetError(f"{root}: no autotagging*.tsv; the mtg_jamendo reader expects {EXPECTED}")
    name = _subset_name(data, subset)
    table = data / f"{name}.tsv"
    audio_root = Path(audio_dir) if audio_dir is not None else (root / "audio" if (root / "audio").is_dir() else root)

    tracks: list[Track] = []
    missing: list[str] = []
    for line, fields in _rows(table):
        tid, path_text, duration_text, tags = fields[0], fields[3], fields[4], fields[5:]
        labels: dict[str, object] = {p: [] for p in CATEGORIES.values()}
        all_tags: list[str] = []
        for tag in tags:
            tag = tag.strip()
            if not tag:
                continue
            category, sep, value = tag.partition("---")
            if not sep or category not in CATEGORIES:
                raise DatasetError(f"{table}, line {line}: tag {tag!r} is not <genre|mood/theme|instrument>---<name>")
            labels[CATEGORIES[category]].append(value)  # type: ignore[union-attr]
            all_tags.append(tag)
        labels = {p: sorted(set(v)) for p, v in labels.items()}  # type: ignore[arg-type]
        labels["tags"] = sorted(set(all_tags))
        audio = audio_root / path_text
        if not audio.is_file():
            low = audio.with_suffix(".low" + audio.suffix)
            if low.is_file():
                audio = low
            else:
                missing.append(path_text)
        try:
            duration = float(duration_text)
        except ValueError:
            raise DatasetError(f"{table}, line {line}: DURATION {duration_text!r} is not a number") from None
        tracks.append(Track(id=tid, path=audio.resolve(), labels=labels, duration_s=duration))

    present = {c for t in tracks for c in CATEGORIES.values() if t.labels[c]}
    kinds = {p: "tags" for p in CATEGORIES.values() if p in present}
    kinds["tags"] = "tags"
    for t in tracks:  # drop category properties this table does not have at all
        for p in CATEGORIES.values():
            if p not in kinds:
                t.labels.pop(p, None)
    problems = []
    if missing:
        problems.append(
            f"{len(missing)} of {len(tracks)} audio files not found under {audio_root} (first: {missing[0]})"
        )
    splits = _read_splits(data / "splits" / f"split-{split}", name, problems)
    return make_dataset(NAME, root, tracks, kinds, splits=splits, problems=problems)


def _subset_name(data: Path, subset: str | None) -> str:
    found = sorted(p.stem for p in data.glob("autotagging*.tsv"))
    if subset is None:
        return "autotagging" if "autotagging" in found else found[0]
    name = subset if subset.startswith("autotagging") else f"autotagging_{subset}"
    if name not in found:
        raise DatasetError(f"{data}: no {name}.tsv; tables found: {found}")
    return name


def _rows(table: Path):
    """(line number, fields) of each data row of an MTG-Jamendo table, header checked."""
    with open(table, encoding="utf-8") as f:
        header = f.readline().rstrip("\n").split("\t")
        if tuple(h.strip() for h in header[: len(HEADER)]) != HEADER:
            raise DatasetError(f"{table}: header {header[:6]} is not {list(HEADER) + ['TAGS']}")
        for line, text in enumerate(f, start=2):
            text = text.rstrip("\n")
            if not text.strip():
                continue
            fields = text.split("\t")
            if len(fields) < 5:
                raise DatasetError(f"{table}, line {line}: {len(fields)} fields, expected at least 5")
            yield line, fields


def _read_splits(folder: Path, name: str, problems: list[str]) -> dict[str, str]:
    splits: dict[str, str] = {}
    if not folder.is_dir():
        return splits
    for part, label in _SPLIT_NAMES.items():
        f = folder / f"{name}-{part}.tsv"
        if not f.is_file():
            continue
        for _, fields in _rows(f):
            splits[fields[0]] = label
    if not splits:
        problems.append(f"{folder}: no {name}-train/validation/test.tsv; no split")
    return splits

"""The one data model every dataset reader produces.

A :class:`Dataset` is a list of :class:`Track` (id, absolute audio path, labels) plus, for
each labelled property, its *kind* and, for categorical and tag properties, its vocabulary
(sorted label list: the documented label order used by probes and reports).

Property kinds (``Dataset.kinds``):

- ``"categorical"``: one string label per track (genre, mood, instrument).
- ``"key"``: one key name in canonical form (see :mod:`tunespace.keys`), e.g. ``"F# minor"``.
- ``"tempo"``: tempo in beats per minute (float).
- ``"continuous"``: any other real value (e.g. arousal).
- ``"tags"``: a list of string tags (multi-label, e.g. MagnaTagATune).

A label that is unknown for a track is simply absent from ``Track.labels``.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..errors import DatasetError

PROPERTY_KINDS = ("categorical", "key", "tempo", "continuous", "tags")


@dataclass(frozen=True)
class Track:
    """One audio item.

    Attributes:
        id: unique id within its dataset (stable: used to join embeddings and labels).
        path: absolute path of the audio file.
        labels: property name -> value (str, float or list of str, by the property's kind).
        duration_s: duration in seconds when known without decoding, else None.
    """

    id: str
    path: Path
    labels: dict[str, Any] = field(default_factory=dict)
    duration_s: float | None = None


@dataclass
class Dataset:
    """A list of tracks with label kinds and vocabularies.

    Attributes:
        name: reader name, e.g. ``"tunespace"``, ``"gtzan"``.
        root: the folder it was read from.
        tracks: the tracks, in a deterministic order (sorted by id unless the source orders them).
        kinds: property -> kind (one of :data:`PROPERTY_KINDS`).
        vocabularies: property -> sorted list of labels, for categorical, key and tags kinds.
        splits: track id -> ``"train"``/``"valid"``/``"test"`` when the dataset has an
            official split, else empty.
        problems: one line per thing the reader skipped or could not match (an annotation
            without audio, a label it could not parse...), for the user to see; empty if none.
    """

    name: str
    root: Path
    tracks: list[Track]
    kinds: dict[str, str] = field(default_factory=dict)
    vocabularies: dict[str, list[str]] = field(default_factory=dict)
    splits: dict[str, str] = field(default_factory=dict)
    problems: list[str] = field(default_factory=list)

    def __len__(self) -> int:
        return len(self.tracks)

    def __iter__(self) -> Iterator[Track]:
        return iter(self.tracks)

    def __getitem__(self, i: int) -> Track:
        return self.tracks[i]

    @property
    def ids(self) -> list[str]:
        return [t.id for t in self.tracks]

    def by_id(self) -> dict[str, Track]:
        return {t.id: t for t in self.tracks}

    def labels_of(self, prop: str) -> list[Any]:
        """The value of ``prop`` for every track (None where unknown), in track order."""
        return [t.labels.get(prop) for t in self.tracks]


def build_vocabularies(tracks: list[Track], kinds: dict[str, str]) -> dict[str, list[str]]:
    """Sorted label lists for every categorical, key and tags property of ``tracks``."""
    vocab: dict[str, set[str]] = {}
    for prop, kind in kinds.items():
        if kind in ("categorical", "key", "tags"):
            vocab[prop] = set()
    for t in tracks:
        for prop in vocab:
            v = t.labels.get(prop)
            if v is None:
                continue
            if kinds[prop] == "tags":
                vocab[prop].update(v)
            else:
                vocab[prop].add(v)
    return {p: sorted(s) for p, s in vocab.items()}


#: Extensions of the audio files that readers collect from folders.
AUDIO_SUFFIXES: tuple[str, ...] = (".wav", ".flac", ".mp3", ".ogg", ".opus", ".aif", ".aiff", ".au")


def id_sort_key(track_id: str) -> tuple[int, int, str]:
    """Sort key putting purely numeric ids in numeric order, before other ids in text order."""
    return (0, int(track_id), "") if track_id.isdigit() else (1, 0, track_id)


def make_dataset(
    name: str,
    root: str | Path,
    tracks: list[Track],
    kinds: dict[str, str],
    *,
    splits: dict[str, str] | None = None,
    problems: list[str] | None = None,
) -> Dataset:
    """A :class:`Dataset` with tracks sorted by id (:func:`id_sort_key`) and vocabularies built.

    Raises:
        ValueError: a kind is not one of :data:`PROPERTY_KINDS` or two tracks share an id
            (reader bugs, not user errors).
    """
    bad = {p: k for p, k in kinds.items() if k not in PROPERTY_KINDS}
    if bad:
        raise ValueError(f"unknown property kinds {bad}; expected one of {PROPERTY_KINDS}")
    ordered = sorted(tracks, key=lambda t: id_sort_key(t.id))
    ids = [t.id for t in ordered]
    if len(set(ids)) != len(ids):
        dup = next(i for i, j in zip(ids, ids[1:]) if i == j)
        raise ValueError(f"duplicate track id {dup!r} in dataset {name!r}")
    return Dataset(
        name=name,
        root=Path(root).resolve(),
        tracks=ordered,
        kinds=dict(kinds),
        vocabularies=build_vocabularies(ordered, kinds),
        splits=dict(splits or {}),
        problems=list(problems or []),
    )


def existing_dir(root: str | Path, reader: str, expected: str) -> Path:
    """``root`` as a Path if it is a folder, else :class:`DatasetError` naming what ``reader`` expects."""
    path = Path(root)
    if not path.is_dir():
        raise DatasetError(f"{path}: not a folder; the {reader} reader expects {expected}")
    return path


#: Separator of several tags in one CSV cell.
TAG_SEPARATOR = ";"


#: CSV columns read as tempo (BPM) whatever their values.
TEMPO_COLUMNS = frozenset({"tempo", "tempo_bpm", "bpm"})
_KEY_WITH_MODE = re.compile(r"^\s*[A-Ga-g]\s*[#b♯♭]*\s*[:\s-]?\s*(major|minor|maj|min|m)\s*$", re.I)


def infer_kind(name: str, raw: list[str]) -> str:
    """Kind of a CSV column from its name and its non-empty string values (one rule for every
    CSV reader): ``key`` by name or when every value is a key with a mode, ``tempo`` by name
    (:data:`TEMPO_COLUMNS`), ``continuous`` when every value is a number, else ``categorical``."""
    if name.lower() == "key":
        return "key"
    if name.lower() in TEMPO_COLUMNS:
        return "tempo"
    if raw and all(_KEY_WITH_MODE.match(v) for v in raw):
        return "key"
    if raw and all(is_number(v) for v in raw):
        return "continuous"
    return "categorical"


def is_number(text: str) -> bool:
    """True when ``text`` parses as a float."""
    try:
        float(text)
    except ValueError:
        return False
    return True


def parse_label_row(table: Path, line: int, row: dict[str, str], kinds: dict[str, str]) -> dict[str, Any]:
    """The labels of one CSV row, converted by kind (empty cells are unknown, left out).

    Raises:
        DatasetError: a value does not parse as its kind (names the file, line and column).
    """
    from ..errors import ConfigError, DatasetError
    from ..keys import normalise_key

    labels: dict[str, Any] = {}
    for prop, kind in kinds.items():
        v = (row.get(prop) or "").strip()
        if not v:
            continue
        try:
            if kind == "key":
                labels[prop] = normalise_key(v)
            elif kind in ("tempo", "continuous"):
                labels[prop] = float(v)
            elif kind == "tags":
                labels[prop] = sorted({t.strip() for t in v.split(TAG_SEPARATOR) if t.strip()})
            else:
                labels[prop] = v
        except (ConfigError, ValueError):
            raise DatasetError(f"{table}, line {line}: bad {kind} value {v!r} in column {prop!r}") from None
    return labels

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

from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

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
    """

    name: str
    root: Path
    tracks: list[Track]
    kinds: dict[str, str] = field(default_factory=dict)
    vocabularies: dict[str, list[str]] = field(default_factory=dict)
    splits: dict[str, str] = field(default_factory=dict)

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

"""The catalogue the explorer serves: track ids, their labels, and their audio files.

A :class:`Catalogue` is built once at start-up from the served indexes (the ids), a dataset
folder (the audio, read by :func:`tunespace.datasets.open_dataset`) and a label table (a CSV
or a dataset folder, read by :func:`tunespace.labels.load_labels`; by default the labels of
the audio dataset).

Audio is only ever reached by track id. :meth:`Catalogue.audio_path` looks the id up in the
table the dataset reader produced and returns the file only when its real path (symlinks
resolved, at the time of the request) is a regular file inside the real audio root; nothing
a client sends is ever joined to a path. Written by hand here: that containment check, label
agreement between a query and its neighbours, and the track search.
"""

from __future__ import annotations

import math
import os
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import UsageError
from ..locality.measures import TEMPO_TOLERANCE  # the study's tempo agreement (4 %)

#: Label kinds compared between a query and its neighbours.
COMPARABLE_KINDS = ("categorical", "key", "tempo", "tags")


def plain_value(kind: str, v: Any) -> Any:
    """A label value as JSON: str, float, list of str, or None when unknown."""
    if v is None:
        return None
    if kind in ("tempo", "continuous"):
        f = float(v)
        return None if not math.isfinite(f) else f
    if kind == "tags":
        return [str(t) for t in v]
    return str(v)


def same_label(kind: str, a: Any, b: Any) -> bool | None:
    """Whether two values of a property agree; None when either is unknown or the kind is not compared.

    Categorical and key values agree when equal, tempi when ``b`` lies within
    :data:`TEMPO_TOLERANCE` of ``a`` (the study's tempo agreement), tags when they share a tag.
    """
    if a is None or b is None or kind not in COMPARABLE_KINDS:
        return None
    if kind == "tempo":
        return abs(float(b) - float(a)) <= TEMPO_TOLERANCE * float(a)
    if kind == "tags":
        return bool(set(a) & set(b))
    return a == b


@dataclass
class Catalogue:
    """Every track the explorer knows.

    Attributes:
        ids: track ids, in the order of the first index that holds them (then the others').
        labels: id -> {property: JSON value}; a track without labels has an empty dict.
        kinds: property -> kind (see :mod:`tunespace.labels`).
        audio_root: real path of the audio folder (None: no audio served).
        audio_files: id -> the file the dataset reader listed for it (not resolved).
        problems: one line per thing left out at start-up (e.g. audio outside the root).
    """

    ids: list[str]
    labels: dict[str, dict[str, Any]] = field(default_factory=dict)
    kinds: dict[str, str] = field(default_factory=dict)
    audio_root: Path | None = None
    audio_files: dict[str, Path] = field(default_factory=dict)
    problems: list[str] = field(default_factory=list)

    def __post_init__(self) -> None:
        self._pos = {i: n for n, i in enumerate(self.ids)}
        self._text: dict[str, str] | None = None  # id -> lower-case id and label values, for search

    def __len__(self) -> int:
        return len(self.ids)

    def __contains__(self, track_id: object) -> bool:
        return track_id in self._pos

    @property
    def properties(self) -> list[str]:
        return list(self.kinds)

    def vocabulary(self, prop: str) -> list[str] | None:
        """Sorted values of a categorical, key or tags property (None for numeric kinds)."""
        kind = self.kinds[prop]
        if kind not in ("categorical", "key", "tags"):
            return None
        values: set[str] = set()
        for lab in self.labels.values():
            v = lab.get(prop)
            if v is None:
                continue
            values.update(v if kind == "tags" else [v])
        return sorted(values)

    def labels_of(self, track_id: str) -> dict[str, Any]:
        return self.labels.get(track_id, {})

    def has_audio(self, track_id: str) -> bool:
        return track_id in self.audio_files

    # ------------------------------------------------------------------ audio
    def audio_path(self, track_id: str) -> Path | None:
        """The audio file of a catalogue track, or None.

        None unless ``track_id`` is a catalogue id with an audio file whose real path (every
        symlink resolved now, not at start-up) is a regular file inside :attr:`audio_root`.
        """
        if self.audio_root is None or not isinstance(track_id, str):
            return None
        listed = self.audio_files.get(track_id)
        if listed is None:
            return None
        return contained_file(listed, self.audio_root)

    # ------------------------------------------------------------------ search
    def search(
        self, q: str = "", where: Sequence[tuple[str, str]] = (), within: Iterable[str] | None = None
    ) -> list[str]:
        """Ids matching a free-text query and property filters, in catalogue order.

        Args:
            q: case-insensitive substring of the id or of any label value ("" = all).
            where: (property, value) pairs, all of which must hold: categorical and key
                values match case-insensitively, tags when the track has the tag, tempo and
                continuous values either ``lo..hi`` (inclusive; either side may be empty) or
                a number (tempo: within :data:`TEMPO_TOLERANCE`; continuous: equal).
            within: restrict to these ids (e.g. those of one index).
        Raises:
            UsageError: unknown property or a malformed number (the caller names the field).
        """
        tests = [self._filter(p, v) for p, v in where]
        allowed = set(within) if within is not None else None
        needle = q.strip().lower()
        if needle and self._text is None:
            self._text = {
                t: "\n".join([t.lower(), *(_text(v) for v in self.labels.get(t, {}).values())]) for t in self.ids
            }
        out = []
        for tid in self.ids:
            if allowed is not None and tid not in allowed:
                continue
            lab = self.labels.get(tid, {})
            if needle and needle not in self._text[tid]:
                continue
            if all(t(lab) for t in tests):
                out.append(tid)
        return out

    def _filter(self, prop: str, value: str):  # noqa: ANN202 (a predicate)
        if prop not in self.kinds:
            raise UsageError(f"unknown property {prop!r}; properties: {', '.join(self.kinds) or 'none'}")
        kind = self.kinds[prop]
        value = value.strip()
        if kind in ("tempo", "continuous"):
            if ".." in value:
                lo_s, hi_s = value.split("..", 1)
                lo = _number(lo_s, prop) if lo_s.strip() else -math.inf
                hi = _number(hi_s, prop) if hi_s.strip() else math.inf
                return lambda lab: lab.get(prop) is not None and lo <= lab[prop] <= hi
            x = _number(value, prop)
            if kind == "tempo":
                return lambda lab: lab.get(prop) is not None and abs(lab[prop] - x) <= TEMPO_TOLERANCE * x
            return lambda lab: lab.get(prop) is not None and lab[prop] == x
        low = value.lower()
        if kind == "tags":
            return lambda lab: lab.get(prop) is not None and low in (t.lower() for t in lab[prop])
        return lambda lab: lab.get(prop) is not None and lab[prop].lower() == low

    # ------------------------------------------------------------------ agreement
    def agreement(self, query_labels: dict[str, Any] | None, neighbour_ids: Sequence[str]) -> list[dict[str, Any]]:
        """Per property: how many neighbours share the query's value, and the most common value.

        Args:
            query_labels: the query's labels (None or {} for an uploaded file).
            neighbour_ids: the neighbours, most similar first.
        Returns:
            one dict per property: ``property``, ``kind``, ``query`` (its value or None),
            ``known`` (neighbours whose value is known), ``shared`` (how many of those agree
            with the query, :func:`same_label`; None without a query value or for an
            uncompared kind), ``most_common`` and ``most_common_count`` (categorical, key and
            tags kinds; for tags, the most frequent tag).
        """
        out = []
        query_labels = query_labels or {}
        for prop, kind in self.kinds.items():
            vals = [self.labels.get(i, {}).get(prop) for i in neighbour_ids]
            known = [v for v in vals if v is not None]
            qv = query_labels.get(prop)
            shared = None
            if qv is not None and kind in COMPARABLE_KINDS:
                shared = sum(bool(same_label(kind, qv, v)) for v in known)
            common, count = None, 0
            if kind in ("categorical", "key", "tags") and known:
                c = Counter(t for v in known for t in (v if kind == "tags" else [v]))
                common, count = min(c.items(), key=lambda kv: (-kv[1], kv[0]))
            out.append(
                {
                    "property": prop,
                    "kind": kind,
                    "query": qv,
                    "known": len(known),
                    "shared": shared,
                    "most_common": common,
                    "most_common_count": count,
                }
            )
        return out


def contained_file(path: str | Path, root: Path) -> Path | None:
    """``path``'s real path if it is a regular file inside the real folder ``root``, else None."""
    try:
        real = Path(os.path.realpath(path))
        root_real = Path(os.path.realpath(root))
    except (OSError, ValueError):
        return None
    if real == root_real or not real.is_relative_to(root_real):
        return None
    try:
        return real if real.is_file() else None
    except OSError:
        return None


def build_catalogue(
    index_ids: Sequence[Sequence[str]], audio: str | Path | None = None, labels: str | Path | None = None
) -> Catalogue:
    """The catalogue of the served indexes.

    Args:
        index_ids: the ids of each served index (the catalogue is their union).
        audio: dataset folder holding the audio (any layout :func:`open_dataset` reads);
            None: no audio. Its labels are used unless ``labels`` is given.
        labels: a CSV (``track_id`` column) or dataset folder of labels.
    Raises:
        TunespaceError: unreadable dataset or label table.
    """
    ids = list(dict.fromkeys(i for ids_ in index_ids for i in ids_))
    cat_labels: dict[str, dict[str, Any]] = {}
    kinds: dict[str, str] = {}
    audio_root: Path | None = None
    audio_files: dict[str, Path] = {}
    problems: list[str] = []
    if audio is not None:
        from ..datasets import open_dataset

        ds = open_dataset(audio)
        audio_root = Path(os.path.realpath(ds.root))
        known = set(ids)
        for t in ds.tracks:
            if t.id not in known:
                continue
            if contained_file(t.path, audio_root) is None:
                problems.append(f"{t.id}: audio file {t.path} is missing or outside {audio_root}; not served")
                continue
            audio_files[t.id] = Path(t.path)
        if labels is None and ds.kinds:
            kinds = dict(ds.kinds)
            for t in ds.tracks:
                if t.id in known:
                    cat_labels[t.id] = {p: plain_value(kinds[p], t.labels.get(p)) for p in kinds}
        missing = len(known) - len(audio_files)
        if missing:
            problems.append(f"{missing} of {len(known)} indexed tracks have no audio file in {ds.root}")
    if labels is not None:
        from ..labels import load_labels

        table = load_labels(labels)
        kinds = dict(table.kinds)
        known = set(ids)
        for n, tid in enumerate(table.ids):
            if tid in known:
                cat_labels[tid] = {p: plain_value(kinds[p], _item(table.values[p][n])) for p in kinds}
    return Catalogue(
        ids=ids, labels=cat_labels, kinds=kinds, audio_root=audio_root, audio_files=audio_files, problems=problems
    )


def _item(v: Any) -> Any:
    if isinstance(v, np.generic):
        return v.item()
    return v


def _number(s: str, prop: str) -> float:
    try:
        x = float(s)
    except ValueError:
        raise UsageError(f"{prop}: {s.strip()!r} is not a number (use a number or lo..hi)") from None
    if not math.isfinite(x):
        raise UsageError(f"{prop}: {s.strip()!r} is not a finite number")
    return x


def _text(v: Any) -> str:
    if v is None:
        return ""
    if isinstance(v, list):
        return " ".join(map(str, v)).lower()
    return str(v).lower()

"""Label tables: per-item property values loaded from a CSV or a dataset folder, and their
join with a set of embeddings.

A :class:`LabelTable` holds, for N item ids, one value array per property and the property's
kind (see :mod:`tunespace.datasets.base`): ``"categorical"`` and ``"key"`` values are strings
(``None`` where unknown; keys in canonical form, e.g. ``"F# minor"``), ``"tempo"`` (BPM) and
``"continuous"`` values are float64 (NaN where unknown), ``"tags"`` values are tuples of
strings (``None`` where unknown).

Kind inference for CSV columns (override with ``name:kind``, e.g.
``"genre,tempo_bpm:tempo,arousal:continuous"``): a column named ``key`` or whose values all
parse as keys with an explicit mode -> ``"key"``; ``tempo``/``tempo_bpm``/``bpm`` ->
``"tempo"``; all values numeric -> ``"continuous"``; otherwise ``"categorical"``. Tag columns
must be declared (``tags:tags``); their values are split on ``;`` or ``|``.

:func:`join` aligns labels to embedding rows and never drops ids silently: the returned
:class:`JoinReport` counts (and lists the first few of) the ids missing on either side.
"""

from __future__ import annotations

import csv
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from .datasets.base import infer_kind, is_number
from .errors import ConfigError, UsageError
from .keys import normalise_key

if TYPE_CHECKING:
    from .embed.format import EmbeddingSet

PROPERTY_KINDS = ("categorical", "key", "tempo", "continuous", "tags")
#: CSV columns that describe the file rather than the music; not labels unless asked for.
NON_LABEL_COLUMNS = frozenset({"path", "file", "filename", "duration_s", "seed", "split"})
_TAG_SPLIT = re.compile(r"[;|]")
#: How many ids a join report lists for each side.
REPORT_FIRST = 5


@dataclass
class LabelTable:
    """Property values for a list of items.

    Attributes:
        ids: N item ids (unique).
        values: property -> array of N values (dtype by kind, see the module docstring).
        kinds: property -> kind.
    """

    ids: list[str]
    values: dict[str, np.ndarray]
    kinds: dict[str, str]
    splits: dict[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if len(set(self.ids)) != len(self.ids):
            dup = next(i for i in self.ids if self.ids.count(i) > 1)
            raise UsageError(f"label ids are not unique (e.g. {dup!r})")
        for p, v in self.values.items():
            if len(v) != len(self.ids):
                raise UsageError(f"label property {p!r} has {len(v)} values for {len(self.ids)} ids")

    @property
    def properties(self) -> list[str]:
        return list(self.values)

    def __len__(self) -> int:
        return len(self.ids)

    def known(self, prop: str) -> np.ndarray:
        """Boolean mask (N,) of items whose ``prop`` is known."""
        v = self.values[prop]
        if self.kinds[prop] in ("tempo", "continuous"):
            return np.isfinite(v.astype(np.float64))
        return np.array([x is not None for x in v], dtype=bool)

    def take(self, rows: np.ndarray) -> LabelTable:
        """The table restricted to (and reordered by) integer ``rows``."""
        rows = np.asarray(rows, dtype=np.int64)
        ids = [self.ids[r] for r in rows]
        return LabelTable(
            ids=ids,
            values={p: v[rows] for p, v in self.values.items()},
            kinds=dict(self.kinds),
            splits={i: self.splits[i] for i in ids if i in self.splits},
        )


@dataclass
class JoinReport:
    """Result of aligning embedding ids with label ids."""

    n_embeddings: int
    n_labels: int
    n_joined: int
    missing_labels: int  # embedded items without labels
    missing_labels_first: list[str]
    missing_embeddings: int  # labelled items without embeddings
    missing_embeddings_first: list[str]

    def to_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)

    def summary(self) -> str:
        """One line for the console."""
        s = f"joined {self.n_joined} of {self.n_embeddings} embeddings with {self.n_labels} labelled items"
        if self.missing_labels:
            s += f"; {self.missing_labels} embedded without labels (e.g. {', '.join(self.missing_labels_first)})"
        if self.missing_embeddings:
            s += (
                f"; {self.missing_embeddings} labelled without embeddings "
                f"(e.g. {', '.join(self.missing_embeddings_first)})"
            )
        return s


def parse_properties(spec: str | list[str] | None) -> tuple[list[str] | None, dict[str, str]]:
    """Parse ``"genre,tempo_bpm:tempo,arousal:continuous"`` into (names, declared kinds).

    Args:
        spec: comma-separated names, each optionally ``name:kind``; a list of such items; or None.
    Returns:
        (property names in order or None, name -> declared kind).
    Raises:
        ConfigError: an unknown kind.
    """
    if spec is None:
        return None, {}
    items = spec.split(",") if isinstance(spec, str) else list(spec)
    names: list[str] = []
    kinds: dict[str, str] = {}
    for item in (s.strip() for s in items):
        if not item:
            continue
        name, _, kind = item.partition(":")
        name = name.strip()
        if kind:
            kind = kind.strip()
            if kind not in PROPERTY_KINDS:
                raise ConfigError(f"--properties: unknown kind {kind!r} for {name!r}; expected one of {PROPERTY_KINDS}")
            kinds[name] = kind
        names.append(name)
    return names, kinds


def load_labels(
    path: str | Path,
    id_column: str = "track_id",
    properties: list[str] | str | None = None,
    kinds: dict[str, str] | None = None,
) -> LabelTable:
    """Load labels from a CSV file or a dataset folder.

    Args:
        path: a CSV file (header row; one row per item) or a dataset folder readable by
            :func:`tunespace.datasets.open_dataset`.
        id_column: CSV column holding the item id (ignored for dataset folders).
        properties: property names (or a ``--properties`` string, see :func:`parse_properties`);
            None = every column except the id and :data:`NON_LABEL_COLUMNS`.
        kinds: declared kinds, overriding inference.
    Raises:
        UsageError: missing file, missing column or id column, duplicate ids.
        ConfigError: a value that does not fit its declared kind.
    """
    path = Path(path)
    names, declared = parse_properties(properties)
    declared = {**declared, **(kinds or {})}
    if path.is_dir():
        return _load_dataset(path, names, declared)
    if not path.is_file():
        raise UsageError(f"{path}: labels file not found")
    with open(path, newline="", encoding="utf-8") as f:
        rows = list(csv.DictReader(f))
    header = list(rows[0].keys()) if rows else []
    if id_column not in header:
        raise UsageError(f"{path}: no id column {id_column!r} (columns: {', '.join(header)})")
    if names is None:
        names = [c for c in header if c != id_column and c not in NON_LABEL_COLUMNS]
    for n in names:
        if n not in header:
            raise UsageError(f"{path}: no column {n!r} (columns: {', '.join(header)})")
    ids = [r[id_column].strip() for r in rows]
    values: dict[str, np.ndarray] = {}
    out_kinds: dict[str, str] = {}
    for n in names:
        raw = [(r[n] or "").strip() for r in rows]
        kind = declared.get(n) or infer_kind(n, [v for v in raw if v])
        values[n] = _convert(raw, kind, f"{path}: column {n!r}")
        out_kinds[n] = kind
    splits = {}
    if "split" in header:
        splits = {i: r["split"].strip() for i, r in zip(ids, rows) if (r["split"] or "").strip()}
    return LabelTable(ids=ids, values=values, kinds=out_kinds, splits=splits)


def join(emb: EmbeddingSet, labels: LabelTable) -> tuple[np.ndarray, LabelTable, JoinReport]:
    """Align ``labels`` to the rows of ``emb``.

    Returns:
        (rows: int64 (M,) indices into ``emb.vectors`` in embedding order, the labels of those
        M items in the same order, the report of ids missing on either side).
    Raises:
        UsageError: no id in common.
    """
    pos = {i: n for n, i in enumerate(labels.ids)}
    emb_ids = set(emb.ids)
    rows = [r for r, i in enumerate(emb.ids) if i in pos]
    no_labels = [i for i in emb.ids if i not in pos]
    no_emb = [i for i in labels.ids if i not in emb_ids]
    report = JoinReport(
        n_embeddings=len(emb.ids),
        n_labels=len(labels.ids),
        n_joined=len(rows),
        missing_labels=len(no_labels),
        missing_labels_first=no_labels[:REPORT_FIRST],
        missing_embeddings=len(no_emb),
        missing_embeddings_first=no_emb[:REPORT_FIRST],
    )
    if not rows:
        raise UsageError(
            f"{emb.name}: no embedding id matches a label id "
            f"(e.g. embedding {emb.ids[0] if emb.ids else '-'!r}, label {labels.ids[0] if labels.ids else '-'!r})"
        )
    rows_a = np.asarray(rows, dtype=np.int64)
    aligned = labels.take(np.asarray([pos[emb.ids[r]] for r in rows], dtype=np.int64))
    return rows_a, aligned, report


def encode(values: np.ndarray) -> tuple[np.ndarray, list[Any]]:
    """Integer codes (N,) for categorical values (-1 where None) and the sorted vocabulary."""
    vocab = sorted({v for v in values if v is not None})
    index = {v: n for n, v in enumerate(vocab)}
    codes = np.array([index[v] if v is not None else -1 for v in values], dtype=np.int64)
    return codes, vocab


def _load_dataset(path: Path, names: list[str] | None, declared: dict[str, str]) -> LabelTable:
    from .datasets import open_dataset  # lazy: the readers import audio libraries

    ds = open_dataset(path)
    names = list(ds.kinds) if names is None else names
    values: dict[str, np.ndarray] = {}
    kinds: dict[str, str] = {}
    for n in names:
        if n not in ds.kinds:
            raise UsageError(f"{path}: dataset has no property {n!r} (has: {', '.join(ds.kinds)})")
        kind = declared.get(n, ds.kinds[n])
        raw = ds.labels_of(n)
        if kind in ("tempo", "continuous"):
            values[n] = np.array([np.nan if v is None else float(v) for v in raw], dtype=np.float64)
        elif kind == "tags":
            values[n] = _object_array([None if v is None else tuple(v) for v in raw])
        elif kind == "key":
            values[n] = _object_array([None if v is None else normalise_key(str(v)) for v in raw])
        else:
            values[n] = _object_array([None if v is None else str(v) for v in raw])
        kinds[n] = kind
    return LabelTable(ids=ds.ids, values=values, kinds=kinds, splits=dict(ds.splits))


def _convert(raw: list[str], kind: str, where: str) -> np.ndarray:
    if kind in ("tempo", "continuous"):
        out = np.full(len(raw), np.nan)
        for n, v in enumerate(raw):
            if v:
                if not is_number(v):
                    raise ConfigError(f"{where}: value {v!r} is not a number")
                out[n] = float(v)
        if kind == "tempo" and np.any(out[np.isfinite(out)] <= 0):
            raise ConfigError(f"{where}: tempo must be positive BPM")
        return out
    if kind == "key":
        return _object_array([normalise_key(v) if v else None for v in raw])
    if kind == "tags":
        return _object_array(
            [tuple(sorted({t.strip() for t in _TAG_SPLIT.split(v) if t.strip()})) if v else None for v in raw]
        )
    return _object_array([v if v else None for v in raw])


def _object_array(items: list[Any]) -> np.ndarray:
    out = np.empty(len(items), dtype=object)
    for n, v in enumerate(items):  # element-wise: tuples must stay single elements
        out[n] = v
    return out

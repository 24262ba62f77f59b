"""Excerpt-to-source search: which catalogue track does an excerpt come from, and where in it?

A track index (:mod:`tunespace.index`) holds one vector per track, the mean of its slices; an
excerpt of a few seconds is compared with whole-track means. A *slice index* holds every
slice of every catalogue track instead, so an excerpt meets the part of the track it was cut
from: on rendered catalogues this found the source of time-stretched and pitch-shifted
excerpts more often than the track index (``bench/bench_excerpt_retrieval.py``, the
``slices`` rows; ``docs/models.md``).

A slice index is an ordinary INDEX folder (same files, any method, loaded with
:meth:`tunespace.Index.load`) whose ``index.json`` records ``"unit": "slice"`` with the
slicing (``slice_seconds``, ``hop_seconds``). Its item ids are ``"<track id>@<n>"``: slice
``n`` (from 0) of the track, starting at ``n · hop_seconds`` seconds. Built from an EMB folder
embedded with timelines (``tunespace embed --timelines``;
:func:`tunespace.index.build_index` with ``slices=True``, ``tunespace index build --slices``);
the silent slices (below the set's ``silence_db``, see :func:`tunespace.embed.model.loud_slices`)
are left out, as they are of the track's mean, unless all of a track's slices are silent.

:func:`search_passages` answers with one :class:`Passage` per track: the track's best slice,
its similarity and where it starts. Written here by hand (no library groups hits by
owner): the id scheme and the grouping, which over-fetches slices and doubles the count until
``k`` distinct tracks are found; the search itself is FAISS's.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from .embed.format import EmbeddingSet, read_embeddings, read_timeline
from .errors import UnknownIdError, UsageError
from .index import Index, Neighbour

#: Separates a track id from its slice number in a slice index's ids.
SEP = "@"
#: ``index.json``'s ``unit`` of a slice index.
SLICE_UNIT = "slice"
#: Slices fetched per wanted track in the first search round (then doubled as needed).
OVERFETCH = 8


@dataclass(frozen=True)
class Passage(Neighbour):
    """A track found by its best-matching slice.

    Attributes:
        rank, id, similarity: as :class:`~tunespace.index.Neighbour` (``id``: the track's id;
            ``similarity``: cosine similarity of its best slice to the query).
        start_s: where that slice starts in the track, seconds.
        end_s: where it ends, seconds.
    """

    start_s: float = 0.0
    end_s: float = 0.0


def slice_id(track_id: str, n: int) -> str:
    """The slice index id of slice ``n`` (from 0) of ``track_id``."""
    return f"{track_id}{SEP}{int(n)}"


def split_slice_id(item_id: str) -> tuple[str, int]:
    """``(track id, slice number)`` of a slice index id (the inverse of :func:`slice_id`)."""
    track, sep, n = item_id.rpartition(SEP)
    if not sep or not n.isdigit():
        raise UsageError(f"{item_id!r} is not a slice id (TRACK{SEP}N)")
    return track, int(n)


def is_slice_index(index: Index) -> bool:
    """True if ``index`` holds slices (built with ``slices=True``), not tracks."""
    return (index.meta or {}).get("unit") == SLICE_UNIT


def slice_set(embeddings: str | Path, verify: bool = True) -> EmbeddingSet:
    """The loud slice embeddings of every track of an EMB folder, as one :class:`EmbeddingSet`
    (ids from :func:`slice_id`; meta: the folder's, plus ``unit``, ``n_tracks``).

    Args:
        embeddings: an EMB folder written with timelines.
        verify: check the folder's files against their recorded SHA-256 first.
    Raises:
        UsageError: no timelines, or a track's timeline missing.
    """
    src = Path(embeddings)
    emb = read_embeddings(src, verify=verify)
    ids: list[str] = []
    rows: list[np.ndarray] = []
    for track in emb.ids:
        tl = read_timeline(src, track, emb.meta)
        keep = np.ones(len(tl.embeddings), dtype=bool)  # every slice, as in the track's mean, when
        if emb.meta.get("silence_db") is not None and tl.loud is not None and tl.loud.any():  # no rule
            keep = tl.loud
        for n in np.flatnonzero(keep):
            ids.append(slice_id(track, int(n)))
        rows.append(np.asarray(tl.embeddings, dtype=np.float32)[keep])
    dim = emb.dim
    vectors = np.concatenate(rows) if rows else np.zeros((0, dim), np.float32)
    meta = {**emb.meta, "unit": SLICE_UNIT, "n_tracks": len(emb.ids)}
    return EmbeddingSet(ids=ids, vectors=vectors, meta=meta, name=emb.name)


def track_vector(index: Index, track_id: str) -> np.ndarray:
    """The mean of a catalogue track's slice vectors in a slice index, ``(D,)`` float32
    (the query for "tracks like this one").

    Raises:
        UnknownIdError: the track has no slice in the index.
    """
    rows = _rows_of(index).get(track_id)
    if not rows:
        raise UnknownIdError(f"{track_id!r} is not in the index")
    return np.mean([index.vector(index.ids[r]) for r in rows], axis=0).astype(np.float32)


def search_passages(
    index: Index,
    vectors: np.ndarray,
    k: int = 10,
    keep: Callable[[str], bool] | None = None,
) -> list[list[Passage]]:
    """The ``k`` tracks whose best slice is nearest to each query vector.

    Args:
        index: a slice index (:func:`is_slice_index`).
        vectors: ``(D,)`` or ``(Q, D)`` query embeddings (e.g. :meth:`tunespace.Model.embed`
            of an excerpt; any scale).
        k: tracks per query (>= 1); fewer when fewer tracks are eligible.
        keep: optionally, a function of a track id, False for tracks never returned (e.g. the
            query's own track or album).
    Returns:
        one list of :class:`Passage` per query, most similar first, one per track.
    Raises:
        UsageError: not a slice index, bad ``k``, a query of the wrong dimension.
    """
    if not is_slice_index(index):
        raise UsageError("this index holds tracks, not slices: build one with --slices (index build)")
    if isinstance(k, bool) or not isinstance(k, (int, np.integer)) or k < 1:
        raise UsageError(f"k must be an integer >= 1, got {k!r}")
    q = np.asarray(vectors, dtype=np.float32)
    q = q[None] if q.ndim == 1 else q
    hop = float(index.meta.get("hop_seconds", 2.0))
    length = float(index.meta.get("slice_seconds", 3.0))
    return [_one(index, q[j : j + 1], int(k), keep, hop, length) for j in range(q.shape[0])]


def _one(
    index: Index, q: np.ndarray, k: int, keep: Callable[[str], bool] | None, hop: float, length: float
) -> list[Passage]:
    n = len(index)
    fetch = min(n, k * OVERFETCH)
    while True:
        sims, rows = index.search_arrays(q, fetch)
        best: dict[str, tuple[float, int]] = {}
        for s, r in zip(sims[0], rows[0]):
            if r < 0:
                continue
            track, number = split_slice_id(index.ids[r])
            if track in best or (keep is not None and not keep(track)):
                continue
            best[track] = (float(s), number)
            if len(best) == k:
                break
        if len(best) == k or fetch >= n:
            break
        fetch = min(n, fetch * 2)
    return [
        Passage(rank + 1, track, s, start_s=number * hop, end_s=number * hop + length)
        for rank, (track, (s, number)) in enumerate(best.items())
    ]


def _rows_of(index: Index) -> dict[str, list[int]]:
    """Track id -> its rows in a slice index (computed once per index object)."""
    cached = getattr(index, "_slice_rows", None)
    if cached is None:
        cached = {}
        for r, i in enumerate(index.ids):
            cached.setdefault(split_slice_id(i)[0], []).append(r)
        index._slice_rows = cached  # type: ignore[attr-defined]
    return cached


def slice_provenance(meta: dict[str, Any]) -> dict[str, Any]:
    """The ``index.json`` fields that mark an index built from :func:`slice_set`'s output."""
    return {
        "unit": SLICE_UNIT,
        "slice_seconds": meta.get("slice_seconds"),
        "hop_seconds": meta.get("hop_seconds"),
        "n_tracks": meta.get("n_tracks"),
    }

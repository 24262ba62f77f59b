"""Excerpt-to-source search: which catalogue track does an excerpt come from, and where in it?

A track index (:mod:`tunespace.index`) holds one vector per track, the mean of its slices; an
excerpt of a few seconds is compared with whole-track means. A *slice index* holds every
slice of every catalogue track instead, so an excerpt meets the part of the track it was cut
from: on rendered catalogues this found the source of time-stretched and pitch-shifted
excerpts more often than the track index (``bench/bench_excerpt_retrieval.py``, the
``slices`` rows; ``docs/models.md``).

A slice index is an ordinary INDEX folder (same files, any method but re-ranking, loaded
with :meth:`tunespace.Index.load`) whose ``index.json`` records ``"unit": "slice"`` with the
slicing (``slice_seconds``, ``hop_seconds``). Its item ids are ``"<track id>@<n>"``: slice
``n`` (from 0) of the track, starting at ``n · hop_seconds`` seconds. Built from an EMB folder
embedded with timelines (``tunespace embed --timelines``;
:func:`tunespace.index.build_index` with ``slices=True``, ``tunespace index build --slices``);
the silent slices (below the set's ``silence_db``, see :func:`tunespace.embed.model.loud_slices`)
are left out, as they are of the track's mean, unless all of a track's slices are silent. EMB
folders made before timelines recorded their loud masks give every slice.

:func:`search_passages` answers with one :class:`Passage` per track: the track's best slice,
its similarity and where that slice lies (the last slice of a track shorter than a slice,
zero-padded, ends after the track). Within one recording many slices look alike, so the best
single slice says which track more reliably than where: given the excerpt's own slice
embeddings, :func:`locate` aligns them with each found track's slices and gives the span
where the excerpt lies; :func:`search_excerpt` does both (``tunespace neighbours --audio`` on a
slice index, and the explorer's uploads).
:func:`track_index` gives the tracks of a slice index as an ordinary track index (what the
explorer, ``tunespace serve``, maps and searches by track, while it places uploads with the slices).
Written here by hand (no library groups hits by owner or aligns slice sequences): the id
scheme, the grouping, which over-fetches slices and doubles the count until ``k`` distinct
tracks are found, and the alignment; the search itself is FAISS's.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from .embed.format import EmbeddingSet, read_embeddings, read_timeline
from .errors import UnknownIdError, UsageError
from .index import SLICE_UNIT, Index, Neighbour

#: Separates a track id from its slice number in a slice index's ids.
SEP = "@"
#: Slices fetched per wanted track in the first search round (then doubled as needed).
OVERFETCH = 8


@dataclass(frozen=True)
class Passage(Neighbour):
    """A track found by its best-matching slice.

    Attributes:
        rank, id, similarity: as :class:`~tunespace.index.Neighbour` (``id``: the track's id;
            ``similarity``: cosine similarity of its best slice to the query).
        start_s: where the match starts in the track, seconds: the best slice's start, or
            after :func:`locate`, the start of the excerpt's aligned span.
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
    """The slices that stand for each track of an EMB folder (:func:`slice_set_of`), read from
    its timelines.

    Args:
        embeddings: an EMB folder written with timelines (``tunespace embed --timelines``).
        verify: check the folder's files against their recorded SHA-256 first.
    Raises:
        UsageError: no timelines, a track's timeline missing, or timelines that do not belong
            to the folder's embeddings (another model's, left by an earlier write).
    """
    from .embed.model import track_embedding

    src = Path(embeddings)
    emb = read_embeddings(src, verify=verify)
    timelines, louds = [], []
    for row, track in enumerate(emb.ids):
        tl = read_timeline(src, track, emb.meta)
        if tl.embeddings.shape[1] != emb.dim or not np.allclose(
            track_embedding(tl.embeddings, tl.loud), emb.vectors[row], rtol=1e-4, atol=1e-5
        ):
            raise UsageError(
                f"{src}: the timeline of {track!r} does not average to its embedding (left by another "
                "model?); embed again with --timelines"
            )
        timelines.append(tl.embeddings)
        louds.append(tl.loud)
    return slice_set_of(emb.ids, timelines, louds, emb.meta, name=emb.name)


def slice_set_of(
    ids: Sequence[str],
    timelines: Sequence[np.ndarray],
    louds: Sequence[np.ndarray | None],
    meta: dict[str, Any],
    name: str = "slices",
) -> EmbeddingSet:
    """One :class:`EmbeddingSet` of the slices that stand for each track: the loud ones, or all
    where none is loud or no mask is given, as in the track's mean
    (:func:`tunespace.embed.model.averaged`; a set made with ``--keep-silent`` marks every
    slice loud).

    Args:
        ids: T track ids.
        timelines: each track's slice embeddings, float32 ``(n_slices, D)``.
        louds: each track's loud mask, bool ``(n_slices,)``, or None (every slice).
        meta: the set's meta (``slice_seconds``, ``hop_seconds``, ...).
        name: the set's name.
    Returns:
        ids from :func:`slice_id`, meta plus ``unit`` and ``n_tracks``.
    """
    from .embed.model import averaged

    out_ids: list[str] = []
    rows: list[np.ndarray] = []
    for track, tl, loud in zip(ids, timelines, louds):
        keep = averaged(loud, len(tl))
        out_ids += [slice_id(track, int(n)) for n in np.flatnonzero(keep)]
        rows.append(np.asarray(tl, dtype=np.float32)[keep])
    dim = rows[0].shape[1] if rows else 0
    vectors = np.concatenate(rows) if rows else np.zeros((0, dim), np.float32)
    return EmbeddingSet(
        ids=out_ids, vectors=vectors, meta={**meta, "unit": SLICE_UNIT, "n_tracks": len(ids)}, name=name
    )


def track_vector(index: Index, track_id: str) -> np.ndarray:
    """The mean of a catalogue track's slice vectors in a slice index, ``(D,)`` float32
    (the query for "tracks like this one").

    Raises:
        UnknownIdError: the track has no slice in the index.
    """
    if track_id not in _rows_of(index):
        raise UnknownIdError(track_id)
    return _slices_of(index, track_id)[1].mean(axis=0).astype(np.float32)


def track_index(index: Index) -> Index:
    """An exact track index of the tracks of a slice index: each track's vector is
    :func:`track_vector` (the mean of its stored, L2-normalised loud slices; close to, not equal
    to, the track embedding of the EMB folder, the mean before normalising). The model, dataset
    and embedding metadata of the slice index are kept, so audio can be embedded for it.

    Raises:
        UsageError: not a slice index.
    """
    if not is_slice_index(index):
        raise UsageError("this index holds tracks, not slices: it is a track index already")
    rows = _rows_of(index)
    stored = index.vectors()  # one read of every slice; a slice index never re-ranks, so these are what vector() gives
    vectors = np.stack([stored[r].mean(axis=0) for r in rows.values()]).astype(np.float32)
    tracks = list(rows)
    meta = index.meta
    kept = {k: meta.get(k) for k in ("model", "dataset", "embeddings", "embedding_meta")}
    emb = EmbeddingSet(ids=tracks, vectors=vectors, meta={}, name="tracks")
    return Index.build(emb, "exact", provenance={**kept, "tracks_of": "slice index"})


def _slices_of(index: Index, track_id: str) -> tuple[np.ndarray, np.ndarray]:
    """A track's slice numbers ``(S,)`` and stored (L2-normalised) vectors ``(S, D)`` in a slice index."""
    rows = _rows_of(index)[track_id]
    numbers = np.array([split_slice_id(index.ids[r])[1] for r in rows])
    return numbers, np.stack([index.vector(index.ids[r]) for r in rows])


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
        k: tracks per query (>= 1); more than the eligible tracks gives them all, with a warning.
        keep: optionally, a function of a track id, False for tracks never returned (e.g. the
            query's own track or album).
    Returns:
        one list of :class:`Passage` per query, most similar first, one per track.
    Raises:
        UsageError: not a slice index, bad ``k``, a query of the wrong dimension.
    """
    if not is_slice_index(index):
        raise UsageError("this index holds tracks, not slices: build one with --slices (index build)")
    # checks k; without keep, warns here when k is more than the tracks (with keep: below)
    k = index._clamp_k(k, len(_rows_of(index)) if keep is None else np.iinfo(np.int64).max)
    q = np.asarray(vectors, dtype=np.float32)
    q = q[None] if q.ndim == 1 else q
    hop, length = float(index.meta["hop_seconds"]), float(index.meta["slice_seconds"])
    found = []
    for j in range(q.shape[0]):
        best = _best_slices(index, q[j : j + 1], k, keep)
        if len(best) < k:  # every eligible track was found: keep left out more than k allows
            warnings.warn(
                f"k={k} is more than the {len(best)} eligible items of the index; returning all of them",
                UserWarning,
                stacklevel=2,
            )
        found.append(
            [
                Passage(rank + 1, track, s, start_s=n * hop, end_s=n * hop + length)
                for rank, (track, (s, n)) in enumerate(best.items())
            ]
        )
    return found


def locate(index: Index, passages: list[Passage], timeline: np.ndarray) -> list[Passage]:
    """Where in each found track an excerpt lies, by aligning the excerpt's slices with the track's.

    The best single slice of a track says which track, not reliably where: within one
    recording many slices look alike. Here every offset of the excerpt's slice sequence
    against the track's (slice numbers, so silent slices left out of the index leave gaps) is
    scored by the mean cosine similarity of the aligned pairs (at least half of the excerpt's
    slices must overlap), and the best offset gives the span.

    Args:
        index: the slice index the passages were found in.
        passages: :func:`search_passages`' answer for one query.
        timeline: the excerpt's slice embeddings, float32 ``(T, D)`` (:meth:`tunespace.Model.timeline`,
            with the index's slicing).
    Returns:
        the same tracks, ranks and similarities, with ``start_s`` / ``end_s`` the aligned span
        (seconds from the track's start; the track's own end may come earlier).
    """
    hop, length = float(index.meta["hop_seconds"]), float(index.meta["slice_seconds"])
    q = np.asarray(timeline, dtype=np.float32)
    q = q / np.maximum(np.linalg.norm(q, axis=1, keepdims=True), 1e-12)
    need = max(1, (len(q) + 1) // 2)
    out = []
    for p in passages:
        numbers, vectors = _slices_of(index, p.id)
        sims = q @ vectors.T  # (T, slices of the track)
        column = {int(n): c for c, n in enumerate(numbers)}
        best, where = -np.inf, int(numbers[0])
        for offset in range(int(numbers.min()) - len(q) + 1, int(numbers.max()) + 1):
            pairs = [(j, column[offset + j]) for j in range(len(q)) if offset + j in column]
            if len(pairs) >= need:
                score = float(np.mean([sims[j, c] for j, c in pairs]))
                if score > best:
                    best, where = score, offset
        start = max(where, 0) * hop
        out.append(Passage(p.rank, p.id, p.similarity, start_s=start, end_s=(where + len(q) - 1) * hop + length))
    return out


def search_excerpt(index: Index, timeline: np.ndarray, loud: np.ndarray | None = None, k: int = 10) -> list[Passage]:
    """The ``k`` tracks an excerpt most likely comes from, each with where it lies in them.

    Which tracks by the mean of the excerpt's loud slices (as its track embedding,
    :func:`tunespace.embed.model.track_embedding`), searched with :func:`search_passages`; where
    by aligning all its slices with each found track's (:func:`locate`). What ``tunespace
    neighbours --audio`` and the explorer do with an excerpt on a slice index.

    Args:
        index: a slice index.
        timeline: the excerpt's slice embeddings, float32 ``(T, D)`` (:meth:`tunespace.Model.timeline`).
        loud: the excerpt's loud-slice mask ``(T,)`` (None: every slice).
        k: tracks (>= 1; more than the catalogue gives them all, with a warning).
    """
    from .embed.model import track_embedding

    return locate(index, search_passages(index, track_embedding(timeline, loud), k)[0], timeline)


def _best_slices(
    index: Index, q: np.ndarray, k: int, keep: Callable[[str], bool] | None
) -> dict[str, tuple[float, int]]:
    """Track -> (similarity, slice number) of its best slice, for the ``k`` best tracks, in order.

    Over-fetches slices, doubling the count until ``k`` tracks are found; where an approximate
    index returns too few (its probed cells hold fewer tracks), scans every slice exactly."""
    n = len(index)
    fetch = min(n, k * OVERFETCH)
    while True:
        sims, rows = index.search_arrays(q, fetch)
        best = _group(index, sims[0], rows[0], k, keep)
        if len(best) == k or fetch >= n:
            break
        fetch = min(n, fetch * 2)
    if len(best) < k and (rows < 0).any():  # an approximate index found too few: every slice, exactly
        qn = q[0] / max(float(np.linalg.norm(q[0])), 1e-12)
        sims = index.vectors() @ qn
        order = np.argsort(-sims, kind="stable")
        best = _group(index, sims[order], order, k, keep)
    return best


def _group(
    index: Index, sims: np.ndarray, rows: np.ndarray, k: int, keep: Callable[[str], bool] | None
) -> dict[str, tuple[float, int]]:
    best: dict[str, tuple[float, int]] = {}
    for s, r in zip(sims, rows):
        if r < 0:
            continue
        track, number = split_slice_id(index.ids[r])
        if track in best or (keep is not None and not keep(track)):
            continue
        best[track] = (float(s), number)
        if len(best) == k:
            break
    return best


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

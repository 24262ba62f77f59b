"""Per-query agreement and chance terms of the neighbourhood measures (definitions:
docs/metrics.md), implemented exactly as defined there.

For each query i and each k, the *agreement* a_i(k) is the mean pair score s(i, j) over the
k nearest neighbours j of i; the *chance* term c_i is the mean of s(i, j) over the items a
neighbour could be: every j != i, or, with groups (e.g. the excerpts of one track), every j
outside the query's group, since those are the only candidates the neighbour search sees
(neighbours drawn at random without replacement from the eligible items). Then
A_k = mean_i a_i(k), C = mean_i c_i and L_k = (A_k - C) / (1 - C). Definitions with formulas:
``docs/metrics.md``.

Pair scores (the query i is the reference):

- categorical and key-exact: s = 1 if y_j == y_i else 0, so c_i = (n_{y_i} - 1) / (N - 1);
  with groups, c_i = (n_{y_i} - n_{g_i, y_i}) / (N - n_{g_i}) (n_{g, y}: items of group g
  labelled y; n_g: items of group g).
- key graded: s = ``mir_eval.key.weighted_score(y_i, y_j)`` (1 same, 0.5 fifth above, 0.3
  relative, 0.2 parallel), read from a 24 x 24 table computed once with mir_eval itself;
  c_i = (sum_b n_b W[y_i, b] - 1) / (N - 1), with groups the query's group's counts are
  subtracted the same way.
- tempo Acc1: s = 1 when t_j lies within 4 % of t_i, i.e. (1 - 0.04) t_i <= t_j <= (1 + 0.04) t_i;
  Acc2 also accepts 4 % around 2 t_i, t_i / 2, 3 t_i and t_i / 3. Interval bounds get a relative
  slack of 1e-9 so that decimal boundaries (104 vs 100 BPM) count as inside despite rounding.
  c_i counts the items inside those intervals by binary search in the sorted tempi: exact
  and O(N log N) (the intervals are disjoint), the same count the O(N^2) pairwise
  definition gives; with groups, the count within the query's group (found the same way in
  that group's sorted tempi) is subtracted.

Written by hand: no library computes neighbourhood agreement; mir_eval provides the key score.
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np

from ..keys import KEY_NAMES

TEMPO_TOLERANCE = 0.04
ACC1_FACTORS: tuple[float, ...] = (1.0,)
ACC2_FACTORS: tuple[float, ...] = (1.0, 2.0, 0.5, 3.0, 1.0 / 3.0)
_SLACK = 1e-9


@lru_cache(maxsize=1)
def key_score_table() -> np.ndarray:
    """float64 (24, 24): W[a, b] = mir_eval.key.weighted_score(KEY_NAMES[a], KEY_NAMES[b])
    (a = reference, b = estimate)."""
    import mir_eval

    w = np.array([[mir_eval.key.weighted_score(a, b) for b in KEY_NAMES] for a in KEY_NAMES])
    w.setflags(write=False)
    return w


def key_codes(keys: np.ndarray) -> np.ndarray:
    """Index (N,) into :data:`tunespace.keys.KEY_NAMES` of canonical key names."""
    index = {name: n for n, name in enumerate(KEY_NAMES)}
    return np.array([index[k] for k in keys], dtype=np.int64)


def tempo_bounds(ref_bpm: np.ndarray, factors: tuple[float, ...]) -> tuple[np.ndarray, np.ndarray]:
    """Agreement intervals around reference tempi: (lo, hi), each (len(factors), N) in BPM."""
    t = np.asarray(ref_bpm, dtype=np.float64)[None, :]
    m = np.asarray(factors, dtype=np.float64)[:, None]
    lo = m * t * (1.0 - TEMPO_TOLERANCE) * (1.0 - _SLACK)
    hi = m * t * (1.0 + TEMPO_TOLERANCE) * (1.0 + _SLACK)
    return lo, hi


def tempo_agree(ref_bpm: np.ndarray, est_bpm: np.ndarray, octave: bool = False) -> np.ndarray:
    """Element-wise tempo agreement (Acc1, or Acc2 when ``octave``) of broadcastable arrays (BPM)."""
    ref = np.asarray(ref_bpm, dtype=np.float64)
    est = np.asarray(est_bpm, dtype=np.float64)
    ref, est = np.broadcast_arrays(ref, est)
    lo, hi = tempo_bounds(ref.ravel(), ACC2_FACTORS if octave else ACC1_FACTORS)
    e = est.ravel()[None, :]
    return ((lo <= e) & (e <= hi)).any(axis=0).reshape(ref.shape)


def agreement_curve(scores: np.ndarray, ks: list[int]) -> np.ndarray:
    """Per-query agreement (N, len(ks)) from pair scores (N, K) of the K nearest neighbours:
    column m = mean of the first ks[m] scores."""
    cum = np.cumsum(scores.astype(np.float64), axis=1)
    return np.stack([cum[:, k - 1] / k for k in ks], axis=1)


def _query_values(values: np.ndarray, queries: np.ndarray | None) -> np.ndarray:
    return values if queries is None else values[np.asarray(queries, dtype=np.int64)]


def categorical_scores(codes: np.ndarray, neighbours: np.ndarray, queries: np.ndarray | None = None) -> np.ndarray:
    """Pair scores (Q, K): 1 where neighbour label == query label. Row q of ``neighbours``
    belongs to item ``queries[q]`` (default: to item q, Q = N)."""
    return (codes[neighbours] == _query_values(codes, queries)[:, None]).astype(np.float64)


def group_codes(groups: np.ndarray | None) -> np.ndarray | None:
    """Integer codes (N,) of group ids (any hashable values), or None."""
    if groups is None:
        return None
    _, codes = np.unique(np.asarray(groups).astype(str), return_inverse=True)
    return codes.astype(np.int64)


def _eligible(n: int, groups: np.ndarray | None) -> np.ndarray:
    """Number of candidate neighbours of each query (N,): N - 1, or N - n_{g_i} with groups."""
    if groups is None:
        return np.full(n, n - 1, dtype=np.float64)
    return (n - np.bincount(groups)[groups]).astype(np.float64)


def _divide(count: np.ndarray, eligible: np.ndarray) -> np.ndarray:
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(eligible > 0, count / np.maximum(eligible, 1), np.nan)


def categorical_chance(codes: np.ndarray, groups: np.ndarray | None = None) -> np.ndarray:
    """Per-query chance (N,): (n_{y_i} - 1) / (N - 1); with integer ``groups`` (N,),
    (n_{y_i} - n_{g_i, y_i}) / (N - n_{g_i}) (NaN for a query whose group holds every item)."""
    n = len(codes)
    counts = np.bincount(codes)
    if groups is None:
        return (counts[codes] - 1) / (n - 1)
    _, inv, same = np.unique(np.stack([groups, codes]), axis=1, return_inverse=True, return_counts=True)
    return _divide(counts[codes] - same[inv.ravel()], _eligible(n, groups))


def key_graded_scores(codes: np.ndarray, neighbours: np.ndarray, queries: np.ndarray | None = None) -> np.ndarray:
    """Pair scores (Q, K): mir_eval weighted score with the query's key as reference (rows as
    in :func:`categorical_scores`)."""
    return key_score_table()[_query_values(codes, queries)[:, None], codes[neighbours]]


def key_graded_chance(codes: np.ndarray, groups: np.ndarray | None = None) -> np.ndarray:
    """Per-query chance (N,): mean over j != i (with ``groups``: over j outside the query's
    group) of the weighted score W[y_i, y_j]."""
    n = len(codes)
    w = key_score_table()
    counts = np.bincount(codes, minlength=len(KEY_NAMES)).astype(np.float64)
    if groups is None:
        return ((w @ counts)[codes] - 1.0) / (n - 1)  # minus the query's own score W[a, a] = 1
    by_group = np.zeros((int(groups.max()) + 1, len(KEY_NAMES)))
    np.add.at(by_group, (groups, codes), 1.0)
    within = (by_group[groups] * w[codes]).sum(axis=1)  # includes the query itself
    return _divide((w @ counts)[codes] - within, _eligible(n, groups))


def tempo_scores(
    tempi: np.ndarray, neighbours: np.ndarray, octave: bool, queries: np.ndarray | None = None
) -> np.ndarray:
    """Pair scores (Q, K): 1 where the neighbour's tempo agrees with the query's (Acc1/Acc2;
    rows as in :func:`categorical_scores`)."""
    return tempo_agree(_query_values(tempi, queries)[:, None], tempi[neighbours], octave=octave).astype(np.float64)


def _tempo_count(t: np.ndarray, ref: np.ndarray, octave: bool) -> np.ndarray:
    """For each reference tempo, how many of ``t`` agree with it (binary search, exact)."""
    s = np.sort(t)
    lo, hi = tempo_bounds(ref, ACC2_FACTORS if octave else ACC1_FACTORS)
    return (np.searchsorted(s, hi, side="right") - np.searchsorted(s, lo, side="left")).sum(axis=0)


def tempo_chance(tempi: np.ndarray, octave: bool, groups: np.ndarray | None = None) -> np.ndarray:
    """Per-query chance (N,): fraction of the other items (with ``groups``: of the items
    outside the query's group) whose tempo agrees with the query's.

    Exact, O(N log N): binary search of each agreement interval in the sorted tempi (per group
    for the within-group counts).
    """
    t = np.asarray(tempi, dtype=np.float64)
    count = _tempo_count(t, t, octave)  # the query itself always lies in its own interval
    if groups is None:
        return (count - 1) / (len(t) - 1)
    within = np.ones(len(t))
    order = np.argsort(groups, kind="stable")
    starts = np.flatnonzero(np.r_[True, np.diff(groups[order]) != 0])
    for members in np.split(order, starts[1:]):
        if len(members) > 1:
            within[members] = _tempo_count(t[members], t[members], octave)
    return _divide(count - within, _eligible(len(t), groups))

"""Locality at catalogue scale: estimated from a seeded sample of queries against a full index.

For a catalogue too large for an all-pairs neighbour search, :func:`sampled_locality` draws
``n_queries`` query items at random without replacement (seeded) among the N labelled items
of each property, finds each one's k nearest neighbours in the whole INDEX (leaving out the
query, its group and the items whose label is unknown, exactly as :mod:`.profile` does), and
computes agreement with the same per-query measures (:func:`.profile.per_query_terms`).

- **Chance** C needs no neighbours: it is computed exactly from the full label table (the mean
  of the per-item chance terms c_i over all N labelled items, label counts only), so it carries
  no sampling error.
- **Agreement** A_k is estimated by the sample mean of a_i(k); its standard error is
  SE = s / sqrt(n) · sqrt((N - n) / (N - 1)) (s: sample SD of a_i(k), n: queries; the finite
  population correction because queries are drawn without replacement).
- **Locality** L_k = (A_k - C) / (1 - C) is then a linear function of the estimate:
  SE(L_k) = SE(A_k) / (1 - C), and the interval is the normal one, L_k ± z · SE(L_k)
  (z = 1.96 for 95 %).

The estimate is of the locality of the index's neighbourhoods: with an approximate index
(``ivf``, ``hnsw``, ``ivfpq``) those are the neighbours it returns; the interval covers the
sampling of queries only, not the index's recall. Written by hand (a mean and its standard
error); the measures are :mod:`.measures`'.
"""

from __future__ import annotations

from pathlib import Path
from statistics import NormalDist
from typing import Any

import numpy as np

from ..embed.format import EmbeddingSet
from ..errors import UsageError
from ..labels import LabelTable, join
from . import measures as M
from .profile import DEFAULT_KS, _no_property, _num, _prepare, _selections, per_query_terms


def standard_error(values: np.ndarray, population: int) -> np.ndarray:
    """Standard error of the mean of a sample ``values`` (n, ...) drawn without replacement from
    ``population`` items: s / sqrt(n) · sqrt((N - n) / (N - 1)); 0 when n = N, NaN when n < 2."""
    n = values.shape[0]
    if n < 2:
        return np.full(values.shape[1:], np.nan)
    fpc = (population - n) / (population - 1) if population > 1 else 0.0
    return values.std(axis=0, ddof=1) / np.sqrt(n) * np.sqrt(max(fpc, 0.0))


def sampled_locality(
    index: Any,
    labels: LabelTable,
    n_queries: int,
    ks: list[int] | tuple[int, ...] = DEFAULT_KS,
    properties: list[str] | None = None,
    *,
    groups: str | None = None,
    seed: int = 0,
    level: float = 0.95,
) -> dict[str, Any]:
    """Locality of each property's measures at each k, estimated from ``n_queries`` sampled queries.

    Args:
        index: a :class:`tunespace.Index` or an INDEX folder (``tunespace index build``).
        labels: the label table (joined to the index's ids; the join report is included).
        n_queries: queries sampled per property (all labelled items when fewer).
        ks: neighbourhood sizes.
        properties: label properties to measure (default: all but ``groups``).
        groups: a label column of group ids (neighbours of the query's group are left out, and
            so are they from the chance term).
        seed: seed of the query sample (the same sample for properties labelled on the same items).
        level: coverage of the intervals (0.95).
    Returns:
        a profile as :func:`tunespace.locality.locality_profile` returns it (so
        :func:`~tunespace.locality.write_locality_report` writes it), whose rows add
        ``agreement_se``, ``locality_se`` and ``n_population``, and a ``sampling`` record
        (queries, seed, level, how the interval and chance are computed).
    Raises:
        UsageError: ``n_queries`` < 2, unknown property, k larger than some query's eligible
            neighbours, or no measurable property (one line; the CLI exits 2).
    """
    from ..index import Index
    from ..passages import is_slice_index

    idx = index if isinstance(index, Index) else Index.load(index)
    if is_slice_index(idx):
        raise UsageError("locality is measured between tracks: give a track index, not a slice index (--slices)")
    if isinstance(n_queries, bool) or not isinstance(n_queries, (int, np.integer)) or n_queries < 2:
        raise UsageError(f"--sample-queries must be an integer >= 2, got {n_queries!r}")
    if not 0 < level < 1:
        raise UsageError(f"level must lie in (0, 1), got {level}")
    ks = sorted({int(k) for k in ks})
    view = EmbeddingSet(ids=idx.ids, vectors=np.empty((len(idx), 0), np.float32), name=_name(index, idx))
    rows, aligned, report = join(view, labels)
    aligned, properties, group_values = _prepare(idx.ids, aligned, properties, groups, ks)
    gcodes = M.group_codes(group_values)
    z = NormalDist().inv_cdf((1 + level) / 2)
    skipped: dict[str, str] = {}
    out: dict[str, Any] = {}
    kinds: dict[str, str] = {}
    property_of: dict[str, str] = {}
    cache: dict[bytes, tuple[np.ndarray, np.ndarray]] = {}
    for p, kind, sel in _selections(aligned, properties, group_values, skipped):
        g = None if gcodes is None else M.group_codes(gcodes[sel])
        key = sel.tobytes()
        if key not in cache:
            cache[key] = _neighbours(idx, rows[sel], g, ks[-1], n_queries, seed, p)
        sample, nb = cache[key]
        for suffix, (a, c) in per_query_terms(kind, aligned.values[p][sel], nb, ks, g, sample).items():
            name = p + suffix
            kinds[name], property_of[name] = kind, p
            out[name] = _summary(a, c, ks, len(sel), z)
    if not out:
        raise _no_property(properties, skipped)
    return {
        "name": view.name,
        "n_items": int(len(rows)),
        "dim": idx.dim,
        "ks": ks,
        "join": report.to_dict(),
        "kinds": kinds,
        "property_of": property_of,
        "skipped": skipped,
        "knn": {"method": idx.method, "index": str(index) if not isinstance(index, Index) else None, "recall": None},
        "bootstrap": 0,
        "null_replicates": 0,
        "sampling": {
            "queries": int(n_queries),
            "seed": int(seed),
            "level": level,
            "interval": "normal: L +- z * SE(A) / (1 - C), SE with finite-population correction",
            "chance": "exact: mean over all labelled items of c_i (from the label counts; no sampling error)",
        },
        "properties": out,
    }


def _name(index: Any, idx: Any) -> str:
    src = idx.meta.get("embeddings")
    if src:
        return Path(src).name
    return Path(str(index)).name if not hasattr(index, "ids") else "index"


def _neighbours(
    idx: Any, index_rows: np.ndarray, g: np.ndarray | None, k: int, n_queries: int, seed: int, prop: str
) -> tuple[np.ndarray, np.ndarray]:
    """Seeded sample of query positions (into the selection) and their k neighbours (positions
    into the selection), searched in the full index among the selection's items only."""
    n = len(index_rows)
    eligible = n - (np.bincount(g).max() if g is not None else 1)
    if k > eligible:
        why = f", largest group {n - eligible}" if g is not None else ""
        raise UsageError(f"{prop}: k={k} is more than some queries' {eligible} eligible neighbours (N={n}{why})")
    rng = np.random.default_rng(seed)
    sample = np.sort(rng.choice(n, size=min(int(n_queries), n), replace=False))
    position = np.full(len(idx), -1, dtype=np.int64)
    position[index_rows] = np.arange(n)
    outside = position < 0  # unlabelled or unjoined rows never count as neighbours
    group_of = None
    if g is not None:
        group_of = np.full(len(idx), -1, dtype=np.int64)
        group_of[index_rows] = g
    nb = np.empty((len(sample), k), dtype=np.int64)
    for j, s in enumerate(sample):
        r = int(index_rows[s])
        excluded = outside.copy()
        excluded[r] = True
        if group_of is not None:
            excluded |= group_of == group_of[r]
        found = idx.neighbour_rows(r, k, excluded)
        if len(found) < k:
            raise UsageError(f"{prop}: the index returned {len(found)} of {k} neighbours for {idx.ids[r]!r}")
        nb[j] = position[found]
    return sample, nb


def _summary(a: np.ndarray, chance: np.ndarray, ks: list[int], population: int, z: float) -> dict[str, Any]:
    """k -> the profile row of a sampled estimate (``chance``: all N items' c_i)."""
    est = a.mean(axis=0)
    se = standard_error(a, population)
    c = float(chance.mean())
    defined = 1.0 - c > 1e-9
    loc = (est - c) / (1.0 - c) if defined else np.full(len(ks), np.nan)
    l_se = se / (1.0 - c) if defined else np.full(len(ks), np.nan)
    return {
        str(k): {
            "agreement": float(est[m]),
            "chance": c,
            "locality": _num(loc[m]),
            "agreement_ci": [_num(est[m] - z * se[m]), _num(est[m] + z * se[m])],
            "locality_ci": [_num(loc[m] - z * l_se[m]), _num(loc[m] + z * l_se[m])],
            "agreement_se": _num(se[m]),
            "locality_se": _num(l_se[m]),
            "n_queries": int(a.shape[0]),
            "n_population": int(population),
            "null_mean": None,
            "null_sd": None,
        }
        for m, k in enumerate(ks)
    }

"""Locality profile of a set of embeddings: agreement, chance and locality of every measured
property at several neighbourhood sizes k, with bootstrap intervals.

Measures by property kind:

- ``categorical``: the property itself (exact agreement).
- ``key``: ``<name>`` (exact: same tonic and mode) and ``<name>_graded`` (mir_eval weighted score).
- ``tempo``: ``<name>`` (Acc1, 4 % tolerance) and ``<name>_acc2`` (octave-tolerant).
- ``continuous`` and ``tags``: not measured (no agreement is defined for them in the brief);
  they are listed under ``skipped`` with the reason. Declare a continuous column as
  categorical or tempo to measure it.

Items whose label is unknown for a property are left out of that property's analysis (queries
and candidate neighbours): its neighbours are searched among the labelled items only, so
N in the chance term is the number of labelled items. With ``groups`` (e.g. excerpts of one
track), neighbours of the same group are excluded as the brief says, but the chance term
keeps the brief's definition over all N - 1 other items (it is not reduced to other groups).
"""

from __future__ import annotations

import zlib
from typing import Any

import numpy as np

from ..embed.format import EmbeddingSet
from ..errors import UsageError
from ..labels import LabelTable, encode, join
from ..neighbours import knn
from . import measures as M
from .bootstrap import bootstrap_ci

DEFAULT_KS: tuple[int, ...] = (1, 5, 10, 50)


def measures_of(prop: str, kind: str) -> list[str]:
    """Names of the measures a property of ``kind`` yields (empty when not measured)."""
    if kind == "categorical":
        return [prop]
    if kind == "key":
        return [prop, f"{prop}_graded"]
    if kind == "tempo":
        return [prop, f"{prop}_acc2"]
    return []


def per_query_terms(
    kind: str, values: np.ndarray, neighbours: np.ndarray, ks: list[int]
) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """Per-query agreement (N, len(ks)) and chance (N,) for each measure of one property.

    Args:
        kind: property kind.
        values: (N,) labels of the N items (all known).
        neighbours: (N, K) neighbour indices into ``values``, K >= max(ks).
        ks: neighbourhood sizes.
    Returns:
        suffix (``""``, ``"_graded"`` or ``"_acc2"``) -> (agreement, chance).
    """
    if kind == "tempo":
        t = values.astype(np.float64)
        return {
            "": (M.agreement_curve(M.tempo_scores(t, neighbours, False), ks), M.tempo_chance(t, False)),
            "_acc2": (M.agreement_curve(M.tempo_scores(t, neighbours, True), ks), M.tempo_chance(t, True)),
        }
    if kind == "key":
        codes = M.key_codes(values)
        return {
            "": (M.agreement_curve(M.categorical_scores(codes, neighbours), ks), M.categorical_chance(codes)),
            "_graded": (
                M.agreement_curve(M.key_graded_scores(codes, neighbours), ks),
                M.key_graded_chance(codes),
            ),
        }
    if kind == "categorical":
        codes, _ = encode(values)
        return {"": (M.agreement_curve(M.categorical_scores(codes, neighbours), ks), M.categorical_chance(codes))}
    raise UsageError(f"no agreement measure for properties of kind {kind!r}")


def summarise(
    agreement: np.ndarray, chance: np.ndarray, ks: list[int], n_boot: int, rng: np.random.Generator
) -> dict[str, dict[str, Any]]:
    """k -> {agreement, chance, locality, agreement_ci, locality_ci, n_queries} from per-query terms."""
    a = agreement.mean(axis=0)
    c = float(chance.mean())
    loc = (a - c) / (1.0 - c) if 1.0 - c > 1e-9 else np.full(len(ks), np.nan)
    if n_boot > 0:
        a_ci, l_ci = bootstrap_ci(agreement, chance, n_boot, rng)
    else:
        a_ci = l_ci = np.full((len(ks), 2), np.nan)
    return {
        str(k): {
            "agreement": float(a[m]),
            "chance": c,
            "locality": _num(loc[m]),
            "agreement_ci": [_num(v) for v in a_ci[m]],
            "locality_ci": [_num(v) for v in l_ci[m]],
            "n_queries": int(len(chance)),
        }
        for m, k in enumerate(ks)
    }


def locality_profile(
    emb: EmbeddingSet,
    labels: LabelTable,
    ks: list[int] | tuple[int, ...] = DEFAULT_KS,
    properties: list[str] | None = None,
    *,
    groups: str | None = None,
    bootstrap: int = 1000,
    seed: int = 0,
    method: str = "exact",
    backend: str = "auto",
    chunk_size: int = 4096,
) -> dict[str, Any]:
    """Locality of each property's measures at each k for one set of embeddings.

    Args:
        emb: the embeddings.
        labels: the label table (joined to ``emb`` by id; the join report is included).
        ks: neighbourhood sizes.
        properties: label properties to measure (default: all but ``groups``).
        groups: name of a label column of group ids (items of the query's group are excluded).
        bootstrap: resamples for the confidence intervals (0: none).
        seed: seed of the bootstrap (per measure: derived from seed and the measure name) and
            of approximate search.
        method, backend, chunk_size: passed to :func:`tunespace.neighbours.knn`.
    Returns:
        ``{"name", "n_items", "dim", "ks", "join", "kinds", "skipped", "knn", "properties":
        {measure: {str(k): {agreement, chance, locality, agreement_ci, locality_ci, n_queries}}}}``.
    Raises:
        UsageError: unknown property or k larger than the labelled items allow.
    """
    ks = sorted({int(k) for k in ks})
    if not ks or ks[0] < 1:
        raise UsageError(f"--k: neighbourhood sizes must be positive integers, got {ks}")
    rows, aligned, report = join(emb, labels)
    if properties is None:
        properties = [p for p in aligned.properties if p != groups]
    for p in properties:
        if p not in aligned.kinds:
            raise UsageError(f"labels have no property {p!r} (have: {', '.join(aligned.properties)})")
    group_values = None
    if groups is not None:
        if groups not in aligned.values:
            raise UsageError(f"--groups: labels have no column {groups!r}")
        group_values = np.array([str(g) for g in aligned.values[groups]])
    vectors = emb.vectors if len(rows) == len(emb.ids) else np.asarray(emb.vectors[rows])
    cache: dict[bytes, Any] = {}
    out: dict[str, Any] = {}
    kinds: dict[str, str] = {}
    skipped: dict[str, str] = {}
    recalls: list[float] = []
    for p in properties:
        kind = aligned.kinds[p]
        if not measures_of(p, kind):
            skipped[p] = f"kind {kind!r} has no agreement measure (declare it as categorical or tempo)"
            continue
        mask = aligned.known(p)
        if group_values is not None:
            mask &= np.array([g not in ("None", "") for g in group_values])
        sel = np.nonzero(mask)[0]
        if len(sel) < 2:
            skipped[p] = f"only {len(sel)} items labelled"
            continue
        key = mask.tobytes()
        if key not in cache:
            sub = vectors if len(sel) == len(vectors) else np.asarray(vectors[sel])
            g = None if group_values is None else group_values[sel]
            cache[key] = knn(sub, ks[-1], groups=g, method=method, backend=backend, chunk_size=chunk_size, seed=seed)
            if cache[key].recall is not None:
                recalls.append(cache[key].recall)
        res = cache[key]
        for suffix, (a, c) in per_query_terms(kind, aligned.values[p][sel], res.indices, ks).items():
            name = p + suffix
            rng = np.random.default_rng([seed, zlib.crc32(name.encode())])
            out[name] = summarise(a, c, ks, bootstrap, rng)
            kinds[name] = kind
    return {
        "name": emb.name,
        "n_items": int(len(rows)),
        "dim": int(emb.vectors.shape[1]),
        "ks": ks,
        "join": report.to_dict(),
        "kinds": kinds,
        "skipped": skipped,
        "knn": {"method": method, "backend": backend, "recall": min(recalls) if recalls else None},
        "bootstrap": bootstrap,
        "properties": out,
    }


def _num(v: float) -> float | None:
    v = float(v)
    return v if np.isfinite(v) else None

"""Locality profile of a set of embeddings: agreement, chance and locality of every measured
property at several neighbourhood sizes k, with bootstrap intervals over queries and the
spread of locality that random embeddings of the same items show (the noise floor).

Measures by property kind:

- ``categorical``: the property itself (exact agreement).
- ``key``: ``<name>`` (exact: same tonic and mode) and ``<name>_graded`` (mir_eval weighted score).
- ``tempo``: ``<name>`` (Acc1, 4 % tolerance) and ``<name>_acc2`` (octave-tolerant).
- ``continuous`` and ``tags``: not measured (no agreement is defined for them); they are
  listed under ``skipped`` with the reason. Declare a continuous column as categorical or
  tempo to measure it.

Items whose label is unknown for a property are left out of that property's analysis (queries
and candidate neighbours): its neighbours are searched among the labelled items only, so
N in the chance term is the number of labelled items. With ``groups`` (e.g. excerpts of one
track), neighbours of the query's group are excluded and so are they from the chance term:
chance is the agreement expected of neighbours drawn at random from the items the search
could return (see :mod:`.measures`), so random embeddings score 0 within noise.

The noise floor (``null_replicates`` > 0): locality of ``R`` sets of i.i.d. Gaussian random
vectors (dimension :data:`NULL_DIM`, seeded) for the same items, labels and groups; its
standard deviation over the replicates is ``null_sd`` (its mean, ``null_mean``, is 0 within
noise). Written by hand: no library computes neighbourhood agreement.
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
    kind: str,
    values: np.ndarray,
    neighbours: np.ndarray,
    ks: list[int],
    groups: np.ndarray | None = None,
    queries: np.ndarray | None = None,
) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """Per-query agreement (Q, len(ks)) and chance (N,) for each measure of one property.

    Args:
        kind: property kind.
        values: (N,) labels of the N items (all known).
        neighbours: (Q, K) neighbour indices into ``values``, K >= max(ks).
        ks: neighbourhood sizes.
        groups: (N,) integer group codes (neighbours of the query's group were excluded, and
            the chance term excludes them too), or None.
        queries: (Q,) the items whose neighbours the rows of ``neighbours`` are (default: all
            N items, in order).
    Returns:
        suffix (``""``, ``"_graded"`` or ``"_acc2"``) -> (agreement (Q, len(ks)), chance (N,) of
        every item: the population's chance terms, ``chance[queries]`` being the queries').
    """
    q = queries
    if kind == "tempo":
        t = values.astype(np.float64)
        return {
            "": (M.agreement_curve(M.tempo_scores(t, neighbours, False, q), ks), M.tempo_chance(t, False, groups)),
            "_acc2": (M.agreement_curve(M.tempo_scores(t, neighbours, True, q), ks), M.tempo_chance(t, True, groups)),
        }
    if kind == "key":
        codes = M.key_codes(values)
        return {
            "": (
                M.agreement_curve(M.categorical_scores(codes, neighbours, q), ks),
                M.categorical_chance(codes, groups),
            ),
            "_graded": (
                M.agreement_curve(M.key_graded_scores(codes, neighbours, q), ks),
                M.key_graded_chance(codes, groups),
            ),
        }
    if kind == "categorical":
        codes, _ = encode(values)
        return {
            "": (
                M.agreement_curve(M.categorical_scores(codes, neighbours, q), ks),
                M.categorical_chance(codes, groups),
            )
        }
    raise UsageError(f"no agreement measure for properties of kind {kind!r}")


def summarise(
    agreement: np.ndarray,
    chance: np.ndarray,
    ks: list[int],
    n_boot: int,
    rng: np.random.Generator,
    null: dict[int, tuple[float, float]] | None = None,
) -> dict[str, dict[str, Any]]:
    """k -> {agreement, chance, locality, agreement_ci, locality_ci, n_queries, null_mean,
    null_sd} from per-query terms (``null``: k -> (mean, sd) of random embeddings' locality)."""
    a = agreement.mean(axis=0)
    c = float(chance.mean())
    loc = (a - c) / (1.0 - c) if 1.0 - c > 1e-9 else np.full(len(ks), np.nan)
    if n_boot > 0:
        a_ci, l_ci = bootstrap_ci(agreement, chance, n_boot, rng)
    else:
        a_ci = l_ci = np.full((len(ks), 2), np.nan)
    null = null or {}
    return {
        str(k): {
            "agreement": float(a[m]),
            "chance": c,
            "locality": _num(loc[m]),
            "agreement_ci": [_num(v) for v in a_ci[m]],
            "locality_ci": [_num(v) for v in l_ci[m]],
            "n_queries": int(len(chance)),
            "null_mean": _num(null[k][0]) if k in null else None,
            "null_sd": _num(null[k][1]) if k in null else None,
        }
        for m, k in enumerate(ks)
    }


#: Dimension of the random embeddings of the noise floor.
NULL_DIM = 32


def _selections(
    aligned: LabelTable, properties: list[str], group_values: np.ndarray | None, skipped: dict[str, str]
) -> list[tuple[str, str, np.ndarray]]:
    """(property, kind, selected rows) of each measurable property; the others go to ``skipped``."""
    out = []
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
        out.append((p, kind, sel))
    return out


def _prepare(
    emb_ids: list[str] | None, labels: LabelTable, properties: list[str] | None, groups: str | None, ks: list[int]
) -> tuple[LabelTable, list[str], np.ndarray | None]:
    if not ks or ks[0] < 1:
        raise UsageError(f"--k: neighbourhood sizes must be positive integers, got {ks}")
    if properties is None:
        properties = [p for p in labels.properties if p != groups]
    for p in properties:
        if p not in labels.kinds:
            raise UsageError(f"labels have no property {p!r} (have: {', '.join(labels.properties)})")
    group_values = None
    if groups is not None:
        if groups not in labels.values:
            raise UsageError(f"--groups: labels have no column {groups!r}")
        group_values = np.array([str(g) for g in labels.values[groups]])
    return labels, properties, group_values


def _no_property(properties: list[str], skipped: dict[str, str]) -> UsageError:
    why = "; ".join(f"{p}: {r}" for p, r in skipped.items()) or "no property given"
    return UsageError(f"the labels have no property whose locality can be measured ({why})")


def locality_terms(
    emb: EmbeddingSet,
    labels: LabelTable,
    ks: list[int] | tuple[int, ...] = DEFAULT_KS,
    properties: list[str] | None = None,
    *,
    groups: str | None = None,
    seed: int = 0,
    method: str = "exact",
    backend: str = "auto",
    chunk_size: int = 4096,
) -> dict[str, Any]:
    """Per-query agreement and chance of each measure (what every summary is computed from).

    Returns:
        ``{"name", "n_items", "dim", "ks", "join", "ids", "kinds", "property_of" (measure ->
        label property), "skipped", "knn", "labels",
        "terms": {measure: {"rows": (n,) indices into ids, "agreement": (n, len(ks)),
        "chance": (n,)}}}``; ``labels`` is the joined label table (in ``ids`` order).
    Raises:
        UsageError: unknown property, k larger than the labelled items allow, or no property
            with a locality measure.
    """
    ks = sorted({int(k) for k in ks})
    rows, aligned, report = join(emb, labels)
    aligned, properties, group_values = _prepare(emb.ids, aligned, properties, groups, ks)
    vectors = emb.vectors if len(rows) == len(emb.ids) else np.asarray(emb.vectors[rows])
    cache: dict[bytes, Any] = {}
    terms: dict[str, Any] = {}
    kinds: dict[str, str] = {}
    property_of: dict[str, str] = {}
    skipped: dict[str, str] = {}
    recalls: list[float] = []
    gcodes = M.group_codes(group_values)
    for p, kind, sel in _selections(aligned, properties, group_values, skipped):
        key = sel.tobytes()
        if key not in cache:
            sub = vectors if len(sel) == len(vectors) else np.asarray(vectors[sel])
            g = None if group_values is None else group_values[sel]
            cache[key] = knn(sub, ks[-1], groups=g, method=method, backend=backend, chunk_size=chunk_size, seed=seed)
            if cache[key].recall is not None:
                recalls.append(cache[key].recall)
        g = None if gcodes is None else M.group_codes(gcodes[sel])
        for suffix, (a, c) in per_query_terms(kind, aligned.values[p][sel], cache[key].indices, ks, g).items():
            terms[p + suffix] = {"rows": sel, "agreement": a, "chance": c}
            kinds[p + suffix] = kind
            property_of[p + suffix] = p
    if not terms:
        raise _no_property(properties, skipped)
    return {
        "name": emb.name,
        "n_items": int(len(rows)),
        "dim": int(emb.vectors.shape[1]),
        "ks": ks,
        "join": report.to_dict(),
        "ids": list(aligned.ids),
        "kinds": kinds,
        "property_of": property_of,
        "skipped": skipped,
        "knn": {"method": method, "backend": backend, "recall": min(recalls) if recalls else None},
        "labels": aligned,
        "terms": terms,
    }


def null_locality(
    labels: LabelTable,
    ks: list[int] | tuple[int, ...],
    properties: list[str] | None = None,
    *,
    groups: str | None = None,
    replicates: int = 200,
    seed: int = 0,
    dim: int = NULL_DIM,
    backend: str = "auto",
) -> dict[str, dict[int, tuple[float, float]]]:
    """Locality of random embeddings of the labelled items: measure -> k -> (mean, sd) over
    ``replicates`` sets of i.i.d. Gaussian vectors (seeded by ``seed``), same groups, exact search.

    Depends on the labels only (not on any embeddings): the noise floor of a locality value.
    """
    ks = sorted({int(k) for k in ks})
    labels, properties, group_values = _prepare(None, labels, properties, groups, ks)
    sels = _selections(labels, properties, group_values, {})
    gcodes = M.group_codes(group_values)
    values: dict[str, list[np.ndarray]] = {}
    rng = np.random.default_rng([seed, 0x4E554C4C])
    by_mask: dict[bytes, list[tuple[str, str, np.ndarray]]] = {}
    for p, kind, sel in sels:
        by_mask.setdefault(sel.tobytes(), []).append((p, kind, sel))
    for group in by_mask.values():
        sel = group[0][2]
        g = None if gcodes is None else M.group_codes(gcodes[sel])
        for _ in range(int(replicates)):
            x = rng.standard_normal((len(sel), dim)).astype(np.float32)
            nb = knn(x, ks[-1], groups=g, backend=backend).indices
            for p, kind, _sel in group:
                for suffix, (a, c) in per_query_terms(kind, labels.values[p][sel], nb, ks, g).items():
                    cm = float(c.mean())
                    values.setdefault(p + suffix, []).append((a.mean(axis=0) - cm) / (1.0 - cm))
    out: dict[str, dict[int, tuple[float, float]]] = {}
    for name, vals in values.items():
        v = np.asarray(vals)
        sd = v.std(axis=0, ddof=1) if len(v) > 1 else np.full(len(ks), np.nan)
        out[name] = {k: (float(v[:, m].mean()), float(sd[m])) for m, k in enumerate(ks)}
    return out


def locality_profile(
    emb: EmbeddingSet,
    labels: LabelTable,
    ks: list[int] | tuple[int, ...] = DEFAULT_KS,
    properties: list[str] | None = None,
    *,
    groups: str | None = None,
    bootstrap: int = 1000,
    null_replicates: int = 0,
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
        groups: name of a label column of group ids (items of the query's group are excluded
            from the neighbours and from the chance term).
        bootstrap: resamples for the confidence intervals over queries (0: none).
        null_replicates: random-embedding sets for the noise floor (0: none; each costs one
            exact neighbour search of the labelled items).
        seed: seed of the bootstrap (per measure: derived from seed and the measure name), of
            the random embeddings and of approximate search.
        method, backend, chunk_size: passed to :func:`tunespace.neighbours.knn`.
    Returns:
        ``{"name", "n_items", "dim", "ks", "join", "kinds", "property_of", "skipped", "knn",
        "bootstrap", "null_replicates", "properties": {measure: {str(k): {agreement, chance, locality,
        agreement_ci, locality_ci, n_queries, null_mean, null_sd}}}}``.
    Raises:
        UsageError: unknown property, k larger than the labelled items allow, or no property
            with a locality measure (one line; the CLI exits 2).
    """
    t = locality_terms(
        emb, labels, ks, properties, groups=groups, seed=seed, method=method, backend=backend, chunk_size=chunk_size
    )
    ks = t["ks"]
    null = (
        null_locality(
            t["labels"], ks, properties, groups=groups, replicates=null_replicates, seed=seed, backend=backend
        )
        if null_replicates > 0
        else {}
    )
    out = {}
    for name, term in t["terms"].items():
        rng = np.random.default_rng([seed, zlib.crc32(name.encode())])
        out[name] = summarise(term["agreement"], term["chance"], ks, bootstrap, rng, null.get(name))
    return {
        **{k: t[k] for k in ("name", "n_items", "dim", "ks", "join", "kinds", "property_of", "skipped", "knn")},
        "bootstrap": bootstrap,
        "null_replicates": int(null_replicates),
        "properties": out,
    }


def _num(v: float) -> float | None:
    v = float(v)
    return v if np.isfinite(v) else None

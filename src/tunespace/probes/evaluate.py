"""Evaluation of a set of embeddings on labelled properties: leave-one-out k-NN retrieval and
probes (linear, MLP) scored by k-fold cross-validation, written as ``evaluation.json`` +
``evaluation.csv`` + ``evaluation.md`` + ``config.json``.

Per property kind:

- ``categorical``: retrieval accuracy; probe accuracy (multiclass).
- ``key``: retrieval accuracy and mean weighted score of the voted key; probe accuracy and
  mean mir_eval weighted score (multiclass over the keys present).
- ``tempo``: probe as *regression on log2 tempo* (a continuous target keeps nearby tempi
  close and needs no bins with few examples); Acc1 and Acc2 of 2 ** prediction. No retrieval.
- ``continuous``: probe regression, R² of the pooled out-of-fold predictions.
- ``tags``: probe multilabel, macro ROC-AUC and average precision of the pooled out-of-fold
  scores. No retrieval.

Probes: ``folds``-fold cross-validation over every labelled item (default 5; stratified by
the property where each class has ``folds`` items; grouped by ``groups``): each item is
scored once, by the probe trained on the other folds (early-stopped on a seeded 15 % of
them). The folds depend only on the labels and ``fold_seed``, not on the embeddings, so every
condition, seed and baseline of a study is scored on the same folds. ``split="official"``
uses the labels' own train/valid/test split instead (one test split).

Every score that is a mean of per-item scores (accuracy, key score, Acc1, Acc2) comes with a
95 % interval over the items that stays inside [0, 1] (:mod:`.intervals`); R², ROC-AUC and
average precision are not per-item means and get none. ``return_items=True`` also returns
the per-item scores (what the study's intervals over seeds and tracks are computed from).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from ..embed.format import EmbeddingSet
from ..errors import UsageError
from ..files import write_json, write_text
from ..labels import LabelTable, encode, join
from ..neighbours import knn
from . import metrics
from .intervals import item_mean_interval
from .probe import fit_probe
from .retrieval import vote
from .splits import cv_folds

#: Columns of evaluation.csv (``task``: ``knn`` or ``probe_<kind>``; ``k``: the neighbourhood
#: size of ``knn``, empty for probes; empty ``ci_low``/``ci_high``: no interval defined).
CSV_COLUMNS = ("set", "property", "kind", "task", "k", "measure", "value", "ci_low", "ci_high", "n")
#: The per-item score of each probe measure, by property kind.
_ITEM_MEASURES = {"categorical": ("accuracy",), "key": ("accuracy", "key_score"), "tempo": ("acc1", "acc2")}


def evaluate_embeddings(
    emb: EmbeddingSet,
    labels: LabelTable,
    properties: list[str] | None = None,
    ks: list[int] | tuple[int, ...] = (1, 5, 10),
    probes: list[str] | tuple[str, ...] = ("linear", "mlp"),
    *,
    groups: str | None = None,
    seed: int = 0,
    folds: int = 5,
    fold_seed: int = 0,
    split: str = "cv",
    backend: str = "auto",
    probe_options: dict[str, Any] | None = None,
    return_items: bool = False,
) -> dict[str, Any] | tuple[dict[str, Any], dict[str, Any]]:
    """Retrieval and probe metrics of ``emb`` for each property of ``labels``.

    Args:
        seed: seed of the probes' initialisation and batch order.
        folds, fold_seed: the cross-validation folds (the same for any embeddings of the items).
        split: ``"cv"`` (default) or ``"official"`` (the labels' split; must cover every item).
        return_items: also return ``{"ids": [...], "scores": {(task, property, k, measure):
            (N,) per-item scores, NaN where not scored}}`` (``k`` is ``""`` for probes).
    Returns:
        ``{"name", "n_items", "join", "split", "kinds", "retrieval": {prop: {str(k): {accuracy,
        accuracy_ci, n_queries, [key_score, key_score_ci]}}}, "probes": {prop: {probe:
        {measure: value, measure_ci: [low, high], "n", "epochs"}}}, "skipped"}``.
    Raises:
        UsageError: unknown property, bad split, or no property that can be evaluated.
    """
    if split not in ("cv", "official"):
        raise UsageError(f"split must be 'cv' or 'official', got {split!r}")
    ks = sorted({int(k) for k in ks})
    rows, aligned, report = join(emb, labels)
    properties = [p for p in aligned.properties if p != groups] if properties is None else properties
    for p in properties:
        if p not in aligned.kinds:
            raise UsageError(f"labels have no property {p!r} (have: {', '.join(aligned.properties)})")
    if split == "official" and not (aligned.splits and all(i in aligned.splits for i in aligned.ids)):
        raise UsageError("split 'official': the labels have no split column covering every item")
    x = np.asarray(emb.vectors[rows], dtype=np.float32)
    g = None if groups is None else np.array([str(v) for v in aligned.values[groups]])
    n = len(rows)
    result: dict[str, Any] = {
        "name": emb.name,
        "n_items": int(n),
        "join": report.to_dict(),
        "split": (
            {"method": "official", **_official_counts(aligned)}
            if split == "official"
            else {"method": f"{folds}-fold cross-validation", "folds": int(folds), "fold_seed": int(fold_seed)}
        ),
        "kinds": {p: aligned.kinds[p] for p in properties},
        "retrieval": {},
        "probes": {},
        "skipped": {},
    }
    items: dict[tuple[str, str, str, str], np.ndarray] = {}
    for p in properties:
        kind = aligned.kinds[p]
        sel = np.nonzero(aligned.known(p))[0]
        vals = aligned.values[p][sel]
        if kind in ("categorical", "key") and len(sel) > ks[-1]:
            res = knn(x[sel], ks[-1], groups=None if g is None else g[sel], backend=backend, seed=seed)
            codes, vocab = encode(vals)
            out = {}
            for k in ks:
                voted = vote(codes[res.indices], k)
                per = {"accuracy": (voted == codes).astype(np.float64)}
                if kind == "key":
                    per["key_score"] = metrics.key_scores(vals, np.asarray(vocab, dtype=object)[voted])
                out[str(k)] = {"n_queries": int(len(sel))}
                for m, v in per.items():
                    mean, lo, hi = item_mean_interval(v)
                    out[str(k)][m] = mean
                    out[str(k)][f"{m}_ci"] = [lo, hi]
                    items[("knn", p, str(k), m)] = _scatter(n, sel, v)
            result["retrieval"][p] = out
        if not probes:
            continue
        if kind not in ("categorical", "key", "tempo", "continuous", "tags"):
            result["skipped"][p] = f"kind {kind!r} has no probe"
            continue
        try:
            if split == "official":
                part = np.array([aligned.splits[aligned.ids[i]] for i in sel])
                part = np.where(np.isin(part, ["valid", "validation", "val"]), "valid", part)
                fold = np.where(part == "test", 0, -1)
                inner = np.where(part == "valid", 0, -1)
            else:
                strat = np.array([str(v) for v in vals]) if kind in ("categorical", "key") else None
                fold = cv_folds(len(sel), folds, fold_seed, stratify=strat, groups=None if g is None else g[sel])
                inner = None
            result["probes"][p] = {}
            for probe in probes:
                scores, summary = _probe(kind, x[sel], vals, fold, inner, probe, seed, fold_seed, probe_options or {})
                result["probes"][p][probe] = summary
                for m, v in scores.items():
                    items[(f"probe_{probe}", p, "", m)] = _scatter(n, sel, v)
        except _Skip as e:
            result["probes"].pop(p, None)
            result["skipped"][p] = str(e)
    if not result["retrieval"] and not result["probes"]:
        why = "; ".join(
            f"{p}: {r}" for p, r in result["skipped"].items()
        ) or "retrieval needs categorical or key properties with more items than k" + (
            "" if probes else ", and no probe was asked for"
        )
        raise UsageError(f"the labels have no property that can be evaluated ({why})")
    if return_items:
        return result, {"ids": list(aligned.ids), "scores": items}
    return result


class _Skip(Exception):
    pass


def _official_counts(aligned: LabelTable) -> dict[str, int]:
    s = np.array([aligned.splits[i] for i in aligned.ids])
    s = np.where(np.isin(s, ["valid", "validation", "val"]), "valid", s)
    return {name: int((s == name).sum()) for name in ("train", "valid", "test")}


def _scatter(n: int, sel: np.ndarray, values: np.ndarray) -> np.ndarray:
    out = np.full(n, np.nan)
    out[sel] = values
    return out


def _inner_valid(train_idx: np.ndarray, strat: np.ndarray | None, seed: int) -> np.ndarray:
    """A seeded 15 % of the training items for early stopping (stratified where possible)."""
    from sklearn.model_selection import train_test_split

    n_valid = max(1, round(0.15 * len(train_idx)))
    try:
        _, valid = train_test_split(
            train_idx, test_size=n_valid, random_state=seed, stratify=None if strat is None else strat[train_idx]
        )
    except ValueError:  # a class too small to stratify
        _, valid = train_test_split(train_idx, test_size=n_valid, random_state=seed)
    return np.asarray(valid)


def _probe(
    kind: str,
    x: np.ndarray,
    vals: np.ndarray,
    fold: np.ndarray,
    inner: np.ndarray | None,
    probe: str,
    seed: int,
    fold_seed: int,
    opts: dict[str, Any],
) -> tuple[dict[str, np.ndarray], dict[str, Any]]:
    """Per-item out-of-fold scores and the summary of one probe on one property."""
    n = len(vals)
    strat = np.array([str(v) for v in vals]) if kind in ("categorical", "key") else None
    if kind in ("categorical", "key"):
        codes, vocab = encode(vals)
        target: Any = codes
        pred: Any = np.full(n, -1, dtype=np.int64)
    elif kind in ("tempo", "continuous"):
        y = vals.astype(np.float64)
        target = np.log2(y) if kind == "tempo" else y
        pred = np.full(n, np.nan)
    else:  # tags
        vocab = sorted({t for v in vals for t in v})
        if not vocab:
            raise _Skip("no tags")
        index = {t: i for i, t in enumerate(vocab)}
        target = np.zeros((n, len(vocab)), dtype=np.float32)
        for i, v in enumerate(vals):
            for t in v:
                target[i, index[t]] = 1.0
        pred = np.full((n, len(vocab)), np.nan)
    epochs = []
    for f in range(int(fold.max()) + 1):
        test = np.nonzero(fold == f)[0]
        if inner is not None:  # official split
            train, valid = np.nonzero((fold != f) & (inner != 0))[0], np.nonzero(inner == 0)[0]
        else:
            rest = np.nonzero(fold != f)[0]
            valid = _inner_valid(rest, strat, fold_seed + 1000 * (f + 1))
            train = np.setdiff1d(rest, valid)
        if min(len(train), len(valid), len(test)) == 0:
            raise _Skip("an empty train, validation or test part")
        task = {"categorical": "multiclass", "key": "multiclass", "tags": "multilabel"}.get(kind, "regression")
        extra = {"n_outputs": len(vocab)} if task == "multiclass" else {}
        pr = fit_probe(
            x[train], target[train], x[valid], target[valid], task=task, kind=probe, seed=seed, **extra, **opts
        )
        pred[test] = pr.predict(x[test])
        epochs.append(int(pr.epochs))
    scored = np.nonzero(fold >= 0)[0]
    scores: dict[str, np.ndarray] = {}
    summary: dict[str, Any] = {}
    if kind in ("categorical", "key"):
        s_acc = np.full(n, np.nan)
        s_acc[scored] = (pred[scored] == codes[scored]).astype(np.float64)
        scores["accuracy"] = s_acc
        if kind == "key":
            s_key = np.full(n, np.nan)
            s_key[scored] = metrics.key_scores(vals[scored], np.asarray(vocab, dtype=object)[pred[scored]])
            scores["key_score"] = s_key
    elif kind == "tempo":
        t = vals.astype(np.float64)
        for m, octave in (("acc1", False), ("acc2", True)):
            s = np.full(n, np.nan)
            s[scored] = metrics.tempo_agree_items(t[scored], 2.0 ** pred[scored], octave)
            scores[m] = s
    elif kind == "continuous":
        summary["r2"] = metrics.r2(target[scored], pred[scored])
    else:
        summary.update(metrics.tag_scores(target[scored], pred[scored]))
    for m, s in scores.items():
        mean, lo, hi = item_mean_interval(s)
        summary[m] = mean
        summary[f"{m}_ci"] = [lo, hi]
    summary["n"] = int(len(scored))
    summary["epochs"] = epochs
    return scores, summary


def evaluation_rows(result: dict[str, Any], kinds: dict[str, str] | None = None) -> list[dict[str, Any]]:
    """Tidy rows of evaluation.csv (dicts keyed by :data:`CSV_COLUMNS`)."""
    kinds = kinds or result.get("kinds", {})
    rows = []
    for p, byk in result["retrieval"].items():
        for k, r in byk.items():
            for m in ("accuracy", "key_score"):
                if m in r:
                    rows.append(
                        {
                            "set": result["name"],
                            "property": p,
                            "kind": kinds.get(p),
                            "task": "knn",
                            "k": int(k),
                            "measure": m,
                            "value": r[m],
                            "ci_low": r[f"{m}_ci"][0],
                            "ci_high": r[f"{m}_ci"][1],
                            "n": r["n_queries"],
                        }
                    )
    for p, byprobe in result["probes"].items():
        for probe, r in byprobe.items():
            for m, v in r.items():
                if m in ("n", "epochs", "n_tags", "n_tags_skipped") or m.endswith("_ci"):
                    continue
                ci = r.get(f"{m}_ci", [None, None])
                rows.append(
                    {
                        "set": result["name"],
                        "property": p,
                        "kind": kinds.get(p),
                        "task": f"probe_{probe}",
                        "k": None,
                        "measure": m,
                        "value": v,
                        "ci_low": ci[0],
                        "ci_high": ci[1],
                        "n": r["n"],
                    }
                )
    return rows


def evaluation_markdown(result: dict[str, Any]) -> str:
    """Markdown tables of a result of :func:`evaluate_embeddings`."""
    sp = result["split"]
    how = (
        f"{sp['folds']}-fold cross-validation (fold seed {sp['fold_seed']})"
        if sp["method"] != "official"
        else f"official split ({sp['train']} / {sp['valid']} / {sp['test']})"
    )
    lines = [
        f"# Evaluation of {result['name']}",
        "",
        f"{result['n_items']} items; probes: {how}. "
        "Intervals: 95 % over items, inside [0, 1] (Clopper-Pearson at the effective sample size).",
        "",
    ]
    if result["retrieval"]:
        lines += [
            "## Leave-one-out k-NN retrieval",
            "",
            "| property | k | accuracy [95 % CI] | key score [95 % CI] |",
            "|---|---|---|---|",
        ]
        for p, byk in result["retrieval"].items():
            for k, r in byk.items():
                ks = _ci(r, "key_score") if "key_score" in r else "-"
                lines.append(f"| {p} | {k} | {_ci(r, 'accuracy')} | {ks} |")
        lines.append("")
    if result["probes"]:
        lines += ["## Probes (out-of-fold)", "", "| property | probe | metric | value [95 % CI] |", "|---|---|---|---|"]
        for p, byprobe in result["probes"].items():
            for probe, m in byprobe.items():
                for name in m:
                    if name in ("epochs", "n", "n_tags", "n_tags_skipped") or name.endswith("_ci"):
                        continue
                    lines.append(f"| {p} | {probe} | {name} | {_ci(m, name)} |")
        lines.append("")
    if result["skipped"]:
        lines += ["Not probed: " + ", ".join(f"{p} ({r})" for p, r in result["skipped"].items()), ""]
    return "\n".join(lines)


def _ci(r: dict[str, Any], m: str) -> str:
    v = r[m]
    ci = r.get(f"{m}_ci")
    if ci is None or ci[0] is None or not np.isfinite(ci[0]):
        return f"{v:.3f}"
    return f"{v:.3f} [{ci[0]:.3f}, {ci[1]:.3f}]"


def write_evaluation(
    out: str | Path, result: dict[str, Any], config: dict[str, Any] | None = None, kinds: dict[str, str] | None = None
) -> Path:
    """Write ``evaluation.json``, ``evaluation.csv``, ``evaluation.md`` and ``config.json`` into ``out``."""
    from ..locality.report import tidy_csv

    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    write_json(out / "evaluation.json", result)
    write_text(out / "evaluation.csv", tidy_csv(evaluation_rows(result, kinds), CSV_COLUMNS))
    write_text(out / "evaluation.md", evaluation_markdown(result))
    write_json(out / "config.json", config or {})
    return out

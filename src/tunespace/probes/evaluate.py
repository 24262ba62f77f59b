"""Evaluation of a set of embeddings on labelled properties: leave-one-out k-NN retrieval and
probes (linear, MLP), written as ``evaluation.json`` + ``evaluation.md`` + ``config.json``.

Per property kind:

- ``categorical``: retrieval accuracy; probe accuracy (multiclass).
- ``key``: retrieval accuracy and mean weighted score of the voted key; probe accuracy and
  mean mir_eval weighted score (multiclass over the keys present).
- ``tempo``: probe as *regression on log2 tempo* (a continuous target keeps nearby tempi
  close and needs no bins with few examples); Acc1 and Acc2 of 2 ** prediction. No retrieval.
- ``continuous``: probe regression, R².
- ``tags``: probe multilabel, macro ROC-AUC and average precision (tags of the training
  vocabulary). No retrieval.

Split: the labels' official split when it covers every joined item, else a seeded 70/15/15
split by track (grouped by ``groups`` when given; stratified by the first categorical
property when each class has at least 3 tracks). Items with an unknown label are left out of
that property's retrieval and probes.
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
from .probe import fit_probe
from .retrieval import retrieval_accuracy, vote
from .splits import split_items


def evaluate_embeddings(
    emb: EmbeddingSet,
    labels: LabelTable,
    properties: list[str] | None = None,
    ks: list[int] | tuple[int, ...] = (1, 5, 10),
    probes: list[str] | tuple[str, ...] = ("linear", "mlp"),
    *,
    groups: str | None = None,
    seed: int = 0,
    backend: str = "auto",
    probe_options: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """Retrieval and probe metrics of ``emb`` for each property of ``labels``.

    Returns:
        ``{"name", "n_items", "join", "split", "retrieval": {prop: {str(k): {...}}},
        "probes": {prop: {probe: {metric: value, "epochs"}}}, "skipped"}``.
    """
    ks = sorted({int(k) for k in ks})
    rows, aligned, report = join(emb, labels)
    properties = [p for p in aligned.properties if p != groups] if properties is None else properties
    for p in properties:
        if p not in aligned.kinds:
            raise UsageError(f"labels have no property {p!r} (have: {', '.join(aligned.properties)})")
    x = np.asarray(emb.vectors[rows], dtype=np.float32)
    g = None if groups is None else np.array([str(v) for v in aligned.values[groups]])
    split, source = _split(aligned, properties, g, seed)
    result: dict[str, Any] = {
        "name": emb.name, "n_items": int(len(rows)), "join": report.to_dict(),
        "split": {"source": source, **{s: int((split == s).sum()) for s in ("train", "valid", "test")}},
        "retrieval": {}, "probes": {}, "skipped": {},
    }
    for p in properties:
        kind = aligned.kinds[p]
        sel = np.nonzero(aligned.known(p))[0]
        vals = aligned.values[p][sel]
        if kind in ("categorical", "key") and len(sel) > ks[-1]:
            res = knn(x[sel], ks[-1], groups=None if g is None else g[sel], backend=backend, seed=seed)
            codes, vocab = encode(vals)
            acc = retrieval_accuracy(codes, res.indices, ks)
            out = {str(k): {"accuracy": acc[k], "n_queries": int(len(sel))} for k in ks}
            if kind == "key":
                for k in ks:
                    pred = np.asarray(vocab, dtype=object)[vote(codes[res.indices], k)]
                    out[str(k)]["key_score"] = metrics.key_score(vals, pred)
            result["retrieval"][p] = out
        if not probes:
            continue
        try:
            result["probes"][p] = {
                kind_: _probe(kind, x[sel], vals, split[sel], kind_, seed, probe_options or {}) for kind_ in probes
            }
        except _Skip as e:
            result["skipped"][p] = str(e)
    return result


class _Skip(Exception):
    pass


def _split(aligned: LabelTable, properties: list[str], g: np.ndarray | None, seed: int) -> tuple[np.ndarray, str]:
    if aligned.splits and all(i in aligned.splits for i in aligned.ids):
        s = np.array([aligned.splits[i] for i in aligned.ids])
        s = np.where(np.isin(s, ["valid", "validation", "val"]), "valid", s)
        return s, "official"
    strat = None
    for p in properties:
        if aligned.kinds[p] == "categorical" and aligned.known(p).all():
            strat = np.array([str(v) for v in aligned.values[p]])
            break
    return split_items(len(aligned), seed, stratify=strat, groups=g), "random 70/15/15 by track"


def _probe(kind: str, x: np.ndarray, vals: np.ndarray, split: np.ndarray, probe: str, seed: int,
           opts: dict[str, Any]) -> dict[str, Any]:
    tr, va, te = (split == "train"), (split == "valid"), (split == "test")
    if min(tr.sum(), va.sum(), te.sum()) == 0:
        raise _Skip("empty train, validation or test split")
    if kind in ("categorical", "key"):
        codes, vocab = encode(vals)
        pr = fit_probe(x[tr], codes[tr], x[va], codes[va], task="multiclass", kind=probe,
                       n_outputs=len(vocab), seed=seed, **opts)
        pred = pr.predict(x[te])
        out: dict[str, Any] = {"accuracy": metrics.accuracy(codes[te], pred)}
        if kind == "key":
            out["key_score"] = metrics.key_score(vals[te], np.asarray(vocab, dtype=object)[pred])
    elif kind == "tempo":
        t = vals.astype(np.float64)
        pr = fit_probe(x[tr], np.log2(t[tr]), x[va], np.log2(t[va]), task="regression", kind=probe, seed=seed, **opts)
        est = 2.0 ** pr.predict(x[te])
        out = {"acc1": metrics.tempo_accuracy(t[te], est), "acc2": metrics.tempo_accuracy(t[te], est, octave=True)}
    elif kind == "continuous":
        y = vals.astype(np.float64)
        pr = fit_probe(x[tr], y[tr], x[va], y[va], task="regression", kind=probe, seed=seed, **opts)
        out = {"r2": metrics.r2(y[te], pr.predict(x[te]))}
    elif kind == "tags":
        vocab = sorted({t for v, s in zip(vals, split) if s == "train" for t in v})
        if not vocab:
            raise _Skip("no tags in the training split")
        index = {t: n for n, t in enumerate(vocab)}
        y = np.zeros((len(vals), len(vocab)), dtype=np.float32)
        for n, v in enumerate(vals):
            for t in v:
                if t in index:
                    y[n, index[t]] = 1.0
        pr = fit_probe(x[tr], y[tr], x[va], y[va], task="multilabel", kind=probe, seed=seed, **opts)
        out = metrics.tag_scores(y[te], pr.predict(x[te]))
    else:
        raise _Skip(f"kind {kind!r} has no probe")
    out["epochs"] = pr.epochs
    out["n_test"] = int(te.sum())
    return out


def evaluation_markdown(result: dict[str, Any]) -> str:
    """Markdown tables of a result of :func:`evaluate_embeddings`."""
    lines = [f"# Evaluation of {result['name']}", "",
             f"{result['n_items']} items; split: {result['split']['source']} "
             f"({result['split']['train']} / {result['split']['valid']} / {result['split']['test']})", ""]
    if result["retrieval"]:
        lines += ["## Leave-one-out k-NN retrieval", "", "| property | k | accuracy | key score |", "|---|---|---|---|"]
        for p, byk in result["retrieval"].items():
            for k, r in byk.items():
                ks = f"{r['key_score']:.3f}" if "key_score" in r else "-"
                lines.append(f"| {p} | {k} | {r['accuracy']:.3f} | {ks} |")
        lines.append("")
    if result["probes"]:
        lines += ["## Probes (test split)", "", "| property | probe | metric | value |", "|---|---|---|---|"]
        for p, byprobe in result["probes"].items():
            for probe, m in byprobe.items():
                for name, v in m.items():
                    if name in ("epochs", "n_test", "n_tags", "n_tags_skipped"):
                        continue
                    lines.append(f"| {p} | {probe} | {name} | {v:.3f} |")
        lines.append("")
    if result["skipped"]:
        lines += ["Not probed: " + ", ".join(f"{p} ({r})" for p, r in result["skipped"].items()), ""]
    return "\n".join(lines)


def write_evaluation(out: str | Path, result: dict[str, Any], config: dict[str, Any] | None = None) -> Path:
    """Write ``evaluation.json``, ``evaluation.md`` and ``config.json`` into ``out``."""
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    write_json(out / "evaluation.json", result)
    write_text(out / "evaluation.md", evaluation_markdown(result))
    write_json(out / "config.json", config or {})
    return out


"""The study's analysis of one set of embeddings: locality profile, k-NN retrieval, probes,
flattened into result rows ``{property, metric, k, value}``; and the reference embeddings.

Metrics in rows:

- ``locality`` / ``agreement`` / ``chance`` at each k, for each measure of each property
  (``key``, ``key_graded``, ``tempo_bpm`` (Acc1 tolerance), ``tempo_bpm_acc2``, categorical).
- ``knn_accuracy`` at ``knn_k`` for categorical properties and key (leave-one-out vote).
- ``probe_linear`` / ``probe_mlp``: the property's standard score: accuracy (categorical),
  mir_eval weighted score (key), Acc1 (tempo), R² (continuous), macro ROC-AUC (tags).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from ..embed.format import read_embeddings, write_embeddings
from ..files import write_json

_PROBE_MAIN = {"categorical": "accuracy", "key": "key_score", "tempo": "acc1", "continuous": "r2", "tags": "roc_auc"}


def analyse(emb_dir: str | Path, data: str | Path, acfg: dict[str, Any], *, seed: int = 0,
            out: str | Path | None = None) -> list[dict[str, Any]]:
    """Rows of every metric for the embeddings in ``emb_dir`` against the labels of ``data``."""
    from ..labels import load_labels
    from ..locality import locality_profile
    from ..probes.evaluate import evaluate_embeddings

    emb = read_embeddings(emb_dir)
    labels = load_labels(data, properties=acfg.get("properties"))
    ks = list(acfg["ks"])
    prof = locality_profile(emb, labels, ks, acfg.get("properties"), bootstrap=int(acfg.get("bootstrap", 0)), seed=seed)
    knn_k = int(acfg.get("knn_k", 10))
    ev = evaluate_embeddings(emb, labels, acfg.get("properties"), ks=[knn_k], probes=list(acfg.get("probes", [])), seed=seed)
    if out is not None:
        write_json(Path(out) / "locality.json", prof)
        write_json(Path(out) / "evaluation.json", ev)
    rows: list[dict[str, Any]] = []
    for measure, by_k in prof["properties"].items():
        for k, f in by_k.items():
            for metric in ("locality", "agreement", "chance"):
                if f.get(metric) is not None:
                    rows.append({"property": measure, "metric": metric, "k": int(k), "value": float(f[metric])})
    for prop, by_k in ev["retrieval"].items():
        for k, f in by_k.items():
            rows.append({"property": prop, "metric": "knn_accuracy", "k": int(k), "value": float(f["accuracy"])})
    kinds = labels.kinds
    for prop, by_probe in ev["probes"].items():
        main = _PROBE_MAIN.get(kinds.get(prop, ""), "accuracy")
        for probe, f in by_probe.items():
            if main in f and f[main] is not None:
                rows.append({"property": prop, "metric": f"probe_{probe}", "k": "", "value": float(f[main])})
    return rows


def baseline_embeddings(kind: str, data: str | Path, out: str | Path, *, seed: int = 0,
                        embed_cfg: dict[str, Any] | None = None) -> None:
    """Write the reference embeddings of ``kind`` for ``data`` into the EMB folder ``out``."""
    from ..baselines import compute_baseline

    write_embeddings(out, compute_baseline(kind, data, seed=seed, workers=1 if kind == "random" else 2))

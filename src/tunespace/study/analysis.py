"""The study's analysis of one set of embeddings: locality profile, k-NN retrieval, probes,
flattened into result rows ``{property, metric, k, value}`` and kept per item in
``items.npz`` (what the study's intervals over seeds and tracks are computed from); the noise
floor of an evaluation set; and the reference embeddings.

Metrics in rows:

- ``locality`` / ``agreement`` / ``chance`` at each k, for each measure of each property
  (``key``, ``key_graded``, ``tempo_bpm`` (Acc1 tolerance), ``tempo_bpm_acc2``, categorical).
- ``knn_accuracy`` at ``knn_k`` for categorical properties and key (leave-one-out vote).
- ``probe_linear`` / ``probe_mlp``: the property's standard score, out-of-fold over
  ``analysis.folds`` folds: accuracy (categorical), mir_eval weighted score (key), Acc1
  (tempo), R² (continuous), macro ROC-AUC (tags).

``items.npz`` (arrays over the embedded items, NaN where not scored): ``ids``; ``ks``;
``loc__<measure>__agreement`` (N, len(ks)) and ``loc__<measure>__chance`` (N,);
``score__<task>__<property>__<k>__<measure>`` (N,) for ``knn`` (k = knn_k) and
``probe_<kind>`` (k empty); ``kind__<property>``.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from ..embed.format import read_embeddings, write_embeddings
from ..files import atomic_path, read_json, write_json

if TYPE_CHECKING:
    from ..labels import LabelTable

PROBE_MAIN = {"categorical": "accuracy", "key": "key_score", "tempo": "acc1", "continuous": "r2", "tags": "roc_auc"}


def _labels(data: str | Path, acfg: dict[str, Any]) -> LabelTable:
    """The labels of ``data`` that ``acfg`` analyses: its ``properties`` (every one when None)
    and its ``groups`` column."""
    from ..labels import load_labels

    props, groups = acfg.get("properties"), acfg.get("groups")
    if props is not None and groups is not None and groups not in props:
        props = [*props, groups]
    return load_labels(data, properties=props)


def analyse(
    emb_dir: str | Path, data: str | Path, acfg: dict[str, Any], *, seed: int = 0, out: str | Path | None = None
) -> list[dict[str, Any]]:
    """Rows of every metric for the embeddings in ``emb_dir`` against the labels of ``data``;
    with ``out``, also ``locality.json``, ``evaluation.json`` and ``items.npz`` there."""
    from ..locality.profile import locality_terms, summarise
    from ..probes.evaluate import evaluate_embeddings

    emb = read_embeddings(emb_dir)
    labels = _labels(data, acfg)
    groups = acfg.get("groups")
    ks = sorted(int(k) for k in acfg["ks"])
    terms = locality_terms(emb, labels, ks, acfg.get("properties"), seed=seed, groups=groups)
    n_boot = int(acfg.get("bootstrap", 0))
    prof = {
        m: summarise(t["agreement"], t["chance"], ks, n_boot, np.random.default_rng([seed, i]))
        for i, (m, t) in enumerate(terms["terms"].items())
    }
    knn_k = int(acfg.get("knn_k", 10))
    ev, items = evaluate_embeddings(
        emb,
        labels,
        acfg.get("properties"),
        ks=[knn_k],
        probes=list(acfg.get("probes", [])),
        seed=seed,
        folds=int(acfg.get("folds", 5)),
        fold_seed=int(acfg.get("fold_seed", 0)),
        groups=groups,
        return_items=True,
    )
    if out is not None:
        out = Path(out)
        write_json(out / "locality.json", {"ks": ks, "properties": prof})
        write_json(out / "evaluation.json", ev)
        arrays: dict[str, np.ndarray] = {"ids": np.array(terms["ids"]), "ks": np.array(ks)}
        n = len(terms["ids"])
        for m, t in terms["terms"].items():
            agr = np.full((n, len(ks)), np.nan)
            agr[t["rows"]] = t["agreement"]
            ch = np.full(n, np.nan)
            ch[t["rows"]] = t["chance"]
            arrays[f"loc__{m}__agreement"], arrays[f"loc__{m}__chance"] = agr, ch
        pos = {i: r for r, i in enumerate(terms["ids"])}
        order = np.array([pos[i] for i in items["ids"]])
        for (task, prop, k, measure), v in items["scores"].items():
            full = np.full(n, np.nan)
            full[order] = v
            arrays[f"score__{task}__{prop}__{k}__{measure}"] = full
        for prop, kind in ev["kinds"].items():
            arrays[f"kind__{prop}"] = np.array(kind)
        with atomic_path(out / "items.npz") as tmp:
            with open(tmp, "wb") as f:
                np.savez_compressed(f, **arrays)
    rows: list[dict[str, Any]] = []
    for measure, by_k in prof.items():
        for k, f in by_k.items():
            for metric in ("locality", "agreement", "chance"):
                if f.get(metric) is not None:
                    rows.append({"property": measure, "metric": metric, "k": int(k), "value": float(f[metric])})
    for prop, by_k in ev["retrieval"].items():
        for k, f in by_k.items():
            rows.append({"property": prop, "metric": "knn_accuracy", "k": int(k), "value": float(f["accuracy"])})
    for prop, by_probe in ev["probes"].items():
        main = PROBE_MAIN.get(ev["kinds"].get(prop, ""), "accuracy")
        for probe, f in by_probe.items():
            if main in f and f[main] is not None:
                rows.append({"property": prop, "metric": f"probe_{probe}", "k": "", "value": float(f[main])})
    return rows


def read_items(path: str | Path) -> dict[str, Any]:
    """``items.npz`` of an analysis stage: ``{"ids", "ks", "locality": {measure: (agreement,
    chance)}, "scores": {(metric, property, k): (N,)}}`` with the study's metric names
    (``knn_accuracy``, ``probe_<kind>``) and each probe's main score (:data:`PROBE_MAIN`)."""
    with np.load(Path(path) / "items.npz", allow_pickle=False) as z:
        data = {name: z[name] for name in z.files}
    ks = [int(k) for k in data["ks"]]
    kinds = {name[len("kind__") :]: str(v) for name, v in data.items() if name.startswith("kind__")}
    loc = {}
    scores = {}
    for name, v in data.items():
        parts = name.split("__")
        if parts[0] == "loc" and parts[-1] == "agreement":
            m = "__".join(parts[1:-1])
            loc[m] = (v, data[f"loc__{m}__chance"])
        elif parts[0] == "score":
            task, prop, k, measure = parts[1], "__".join(parts[2:-2]), parts[-2], parts[-1]
            main = "accuracy" if task == "knn" else PROBE_MAIN.get(kinds.get(prop, ""), "accuracy")
            if measure == main:
                scores[("knn_accuracy" if task == "knn" else task, prop, k)] = v
    return {"ids": [str(i) for i in data["ids"]], "ks": ks, "locality": loc, "scores": scores}


def noise_floor(data: str | Path, acfg: dict[str, Any], out: str | Path | None = None) -> dict[str, dict[str, float]]:
    """SD (and mean) of L@k for random embeddings of the evaluation set ``data``:
    ``{measure: {str(k): [mean, sd]}}`` (``analysis.null_replicates`` sets, seeded by
    ``analysis.null_seed``)."""
    from ..locality.profile import null_locality

    labels = _labels(data, acfg)
    null = null_locality(
        labels,
        acfg["ks"],
        acfg.get("properties"),
        groups=acfg.get("groups"),
        replicates=int(acfg.get("null_replicates", 200)),
        seed=int(acfg.get("null_seed", 0)),
    )
    res = {m: {str(k): [mv, sd] for k, (mv, sd) in byk.items()} for m, byk in null.items()}
    if out is not None:
        write_json(Path(out) / "null.json", res)
    return res


def read_noise_floor(path: str | Path) -> dict[str, dict[str, list[float]]]:
    return read_json(Path(path) / "null.json")


def baseline_embeddings(
    kind: str, data: str | Path, out: str | Path, *, seed: int = 0, embed_cfg: dict[str, Any] | None = None
) -> None:
    """Write the reference embeddings of ``kind`` for ``data`` into the EMB folder ``out``
    (``embed_cfg``: the study's ``embed`` section, the random baseline's slicing)."""
    from ..baselines import compute_baseline

    workers = 1 if kind == "random" else 2
    write_embeddings(out, compute_baseline(kind, data, seed=seed, workers=workers, embed=embed_cfg))

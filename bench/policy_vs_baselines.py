"""Each trained policy against the best hand-crafted baseline, paired by track, on one evaluation set.

For a finished study (``tunespace study`` or ``tunespace pretrained build``'s ``DIR/study``), for
every policy and every property in ``--properties``: L@k and k-NN accuracy of the policy, of the
best baseline (the one with the highest value), and the paired difference policy - baseline with
its 95 % interval over seeds and tracks (:func:`tunespace.study.stats.two_source`, the study's own
estimator; with one seed the interval covers the evaluation tracks only). Locality differences
share the items' chance (same labels), so they are differences of L@k.

With ``--groups COLUMN`` (e.g. ``piece``) the study's embeddings are analysed again with that
label column as groups (``tunespace.study.analysis.analyse``; locality and k-NN only, into a
temporary folder): neighbours of the query's group, e.g. the other renders of its composition,
are left out, as an evaluation set's ``groups`` does in a study.

With ``--baselines-from OTHER_STUDY`` the baselines are those of another study of the same
evaluation set (the same tracks, checked), e.g. a release's baselines at its 3 s slicing against a
design run that embeds with another slicing.

Run: .venv/bin/python bench/policy_vs_baselines.py --study DIR/study --dataset music21-heldout [--groups piece]
"""

from __future__ import annotations

import argparse
import json
import tempfile
from pathlib import Path

import numpy as np

from tunespace.files import read_json
from tunespace.study.analysis import analyse, read_items
from tunespace.study.runner import analysis_config, study_graph
from tunespace.study.stats import two_source


def _values(items: dict, prop: str, metric: str, k: int) -> tuple[np.ndarray, np.ndarray | None]:
    if metric == "locality":
        agree, chance = items["locality"][prop]
        return agree[:, items["ks"].index(k)], chance
    return items["scores"][("knn_accuracy", prop, str(k))], None


def stack_values(
    items: dict, cond: str, seeds: list[int], dataset: str, prop: str, metric: str, k: int
) -> tuple[np.ndarray, np.ndarray | None]:
    """(S, N) per-item values of ``cond`` over ``seeds``, and the items' chance (locality)."""
    vals = [_values(items[(cond, s, dataset)], prop, metric, k) for s in seeds]
    return np.stack([v for v, _ in vals]), vals[0][1]


def grouped_items(graph, cfg: dict, dataset: str, groups: str, tmp: Path) -> dict:
    """The items of every analysis of ``dataset``, analysed again with ``groups`` (locality and k-NN)."""
    data = next(path for spec, _, path in graph.evals if spec["name"] == dataset)
    spec = next(s for s in cfg["eval_data"] if s["name"] == dataset)
    acfg = {**analysis_config(cfg, spec), "groups": groups, "probes": [], "bootstrap": 0}
    items = {}
    for n, (key, emb) in enumerate(sorted((k, e) for k, e in graph.embeddings.items() if k[2] == dataset)):
        analyse(emb, data, acfg, seed=key[1], out=tmp / str(n))
        items[key] = read_items(tmp / str(n))
    return items


def study_items(study: Path, dataset: str, groups: str | None) -> tuple[dict, dict]:
    """The study's config and the items of every analysis of ``dataset`` (analysed again with
    ``groups`` when given)."""
    cfg = read_json(study / "config.json")
    graph = study_graph(cfg, study / "stages", reading=True)
    for code in graph.other_code():
        print(f"note: some stages of {study} were computed by other tunespace code ({code})")
    if groups is None:
        return cfg, {key: read_items(path) for key, path in graph.analyses.items() if key[2] == dataset}
    with tempfile.TemporaryDirectory() as tmp:
        return cfg, grouped_items(graph, cfg, dataset, groups, Path(tmp))


def compare(
    study: Path,
    dataset: str,
    properties: list[str],
    k: int,
    groups: str | None = None,
    baselines_from: Path | None = None,
) -> list[dict]:
    cfg, items = study_items(study, dataset, groups)
    seeds = cfg["seeds"]
    policies = [str(c) for c in cfg["conditions"]]
    source = cfg
    if baselines_from is not None:
        source, other = study_items(baselines_from, dataset, groups)
        ids = next(v["ids"] for key, v in items.items() if not key[0].startswith("baseline:"))
        for key, v in other.items():
            if key[0].startswith("baseline:"):
                if v["ids"] != ids:
                    raise SystemExit(f"{baselines_from}: its {dataset} holds other tracks than {study}'s")
                items[key] = v
    baselines = [f"baseline:{b}" for b in source.get("baselines", []) if b != "random"]
    rows = []
    for prop in properties:
        for metric in ("locality", "knn_accuracy"):
            base = {b: stack_values(items, b, [0], dataset, prop, metric, k) for b in baselines}
            base_scores = {b: float(two_source(v, chance=c).mean) for b, (v, c) in base.items()}
            best = max(base_scores, key=base_scores.get)
            bv = base[best][0]
            for p in policies:
                pv, c = stack_values(items, p, seeds, dataset, prop, metric, k)
                est = two_source(pv, chance=c)
                # the baseline is deterministic: pair it with every seed of the policy
                diff = two_source(pv, np.repeat(bv, len(seeds), axis=0), chance=c)
                rows.append(
                    {
                        "property": prop,
                        "metric": f"{metric}@{k}",
                        "policy": p,
                        "value": float(est.mean),
                        "best_baseline": best,
                        "baseline_value": base_scores[best],
                        "difference": float(diff.mean),
                        "ci_low": float(diff.low),
                        "ci_high": float(diff.high),
                    }
                )
    return rows


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--study", required=True, type=Path)
    ap.add_argument("--dataset", required=True)
    ap.add_argument("--properties", default="genre,mood,instrument")
    ap.add_argument("--k", type=int, default=10)
    ap.add_argument("--groups", help="a label column whose shared value leaves neighbours out (e.g. piece)")
    ap.add_argument("--baselines-from", type=Path, help="another study of the same set whose baselines to use")
    ap.add_argument("--json", type=Path)
    args = ap.parse_args()
    rows = compare(args.study, args.dataset, args.properties.split(","), args.k, args.groups, args.baselines_from)
    grouped = f", neighbours of the same {args.groups} left out" if args.groups else ""
    print(f"{args.dataset}: policy - best baseline, paired by track (95 % interval){grouped}\n")
    print("| property | metric | policy | value | best baseline (value) | difference [95 % CI] |")
    print("|---|---|---|---:|---|---|")
    for r in rows:
        print(
            f"| {r['property']} | {r['metric']} | {r['policy']} | {r['value']:.3f} | "
            f"{r['best_baseline'].removeprefix('baseline:')} ({r['baseline_value']:.3f}) | "
            f"{r['difference']:+.3f} [{r['ci_low']:+.3f}, {r['ci_high']:+.3f}] |"
        )
    if args.json:
        args.json.write_text(json.dumps(rows, indent=1))


if __name__ == "__main__":
    main()

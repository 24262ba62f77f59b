"""Where a property's k-NN votes go wrong: per-class accuracy of every embedding of a study on one set.

For a finished study (``tunespace study`` or ``tunespace pretrained build``'s ``DIR/study``): every
embedding of ``--dataset`` (each policy and seed, each baseline) is searched again with the study's
rule, :func:`tunespace.neighbours.knn` (cosine, ``--k`` neighbours, the query's ``--groups`` left out,
e.g. the other renders of its composition) and :func:`tunespace.probes.retrieval.vote` (majority,
ties to the nearest), and the votes are split by the query's true class of ``--property``: the
accuracy on each class, on ``--rest-of`` (all classes but the named one, e.g. the four dance
genres without ``chorale``), and the confusion matrix of each embedding with ``--matrices``.

Run: .venv/bin/python bench/genre_confusion.py --study DIR/study --dataset music21-release4
     [--property genre] [--k 10] [--groups piece] [--rest-of chorale] [--matrices]
"""

from __future__ import annotations

import argparse
from collections import Counter
from pathlib import Path

import numpy as np

from tunespace.embed import read_embeddings
from tunespace.files import read_json
from tunespace.labels import load_labels
from tunespace.neighbours import knn
from tunespace.probes.retrieval import vote
from tunespace.study.runner import study_graph


def votes(vectors: np.ndarray, codes: np.ndarray, k: int, groups: np.ndarray | None) -> np.ndarray:
    """``(N,)`` majority class code of each item's ``k`` nearest neighbours (its group left out)."""
    res = knn(vectors, k, groups=groups)
    return vote(codes[res.indices], k)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--study", required=True, type=Path)
    ap.add_argument("--dataset", required=True)
    ap.add_argument("--property", default="genre")
    ap.add_argument("--k", type=int, default=10)
    ap.add_argument("--groups", default="piece", help="label column whose members are left out of a query's neighbours")
    ap.add_argument("--rest-of", default="chorale", help="also report the accuracy over every class but this one")
    ap.add_argument("--matrices", action="store_true", help="print each embedding's confusion matrix")
    args = ap.parse_args()

    cfg = read_json(args.study / "config.json")
    graph = study_graph(cfg, args.study / "stages", reading=True)
    data = next(path for spec, _, path in graph.evals if spec["name"] == args.dataset)
    table = load_labels(data)
    pos = {i: n for n, i in enumerate(table.ids)}
    classes = sorted({str(v) for v in table.values[args.property]})
    print(f"{args.dataset}: k = {args.k}, {args.groups or 'no'} groups left out; {args.property} classes {classes}\n")
    print("| embedding | seed | all | " + " | ".join(classes) + f" | all but {args.rest_of} |")
    print("|---|---|---|" + "---|" * (len(classes) + 1))
    for (cond, seed, dataset), path in sorted(graph.embeddings.items()):
        if dataset != args.dataset:
            continue
        emb = read_embeddings(path)
        rows = [pos[i] for i in emb.ids]
        truth = np.array([classes.index(str(table.values[args.property][r])) for r in rows])
        groups = np.array([str(table.values[args.groups][r]) for r in rows]) if args.groups else None
        got = votes(np.asarray(emb.vectors), truth, args.k, groups)
        per = [float(np.mean(got[truth == c] == c)) for c in range(len(classes))]
        rest = truth != classes.index(args.rest_of) if args.rest_of in classes else np.ones_like(truth, bool)
        cells = " | ".join(f"{v:.2f}" for v in per)
        print(f"| {cond} | {seed} | {np.mean(got == truth):.3f} | {cells} | {np.mean(got[rest] == truth[rest]):.2f} |")
        if args.matrices:
            conf = Counter(zip(truth.tolist(), got.tolist()))
            for t, name in enumerate(classes):
                print(f"|   {name} -> | " + " ".join(f"{conf[(t, p)]:3d}" for p in range(len(classes))) + " |")


if __name__ == "__main__":
    main()

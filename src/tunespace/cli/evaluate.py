"""``tunespace evaluate``: k-NN retrieval accuracy and linear / MLP probes of embeddings."""

from __future__ import annotations

import argparse
from pathlib import Path

from ..errors import UsageError

NAME = "evaluate"
HELP = "evaluate embeddings: leave-one-out k-NN retrieval and linear / MLP probes per property"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--embeddings", required=True, metavar="EMB", help="EMB folder")
    parser.add_argument("--labels", required=True, help="labels CSV (e.g. tracks.csv) or dataset folder")
    parser.add_argument("--id-column", default="track_id")
    parser.add_argument("--properties", default=None, help="e.g. 'genre,key,tempo_bpm,arousal:continuous'")
    parser.add_argument("--k", default="1,5,10", help="retrieval neighbourhood sizes, comma-separated")
    parser.add_argument("--probes", default="linear,mlp", help="probes to train: linear, mlp, or none")
    parser.add_argument("--groups", default=None, metavar="COLUMN", help="label column of track ids")
    parser.add_argument("--folds", type=int, default=5, help="cross-validation folds of the probes")
    parser.add_argument("--fold-seed", type=int, default=0, help="seed of the folds (keep it to compare embeddings)")
    parser.add_argument(
        "--split",
        default="cv",
        choices=["cv", "official"],
        help="probes: k-fold cross-validation, or the labels' own split column",
    )
    parser.add_argument("--seed", type=int, default=0, help="seed of the probes' initialisation")
    parser.add_argument("--out", required=True, help="output folder")


def run(args: argparse.Namespace) -> int:
    from ..embed.format import read_embeddings
    from ..labels import JoinReport
    from ..probes import evaluate_embeddings, write_evaluation
    from .locality import parse_ks, property_labels, run_config

    ks = parse_ks(args.k)
    probes = [p.strip() for p in args.probes.split(",") if p.strip() and p.strip() != "none"]
    for p in probes:
        if p not in ("linear", "mlp"):
            raise UsageError(f"--probes: unknown probe {p!r}; expected linear, mlp or none")
    labels, names = property_labels(args)
    emb = read_embeddings(args.embeddings)
    if args.folds < 2:
        raise UsageError(f"--folds must be at least 2, got {args.folds}")
    result = evaluate_embeddings(
        emb,
        labels,
        names,
        ks,
        probes,
        groups=args.groups,
        seed=args.seed,
        folds=args.folds,
        fold_seed=args.fold_seed,
        split=args.split,
    )
    print(f"{emb.name}: {JoinReport(**result['join']).summary()}")
    write_evaluation(args.out, result, run_config(args, k=ks, probes=probes))
    print(f"wrote {Path(args.out) / 'evaluation.json'} and {Path(args.out) / 'evaluation.csv'}")
    return 0

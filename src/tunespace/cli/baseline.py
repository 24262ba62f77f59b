"""``tunespace baseline``: reference embeddings (chroma, MFCC, tempogram, random encoder) or imported ones."""

from __future__ import annotations

import argparse

from ..errors import UsageError

NAME = "baseline"
HELP = "compute reference embeddings (chroma/mfcc/tempogram) or import external embeddings as an EMB folder"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--kind", choices=["chroma", "mfcc", "tempogram", "random"], help="baseline to compute")
    parser.add_argument("--data", help="dataset folder (with --kind)")
    parser.add_argument(
        "--import", dest="import_file", metavar="FILE", help="external embeddings: .npy (needs --ids), .npz or .csv"
    )
    parser.add_argument("--ids", help="ids file for --import: one id a line, in row order")
    parser.add_argument("--workers", type=int, default=2, help="processes for --kind")
    parser.add_argument("--seed", type=int, default=0, help="initialisation seed of --kind random")
    parser.add_argument("--out", required=True, metavar="EMB", help="output EMB folder")


def run(args: argparse.Namespace) -> int:
    from ..baselines import compute_baseline, import_embeddings
    from ..embed.format import write_embeddings
    from ..lock import FolderLock

    if (args.kind is None) == (args.import_file is None):
        raise UsageError("give exactly one of --kind (with --data) or --import FILE")
    if args.kind is not None and args.data is None:
        raise UsageError("--kind needs --data DIR")
    if not 0 <= args.workers <= 64:
        raise UsageError(f"--workers must be an integer in [0, 64], got {args.workers}")
    if args.seed < 0:
        raise UsageError(f"--seed must be an integer >= 0, got {args.seed}")
    with FolderLock(args.out, "tunespace baseline"):  # one writer per EMB folder
        if args.kind is not None:
            emb = compute_baseline(args.kind, args.data, workers=args.workers, seed=args.seed)
        else:
            emb = import_embeddings(args.import_file, args.ids)
        write_embeddings(args.out, emb)
    print(
        f"wrote {len(emb.ids)} embeddings of dimension {emb.dim} to {args.out}"
        + (f"; {len(emb.errors)} items skipped (see errors.csv)" if emb.errors else "")
    )
    return 0

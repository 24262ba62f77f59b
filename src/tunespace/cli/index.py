"""``tunespace index build``: a FAISS index of an EMB folder, for neighbour queries (see :mod:`tunespace.index`)."""

from __future__ import annotations

import argparse

NAME = "index"
HELP = "build a nearest-neighbour index (FAISS) of an EMB folder, saved with its ids and model"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    sub = parser.add_subparsers(dest="action", metavar="ACTION")
    sub.required = True
    b = sub.add_parser("build", help="index the embeddings of an EMB folder")
    b.add_argument("--embeddings", required=True, metavar="EMB", help="EMB folder (tunespace embed / baseline)")
    b.add_argument("--out", required=True, metavar="INDEX", help="index folder to write")
    b.add_argument(
        "--method",
        default="exact",
        choices=["exact", "ivf", "hnsw", "ivfpq"],
        help="exact (default); ivf or hnsw (approximate, for millions of items); "
        "ivfpq (compressed codes, for catalogues larger than memory)",
    )
    b.add_argument("--nlist", type=int, default=None, help="ivf: cells (default 2*sqrt(N))")
    b.add_argument("--nprobe", type=int, default=16, help="ivf: cells probed per query (16)")
    b.add_argument("--hnsw-m", type=int, default=32, help="hnsw: graph degree (32)")
    b.add_argument("--ef-search", type=int, default=128, help="hnsw: search beam width (128)")
    b.add_argument("--pq-bytes", type=int, default=32, help="ivfpq: code size in bytes per vector; must divide D (32)")
    b.add_argument("--seed", type=int, default=0, help="ivf/ivfpq: k-means sample seed (0)")


def run(args: argparse.Namespace) -> int:
    from ..errors import UsageError
    from ..index import build_index

    for name in ("nlist", "nprobe", "hnsw_m", "ef_search", "pq_bytes"):
        v = getattr(args, name)
        if v is not None and v < 1:
            raise UsageError(f"--{name.replace('_', '-')} must be >= 1, got {v}")
    index = build_index(
        args.embeddings,
        args.out,
        args.method,
        nlist=args.nlist,
        nprobe=args.nprobe,
        hnsw_m=args.hnsw_m,
        ef_search=args.ef_search,
        pq_bytes=args.pq_bytes,
        seed=args.seed,
    )
    model = index.model_path or "none (queries by --audio need --model)"
    print(f"indexed {len(index)} items ({index.dim}-d, {index.method}) into {args.out}; model: {model}")
    return 0

"""``tunespace index build``: a FAISS index of an EMB folder, for neighbour queries (see :mod:`tunespace.index`)."""

from __future__ import annotations

import argparse

NAME = "index"
HELP = "build a nearest-neighbour index (FAISS) of an EMB folder, saved with its ids and model"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    from ..neighbours import CHUNK_ROWS, PQ_BYTES, PQ_NBITS

    sub = parser.add_subparsers(dest="action", metavar="ACTION")
    sub.required = True
    b = sub.add_parser(
        "build",
        help="index the embeddings of an EMB folder",
        description="Index an EMB folder. The matrix is memory-mapped: IVF methods are trained on a seeded "
        "sample and filled --chunk-rows rows at a time, so a folder larger than RAM can be indexed "
        "(ivfpq keeps pq-bytes x pq-nbits / 8 bytes per vector, plus 8 for its id).",
    )
    b.add_argument("--embeddings", required=True, metavar="EMB", help="EMB folder (tunespace embed / baseline)")
    b.add_argument("--out", required=True, metavar="INDEX", help="index folder to write")
    b.add_argument(
        "--method",
        default="exact",
        choices=["exact", "ivf", "hnsw", "ivfpq"],
        help="exact (default); ivf or hnsw (approximate, for millions of items); "
        "ivfpq (compressed codes, for catalogues larger than memory)",
    )
    b.add_argument("--nlist", type=int, default=None, help="ivf/ivfpq: cells (default 2*sqrt(N), at most N/39)")
    b.add_argument("--nprobe", type=int, default=16, help="ivf/ivfpq: cells probed per query (16)")
    b.add_argument("--hnsw-m", type=int, default=32, help="hnsw: graph degree (32)")
    b.add_argument("--ef-search", type=int, default=128, help="hnsw: search beam width (128)")
    b.add_argument(
        "--pq-bytes",
        type=int,
        default=PQ_BYTES,
        metavar="M",
        help=f"ivfpq: sub-quantisers m, = bytes per vector at 8 bits; must divide D ({PQ_BYTES})",
    )
    b.add_argument(
        "--pq-nbits", type=int, default=PQ_NBITS, help=f"ivfpq: bits per sub-quantiser code, 1-16 ({PQ_NBITS})"
    )
    b.add_argument(
        "--train-size",
        type=int,
        default=None,
        metavar="ROWS",
        help="ivf/ivfpq: rows of the seeded training sample (default 40*nlist; ivfpq at least 64*2^nbits)",
    )
    b.add_argument(
        "--rerank",
        type=int,
        default=0,
        metavar="R",
        help="ivfpq: re-rank R*k candidates by exact similarity read from the EMB folder, "
        "which queries then need (0: off, default)",
    )
    b.add_argument("--chunk-rows", type=int, default=CHUNK_ROWS, help=f"rows added per step ({CHUNK_ROWS})")
    b.add_argument("--seed", type=int, default=0, help="ivf/ivfpq: training sample and k-means seed (0)")
    b.add_argument(
        "--slices",
        action="store_true",
        help="index every loud slice instead of each track's mean: neighbours then finds where in "
        "a track an excerpt comes from (needs an EMB folder made with embed --timelines)",
    )


#: The option of each :class:`~tunespace.neighbours.IndexSettings` field (the others: ``--`` + the
#: field name with dashes).
OPTION = {"chunk_size": "chunk-rows"}


def settings_of(args: argparse.Namespace):  # noqa: ANN201 (an IndexSettings)
    """The :class:`~tunespace.neighbours.IndexSettings` of the parsed options; a bad value raises
    :class:`~tunespace.errors.UsageError` naming the option as typed."""
    from dataclasses import fields

    from ..errors import UsageError
    from ..neighbours import IndexSettings

    values = {f.name: getattr(args, OPTION.get(f.name, f.name).replace("-", "_")) for f in fields(IndexSettings)}
    try:
        return IndexSettings(**values)
    except UsageError as e:  # name the option as typed
        field, rest = str(e).split(" ", 1)
        if field not in values:
            raise
        raise UsageError(f"--{OPTION.get(field, field.replace('_', '-'))} {rest}") from None


def run(args: argparse.Namespace) -> int:
    from ..index import build_index

    index = build_index(args.embeddings, args.out, settings_of(args), slices=args.slices)
    model = index.model_path or "none (queries by --audio need --model)"
    what = f"{len(index)} slices of {index.meta['n_tracks']} tracks" if args.slices else f"{len(index)} items"
    print(f"indexed {what} ({index.dim}-d, {index.method}) into {args.out}; model: {model}")
    return 0

"""``tunespace neighbours``: the nearest catalogue tracks to a track or an audio file (see :mod:`tunespace.index`)."""

from __future__ import annotations

import argparse
import json
import sys

NAME = "neighbours"
HELP = "which tracks of an index are nearest to a track id or to an audio file"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("index", metavar="INDEX", help="index folder (tunespace index build)")
    q = parser.add_mutually_exclusive_group(required=True)
    q.add_argument("--track", metavar="ID", help="a catalogue id (left out of its own neighbours)")
    q.add_argument("--audio", metavar="FILE", help="an audio file, embedded with the index's model")
    parser.add_argument("--k", type=int, default=10, help="neighbours (10)")
    parser.add_argument(
        "--labels",
        default=None,
        help="labels CSV or dataset folder to show (default: the index's dataset, if labelled)",
    )
    parser.add_argument(
        "--exclude-same",
        default=None,
        metavar="GROUP",
        help="also leave out tracks of the query's group: 'folder' or a label property (e.g. artist)",
    )
    parser.add_argument("--model", default=None, help="model for --audio (default: the index's model)")
    parser.add_argument("--json", action="store_true", help="print JSON instead of a table")


def run(args: argparse.Namespace) -> int:
    from ..index import query_neighbours

    result = query_neighbours(
        args.index,
        track=args.track,
        audio=args.audio,
        k=args.k,
        labels=args.labels,
        exclude_same=args.exclude_same,
        model=args.model,
    )
    for w in result.warnings:
        print(f"tunespace neighbours: warning: {w}", file=sys.stderr)
    if args.json:
        print(json.dumps(result.to_dict(), indent=2))
    else:
        print(result.table())
    return 0

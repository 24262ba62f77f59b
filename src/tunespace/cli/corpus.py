"""``tunespace corpus``: build a labelled corpus of rendered music, or summarise one."""

from __future__ import annotations

import argparse
import time

NAME = "corpus"
HELP = "build a labelled music corpus (key, tempo, genre, mood, instrument) or summarise one"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    sub = parser.add_subparsers(dest="action", metavar="ACTION")
    sub.required = True
    b = sub.add_parser("build", help="render a corpus of labelled tracks to DIR")
    b.add_argument("--out", required=True, help="output folder")
    b.add_argument("--tracks", type=int, default=200, help="number of tracks (default 200)")
    b.add_argument("--seconds", type=float, default=30.0, help="seconds per track (default 30)")
    b.add_argument("--seed", type=int, default=0, help="build seed (default 0)")
    b.add_argument("--source", default="procedural", help="procedural (default) or music21")
    b.add_argument("--workers", type=int, default=None, help="rendering processes (default: CPUs)")
    s = sub.add_parser("summary", help="print a summary of a corpus folder")
    s.add_argument("dir", help="corpus folder")


def run(args: argparse.Namespace) -> int:
    from ..corpus import build_corpus, summarise

    if args.action == "build":
        t0 = time.perf_counter()
        out = build_corpus(
            args.out, tracks=args.tracks, seconds=args.seconds, seed=args.seed, source=args.source, workers=args.workers
        )
        print(summarise(out))
        print(f"built in {time.perf_counter() - t0:.1f} s")
    else:
        print(summarise(args.dir))
    return 0

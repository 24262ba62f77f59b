"""``tunespace datasets show DIR``: which reader reads a folder and what labels it has."""

from __future__ import annotations

import argparse

NAME = "datasets"
HELP = "inspect dataset folders (reader, track count, properties and their vocabularies)"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    sub = parser.add_subparsers(dest="action", metavar="ACTION")
    sub.required = True
    show = sub.add_parser("show", help="summarise the dataset in DIR")
    show.add_argument("dir", metavar="DIR", help="dataset folder")
    show.add_argument("--kind", default="auto", choices=["auto", *_readers()], help="reader to use (default: detect)")


def _readers() -> list[str]:
    from ..datasets import READERS

    return list(READERS)


def run(args: argparse.Namespace) -> int:
    from ..datasets import open_dataset, summarise_dataset

    ds = open_dataset(args.dir, kind=args.kind)
    print(summarise_dataset(ds))
    return 0

"""``tunespace datasets show DIR``: which reader reads a folder and what labels it has."""

from __future__ import annotations

import argparse

from ..datasets import READERS, open_dataset, summarise_dataset

NAME = "datasets"
HELP = "inspect dataset folders (reader, track count, properties and their vocabularies)"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    sub = parser.add_subparsers(dest="action", metavar="ACTION")
    sub.required = True
    show = sub.add_parser("show", help="summarise the dataset in DIR")
    show.add_argument("dir", metavar="DIR", help="dataset folder")
    show.add_argument("--kind", default="auto", choices=["auto", *READERS], help="reader to use (default: detect)")


def run(args: argparse.Namespace) -> int:
    ds = open_dataset(args.dir, kind=args.kind)
    print(summarise_dataset(ds))
    return 0

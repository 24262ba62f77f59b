"""``tunespace version``: print the version and the versions of the main dependencies."""

from __future__ import annotations

import argparse
import importlib.metadata as md

from .. import __version__

NAME = "version"
HELP = "print tunespace's version and those of its main dependencies"

_DEPS = ("torch", "numpy", "soundfile", "soxr", "librosa", "pedalboard", "faiss-cpu", "mir_eval", "scikit-learn")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    del parser


def run(args: argparse.Namespace) -> int:
    del args
    print(f"tunespace {__version__}")
    for d in _DEPS:
        try:
            print(f"  {d} {md.version(d)}")
        except md.PackageNotFoundError:
            print(f"  {d} (not installed)")
    return 0

"""``tunespace pretrained``: the models shipped with tunespace (see :mod:`tunespace.pretrained`)."""

from __future__ import annotations

import argparse

NAME = "pretrained"
HELP = "list the pretrained models shipped with tunespace, or rebuild them (one reproducible command)"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    from ..pretrained.recipe import TRAIN

    sub = parser.add_subparsers(dest="action", metavar="ACTION")
    sub.required = True
    sub.add_parser("list", help="the installed pretrained models and how they were made")
    b = sub.add_parser("build", help="render the data, train, profile and export the pretrained models (resumable)")
    b.add_argument("--out", required=True, help="working folder (data, study, models)")
    b.add_argument(
        "--steps",
        type=int,
        default=None,
        help=f"training steps per model (default: the recipe's, {TRAIN['train']['steps']})",
    )
    b.add_argument(
        "--workers",
        type=int,
        default=1,
        help="trainings and embeddings run at once, each in its own process (launcher.workers; a training "
        "of the recipe holds about 9 GB: 2 fit in 24 GB)",
    )
    b.add_argument("--install", action="store_true", help="copy the models into the installed package")


def run(args: argparse.Namespace) -> int:
    from .. import pretrained
    from ..errors import UsageError

    if args.action == "list":
        names = pretrained.available()
        if not names:
            print("no pretrained model installed")
        for n in names:
            card = pretrained.load_state(n).get("card", {})
            print(
                f"pretrained:{n}  policy {card.get('policy', '?')}, {card.get('step', '?')} steps, "
                f"seed {card.get('seed', '?')}"
            )
        return 0
    if args.steps is not None and args.steps < 1:
        raise UsageError(f"--steps must be >= 1, got {args.steps}")
    if args.workers < 1:
        raise UsageError(f"--workers must be >= 1, got {args.workers}")
    from ..pretrained.recipe import build_pretrained

    made = build_pretrained(args.out, steps=args.steps, install=args.install, workers=args.workers)
    for name, path in made.items():
        print(f"pretrained:{name} -> {path}")
    return 0

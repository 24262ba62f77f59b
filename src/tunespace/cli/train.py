"""``tunespace train``: contrastive training of an encoder on a dataset (see :mod:`tunespace.train`).

Multi-process / multi-GPU: ``torchrun --nproc_per_node N -m tunespace train ...``.
"""

from __future__ import annotations

import argparse

NAME = "train"
HELP = "train an embedding model by contrastive learning with an augmentation policy"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--data", help="dataset: any folder of audio, a dataset folder, a CSV of labels, an audio file or a list file"
    )
    parser.add_argument(
        "--augment",
        help="augmentation policy: none, ts, ps, eq, ts+ps, ts+ps+eq, ts+ps+eq+rev, lp, "
        "a custom name from the config; NAME@BACKEND picks the backend (spectral|waveform); "
        "without @BACKEND the configured backend is kept",
    )
    parser.add_argument("--out", required=True, help="run folder (config, metrics, TensorBoard, checkpoints)")
    parser.add_argument("--config", help="YAML config file (its sections and keys: docs/config.md)")
    parser.add_argument("--resume", action="store_true", help="continue the run in --out from its newest checkpoint")
    parser.add_argument(
        "overrides",
        nargs="*",
        metavar="key=value",
        help="config overrides, e.g. train.steps=500 model.encoder=sfnfnet_f0",
    )


def run(args: argparse.Namespace) -> int:
    from ..augment import parse_condition
    from ..train import resolve_config, train

    fields: dict = {"data.path": args.data}
    if args.augment:
        policy, backend = parse_condition(args.augment)
        fields["augment.policy"] = policy
        if backend is not None:
            fields["augment.backend"] = backend
    if args.resume and args.data is None and args.config is None and not args.overrides and not args.augment:
        cfg = None
    else:
        cfg = resolve_config(args.config, args.overrides, **fields)
    result = train(args.out, cfg, resume=args.resume)
    print(f"trained {result.steps} steps, final loss {result.final_loss:.4f}; checkpoint {result.checkpoint}")
    if result.skipped:
        print(f"skipped unreadable files: {len(result.skipped)} (see {args.out}/skipped.csv)")
    return 0

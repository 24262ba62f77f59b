"""``tunespace embed``: embed every track of a dataset (see :mod:`tunespace.embed.extract`)."""

from __future__ import annotations

import argparse
import os

NAME = "embed"
HELP = "embed every track of a dataset, a folder, one audio file or a list of files (resumable; EMB folder output)"
#: ``torchrun --nproc_per_node N -m tunespace embed ...`` shards the tracks over N processes
#: (see :mod:`tunespace.embed.extract`); the EMB folder is the one a single process writes.


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--model", required=True, help="run folder or checkpoint file (or random:ENCODER)")
    parser.add_argument(
        "--data",
        required=True,
        help="dataset folder, any folder of audio, a CSV of labels, one audio file, or a text file listing audio paths",
    )
    parser.add_argument("--out", required=True, help="EMB output folder")
    parser.add_argument(
        "--slice-seconds",
        type=float,
        default=None,
        help="slice length in seconds (default: the excerpt length the model was trained on; 3 for the shipped "
        "models and random encoders)",
    )
    parser.add_argument("--hop-seconds", type=float, default=2.0, help="hop between slices in seconds (2)")
    parser.add_argument(
        "--min-seconds",
        type=float,
        default=1.0,
        help="tracks shorter than this many seconds are reported in errors.csv (1)",
    )
    parser.add_argument(
        "--silence-db",
        type=float,
        default=-60.0,
        help="tracks whose peak stays below this level (dBFS) are reported as silent in errors.csv, not embedded; "
        "slices below it are left out of their track's mean (-60)",
    )
    parser.add_argument(
        "--keep-silent", action="store_true", help="embed silent tracks too, and average every slice, silent or not"
    )
    parser.add_argument("--timelines", action="store_true", help="also write per-slice embeddings")
    parser.add_argument("--workers", type=int, default=2, help="decoding worker processes (2)")
    parser.add_argument("--device", default="auto", help="auto, cpu or cuda")
    parser.add_argument("--no-progress", action="store_true", help="no progress bar")


def run(args: argparse.Namespace) -> int:
    from dataclasses import asdict

    from .. import devices
    from ..embed.extract import EmbedSettings, embed_dataset
    from ..embed.model import load_model
    from ..errors import UsageError

    try:
        settings = EmbedSettings(
            slice_seconds=args.slice_seconds,
            hop_seconds=args.hop_seconds,
            timelines=args.timelines,
            min_seconds=args.min_seconds,
            silence_db=None if args.keep_silent else args.silence_db,
            workers=args.workers,
        )
    except UsageError as e:  # name the option as typed
        name = str(e).split(" ", 1)[0]
        raise UsageError(f"--{name.replace('_', '-')} {str(e).split(' ', 1)[1]}") from None
    device = devices.resolve(args.device, "--device")  # under torchrun: this rank's GPU
    model = load_model(
        args.model, device=device, slice_seconds=settings.slice_seconds, hop_seconds=settings.hop_seconds
    )
    emb = embed_dataset(model, args.data, args.out, **asdict(settings), device=device, progress=not args.no_progress)
    assert emb is not None
    if int(os.environ.get("RANK", "0")) != 0:  # a shard of torchrun --nproc_per_node N: rank 0 reports
        return 0
    print(
        f"embedded {len(emb.ids)} tracks ({emb.dim}-d) into {args.out}; {len(emb.errors)} error(s)"
        + (f" listed in {args.out}/errors.csv" if emb.errors else "")
    )
    return 0

"""``tunespace embed``: embed every track of a dataset (see :mod:`tunespace.embed.extract`)."""

from __future__ import annotations

import argparse

NAME = "embed"
HELP = "embed every track of a dataset with a trained model (resumable; EMB folder output)"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--model", required=True, help="run folder or checkpoint file")
    parser.add_argument("--data", required=True, help="dataset folder")
    parser.add_argument("--out", required=True, help="EMB output folder")
    parser.add_argument("--slice-seconds", type=float, default=3.0, help="slice length in seconds (3)")
    parser.add_argument("--hop-seconds", type=float, default=2.0, help="hop between slices in seconds (2)")
    parser.add_argument("--timelines", action="store_true", help="also write per-slice embeddings")
    parser.add_argument("--workers", type=int, default=2, help="decoding worker processes (2)")
    parser.add_argument("--device", default="auto", help="auto, cpu or cuda")
    parser.add_argument("--no-progress", action="store_true", help="no progress bar")


def run(args: argparse.Namespace) -> int:
    import torch

    from ..embed.extract import embed_dataset, load_encoder

    device = ("cuda" if torch.cuda.is_available() else "cpu") if args.device == "auto" else args.device
    bundle = load_encoder(args.model, device)
    emb = embed_dataset(bundle, args.data, args.out, slice_seconds=args.slice_seconds, hop_seconds=args.hop_seconds,
                        timelines=args.timelines, workers=args.workers, device=device, progress=not args.no_progress)
    assert emb is not None
    print(f"embedded {len(emb.ids)} tracks ({emb.dim}-d) into {args.out}; {len(emb.errors)} error(s)")
    return 0

"""Extraction throughput of ``small`` (``tunespace embed``) in audio seconds per wall second.

Embeds 32 procedural tracks of 30 s (3 s slices every 2 s, 14 per track) with a randomly
initialised ``small`` (the demo study's size) and reports audio-seconds/s and tracks/s, with
2 decoding workers and with none. Anchor: real time (1 audio second per second).

Run: .venv/bin/python bench/bench_embed.py
"""

from __future__ import annotations

import tempfile
import time
from pathlib import Path

import torch

from tunespace.corpus import build_corpus
from tunespace.embed.extract import embed_dataset, random_encoder


def main() -> None:
    torch.set_num_threads(2)
    with tempfile.TemporaryDirectory() as tmp:
        corpus = build_corpus(Path(tmp) / "corpus", tracks=32, seconds=30.0, seed=0)
        bundle = random_encoder("small", seed=0, width=128, depth=5)
        print("| workers | tracks | audio s | wall s | audio s / wall s (x real time) | tracks/s |")
        print("|---:|---:|---:|---:|---:|---:|")
        for workers in (0, 2):
            t0 = time.perf_counter()
            embed_dataset(bundle, corpus, Path(tmp) / f"emb{workers}", workers=workers, progress=False)
            wall = time.perf_counter() - t0
            print(f"| {workers} | 32 | {32 * 30} | {wall:.1f} | {32 * 30 / wall:.0f} | {32 / wall:.2f} |", flush=True)


if __name__ == "__main__":
    main()

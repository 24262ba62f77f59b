"""Two embedding stages side by side, as a study with ``launcher.workers=2`` runs them: each
process with torch's default intra-op threads (the anchor: what the local launcher did before)
and with :func:`tunespace.study.launcher.thread_share` threads (what it does now).

Each stage embeds the same procedural corpus (``--tracks`` x 30 s; or the folder ``--data``) with the pretrained
``ts+ps`` model, in a spawned process, as the launcher's worker processes do. Prints each
arrangement's wall time (the slower of the two processes) and the ratio, and checks that the
embeddings are the same whatever the thread count (to 1e-5: a matrix product's summation order
may differ between thread counts).

Run: ``.venv/bin/python bench/bench_worker_threads.py [--tracks 200 | --data FOLDER]``
"""

from __future__ import annotations

import argparse
import multiprocessing
import os
import tempfile
import time
from pathlib import Path

import numpy as np


def embed_job(data: str, out: str, threads: int | None, conn) -> None:
    import torch

    if threads is not None:
        torch.set_num_threads(threads)
    from tunespace.embed.extract import embed_dataset
    from tunespace.embed.model import load_model

    t0 = time.perf_counter()
    embed_dataset(load_model("pretrained:ts+ps"), data, out, progress=False, workers=1)
    conn.send((time.perf_counter() - t0, torch.get_num_threads()))


def side_by_side(data: Path, out: Path, threads: int | None) -> tuple[float, int]:
    ctx = multiprocessing.get_context("spawn")
    procs, conns = [], []
    for i in range(2):
        parent, child = ctx.Pipe(duplex=False)
        p = ctx.Process(target=embed_job, args=(str(data), str(out / f"emb{i}"), threads, child))
        p.start()
        procs.append(p)
        conns.append(parent)
    results = [c.recv() for c in conns]
    for p in procs:
        p.join()
    return max(r[0] for r in results), results[0][1]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--tracks", type=int, default=200)
    ap.add_argument("--data", type=Path, help="embed this folder instead of a new procedural corpus")
    args = ap.parse_args()
    from tunespace.corpus import build_corpus
    from tunespace.datasets import open_dataset
    from tunespace.embed import read_embeddings
    from tunespace.study.launcher import thread_share

    with tempfile.TemporaryDirectory() as tmp:
        if args.data is not None:
            data = args.data
            n_tracks = len(open_dataset(data))
        else:
            data = build_corpus(Path(tmp) / "corpus", tracks=args.tracks, seconds=30.0, seed=0)
            n_tracks = args.tracks
        walls, used = {}, {}
        for name, threads in (("default", None), ("share", thread_share(2))):
            out = Path(tmp) / name
            walls[name], used[name] = side_by_side(data, out, threads)
            print(f"{name}: {used[name]} thread(s) each, {walls[name]:.1f} s", flush=True)
        a = read_embeddings(Path(tmp) / "default" / "emb0").vectors
        b = read_embeddings(Path(tmp) / "share" / "emb0").vectors
        same = np.allclose(a, b, atol=1e-5)
    print("\n| CPUs | tracks | default threads (anchor) | cores // workers threads | speed-up | same embeddings |")
    print("|---|---|---|---|---|---|")
    print(
        f"| {os.cpu_count()} | {n_tracks} | {walls['default']:.1f} s ({used['default']} each) | "
        f"{walls['share']:.1f} s ({used['share']} each) | {walls['default'] / walls['share']:.2f}x | "
        f"{'yes' if same else 'NO'} |"
    )


if __name__ == "__main__":
    main()

"""Local launcher: a whole study with ``launcher.workers`` = 1 (the anchor) and N, timed in one run.

Each run starts from an empty stage cache in a temporary folder; the two ``results.csv`` must be
byte-identical (where stages run changes nothing they compute). Prints the wall times and their
ratio.

Run: ``.venv/bin/python bench/bench_study_workers.py [--preset demo] [--workers 2] [--keep DIR]``
(the demo preset: about 13-15 min per run on a 2-core machine; ``--keep`` keeps both study
folders, e.g. to compare a ``results.csv`` with ``out/demo``'s; give a new or empty folder: a
folder holding an earlier run's stages would be reused, not timed). Torch's results depend on its
thread count, so they are identical only where ``launcher.threads`` is set (the demo preset sets
it); without it each worker computes with ``cores // workers`` threads.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import tempfile
import time
from pathlib import Path

from tunespace.study import resolve_study_config, run_study


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--preset", default="demo")
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--keep", default=None, help="keep the two study folders here (default: a temporary folder)")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() if args.keep is None else contextlib.nullcontext(args.keep) as tmp:
        walls, results = {}, {}
        for n in (1, args.workers):
            out = Path(tmp) / f"workers{n}"
            cfg = resolve_study_config(None, args.preset, [f"launcher.workers={n}"])
            t0 = time.perf_counter()
            run_study(out, cfg, progress=lambda msg: None)
            walls[n] = time.perf_counter() - t0
            results[n] = (out / "results.csv").read_bytes()
            print(f"workers={n}: {walls[n] / 60:.1f} min", flush=True)
    same = results[1] == results[args.workers]
    print(f"\n| preset | CPUs | workers=1 (anchor) | workers={args.workers} | ratio | results.csv identical |")
    print("|---|---|---|---|---|---|")
    print(
        f"| {args.preset} | {os.cpu_count()} | {walls[1] / 60:.1f} min | {walls[args.workers] / 60:.1f} min | "
        f"{walls[1] / walls[args.workers]:.2f}x | {'yes' if same else 'NO'} |"
    )


if __name__ == "__main__":
    main()

"""Benchmark: build the default corpus (200 tracks x 30 s) and compare with the 120 s budget.

Run: .venv/bin/python bench/bench_corpus.py [--tracks N] [--seconds S] [--workers W]
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

from tunespace.corpus import build_corpus

BUDGET_S = 120.0


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--tracks", type=int, default=200)
    p.add_argument("--seconds", type=float, default=30.0)
    p.add_argument("--workers", type=int, default=None)
    a = p.parse_args()
    with tempfile.TemporaryDirectory() as d:
        t0 = time.perf_counter()
        build_corpus(Path(d) / "corpus", tracks=a.tracks, seconds=a.seconds, seed=0, workers=a.workers)
        wall = time.perf_counter() - t0
    print(f"{'tracks':>7} {'seconds':>8} {'wall_s':>8} {'tracks/s':>9} {'ratio_to_120s_budget':>21}")
    print(f"{a.tracks:>7d} {a.seconds:>8g} {wall:>8.1f} {a.tracks / wall:>9.2f} {wall / BUDGET_S:>21.3f}")


if __name__ == "__main__":
    main()

"""Benchmark of neighbour queries (results: docs/benchmarks.md, "## Neighbour queries").

A catalogue of N = 100 000 vectors, D = 256 (a mixture of 1 000 Gaussian clusters, so that
approximate indexes have structure to exploit), indexed exact / IVF / HNSW with
:class:`tunespace.Index`. For 300 random catalogue ids, one query at a time (what a search
service does): latency of ``index.neighbours_of(id, 10)`` (self excluded), p50 / p99, against
the anchor FAISS ``IndexFlatIP.search`` called directly on the same vectors with k = 11.
Recall@10 of the approximate indexes against exact search on the same queries. Then grouped
queries on the exact index (albums of 10 consecutive ids left out with the query): the groups
as a dict read for every id per query, against :meth:`Index.group_codes` computed once. Finally, the
whole ``tunespace neighbours INDEX --track ID`` command (a fresh process: Python start-up,
imports, index load, query, printing), 5 runs, median.

Run: .venv/bin/python bench/bench_neighbours.py [--n N] [--d D] [--queries Q]
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np


def _catalogue(n: int, d: int, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    centres = rng.standard_normal((1000, d)).astype(np.float32)
    x = centres[rng.integers(0, 1000, n)] + 0.3 * rng.standard_normal((n, d)).astype(np.float32)
    return x.astype(np.float32)


def _pct(times: list[float]) -> tuple[float, float]:
    a = np.asarray(times) * 1000
    return float(np.percentile(a, 50)), float(np.percentile(a, 99))


def main() -> None:
    import faiss

    from tunespace import Index
    from tunespace.embed.format import EmbeddingSet, write_embeddings

    ap = argparse.ArgumentParser()
    ap.add_argument("--n", type=int, default=100_000)
    ap.add_argument("--d", type=int, default=256)
    ap.add_argument("--queries", type=int, default=300)
    args = ap.parse_args()
    x = _catalogue(args.n, args.d)
    ids = [f"track{i:07d}" for i in range(args.n)]
    emb = EmbeddingSet(ids=ids, vectors=x, name="bench")
    rng = np.random.default_rng(1)
    q_rows = rng.choice(args.n, size=args.queries, replace=False)
    print(
        f"N = {args.n}, D = {args.d}, {args.queries} single queries, k = 10; "
        f"faiss {faiss.__version__}, {faiss.omp_get_max_threads()} threads, {os.cpu_count()} CPUs"
    )

    xn = x / np.linalg.norm(x, axis=1, keepdims=True)
    anchor = faiss.IndexFlatIP(args.d)
    anchor.add(xn)
    threads = faiss.omp_get_max_threads()
    for label, n_threads in (
        (f"FAISS IndexFlatIP.search direct, {threads} threads (default)", threads),
        ("FAISS IndexFlatIP.search direct, 1 thread", 1),
    ):
        faiss.omp_set_num_threads(n_threads)
        times = []
        for r in q_rows:
            t = time.perf_counter()
            anchor.search(xn[r : r + 1], 11)
            times.append(time.perf_counter() - t)
        p50, p99 = _pct(times)
        print(f"anchor, {label}: p50 {p50:.2f} ms, p99 {p99:.2f} ms")
        if n_threads == threads:
            a50, a99 = p50, p99
    faiss.omp_set_num_threads(threads)
    print("\n| index | build s | p50 ms | p99 ms | anchor (default threads) p50 / p99 ms | ratio p50 | recall@10 |")
    print("|---|---|---|---|---|---|---|")
    exact_sets = None
    for method in ("exact", "ivf", "hnsw"):
        t = time.perf_counter()
        index = Index.build(emb, method)
        build = time.perf_counter() - t
        times, sets = [], []
        for r in q_rows:
            t = time.perf_counter()
            got = index.neighbours_of(ids[r], 10)
            times.append(time.perf_counter() - t)
            sets.append({n.id for n in got})
        if method == "exact":
            exact_sets = sets
        recall = float(np.mean([len(a & b) / 10 for a, b in zip(sets, exact_sets)]))
        p50, p99 = _pct(times)
        print(
            f"| {method} | {build:.1f} | {p50:.2f} | {p99:.2f} | {a50:.2f} / {a99:.2f} "
            f"| {p50 / a50:.2f} | {recall:.3f} |"
        )
        if method == "exact":
            exact_index, exact_p50 = index, p50

    album = {i: n // 10 for n, i in enumerate(ids)}
    t = time.perf_counter()
    codes = exact_index.group_codes(album)
    once = time.perf_counter() - t
    print("\n| exact index, albums of 10 left out | p50 ms | p99 ms | ratio p50 to ungrouped exact |")
    print("|---|---|---|---|")
    for label, groups in (("groups=dict (per query)", album), ("groups=group_codes(dict)", codes)):
        times = []
        for r in q_rows:
            t = time.perf_counter()
            got = exact_index.neighbours_of(ids[r], 10, groups=groups)
            times.append(time.perf_counter() - t)
            assert all(album[n.id] != album[ids[r]] for n in got)
        p50, p99 = _pct(times)
        print(f"| {label} | {p50:.2f} | {p99:.2f} | {p50 / exact_p50:.2f} |")
    print(f"group_codes(dict) itself, once: {once * 1000:.0f} ms")

    with tempfile.TemporaryDirectory() as tmp:
        write_embeddings(Path(tmp) / "emb", emb)
        exact_index.save(Path(tmp) / "idx")
        walls = []
        for r in q_rows[:5]:
            t = time.perf_counter()
            subprocess.run(
                [sys.executable, "-m", "tunespace", "neighbours", str(Path(tmp) / "idx"), "--track", ids[r]],
                check=True,
                capture_output=True,
            )
            walls.append(time.perf_counter() - t)
        print(
            f"\n`tunespace neighbours INDEX --track ID` (exact, N = {args.n}), whole command: "
            f"median {statistics.median(walls):.2f} s over 5 runs (min {min(walls):.2f}, max {max(walls):.2f})"
        )


if __name__ == "__main__":
    main()

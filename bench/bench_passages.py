"""Benchmark of slice-index queries (results: docs/benchmarks.md, "## Excerpt search: slice index").

A catalogue of T tracks of S slices each (default 5 000 x 14: 30 s tracks, 3 s slices every
2 s), D = 256: each track a random direction, its slices noisy copies of it (so tracks are
clusters of slices, as in real timelines). Two indexes, both exact (FAISS flat): the track
index (one mean per track, :meth:`tunespace.Index.search`; the anchor) and the slice index
(every slice, :func:`tunespace.passages.search_passages`, which over-fetches slices and groups
them into tracks). Queries: Q slices of random tracks with extra noise (an excerpt of a
track), one at a time, k = 10 tracks. Reported: p50 / p99 latency of each and the ratio, and
how often the query's own track comes first.

Run: .venv/bin/python bench/bench_passages.py [--tracks T] [--slices S] [--d D] [--queries Q]
"""

from __future__ import annotations

import argparse
import time

import numpy as np


def main() -> None:
    from tunespace import Index
    from tunespace.embed.format import EmbeddingSet
    from tunespace.passages import search_passages, slice_provenance, slice_set_of

    ap = argparse.ArgumentParser()
    ap.add_argument("--tracks", type=int, default=5000)
    ap.add_argument("--slices", type=int, default=14)
    ap.add_argument("--d", type=int, default=256)
    ap.add_argument("--queries", type=int, default=300)
    args = ap.parse_args()
    rng = np.random.default_rng(0)
    t, s, d = args.tracks, args.slices, args.d
    base = rng.standard_normal((t, d)).astype(np.float32)
    slices = (base[:, None, :] + 0.8 * rng.standard_normal((t, s, d)).astype(np.float32)).reshape(t * s, d)
    ids = [f"album{i // 10}/t{i:06d}" for i in range(t)]
    t0 = time.perf_counter()
    track_index = Index.build(EmbeddingSet(ids=ids, vectors=slices.reshape(t, s, d).mean(axis=1)))
    meta = {"slice_seconds": 3.0, "hop_seconds": 2.0, "silence_db": -60.0}
    timelines = list(slices.reshape(t, s, d))
    slice_emb = slice_set_of(ids, timelines, [None] * t, meta)
    slice_index = Index.build(slice_emb, provenance=slice_provenance(slice_emb.meta))
    build_s = time.perf_counter() - t0
    which = rng.integers(0, t, args.queries)
    queries = slices[which * s + rng.integers(0, s, args.queries)] + 0.8 * rng.standard_normal(
        (args.queries, d)
    ).astype(np.float32)
    rows = {}
    for name, search in (
        ("track index (anchor)", lambda q: [n.id for n in track_index.search(q, 10)[0]]),
        ("slice index", lambda q: [p.id for p in search_passages(slice_index, q, 10)[0]]),
    ):
        search(queries[0])  # warm-up
        times, hits = [], 0
        for j in range(args.queries):
            a = time.perf_counter()
            found = search(queries[j])
            times.append(time.perf_counter() - a)
            hits += found[0] == ids[which[j]]
        ms = np.asarray(times) * 1000
        rows[name] = (float(np.percentile(ms, 50)), float(np.percentile(ms, 99)), hits / args.queries)
    print(f"{t} tracks x {s} slices = {t * s} slice vectors, D = {d}; built both indexes in {build_s:.1f} s")
    print("\n| index | p50 ms | p99 ms | own track first |\n|---|---:|---:|---:|")
    for name, (p50, p99, hit) in rows.items():
        print(f"| {name} | {p50:.2f} | {p99:.2f} | {hit:.2f} |")
    anchor = rows["track index (anchor)"][0]
    print(f"\nslice index p50 / track index p50 = {rows['slice index'][0] / anchor:.1f}x")


if __name__ == "__main__":
    main()

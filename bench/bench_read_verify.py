"""What the EMB folder's consistency check costs: `read_embeddings` with and without
`verify` (SHA-256 of every file against meta.json) on N x D float32 embeddings.

    .venv/bin/python bench/bench_read_verify.py
"""

from __future__ import annotations

import tempfile
import time

import numpy as np

from tunespace.embed.format import EmbeddingSet, read_embeddings, write_embeddings


def best(fn, repeat: int = 5) -> float:
    times = []
    for _ in range(repeat):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return min(times)


def main() -> None:
    print("| N x D | matrix | read, sizes only | read, SHA-256 verified | verified throughput |")
    print("|---|---|---|---|---|")
    for n, d in ((10_000, 256), (100_000, 256), (100_000, 1728)):
        with tempfile.TemporaryDirectory() as tmp:
            v = np.random.default_rng(0).standard_normal((n, d)).astype(np.float32)
            write_embeddings(tmp, EmbeddingSet([f"t{i}" for i in range(n)], v))
            plain = best(lambda: read_embeddings(tmp, verify=False))
            checked = best(lambda: read_embeddings(tmp, verify=True))
            mb = v.nbytes / 1e6
            print(
                f"| {n} x {d} | {mb:.0f} MB | {plain * 1e3:.1f} ms | {checked * 1e3:.0f} ms | "
                f"{mb / 1e3 / max(1e-9, checked - plain):.2f} GB/s |"
            )


if __name__ == "__main__":
    main()

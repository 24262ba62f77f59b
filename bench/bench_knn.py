"""Benchmark of tunespace.neighbours.knn (results: docs/benchmarks.md, "## Nearest neighbours").

1. Exact k-NN (k = 10, self excluded) on N = 100 000 random Gaussian embeddings, D = 256:
   ours (backend "auto" = FAISS flat; torch timed on a query subset) vs scikit-learn
   NearestNeighbors(metric="cosine", algorithm="brute") timed on a subset of queries and
   extrapolated linearly to all N queries; and vs the matrix-product bound 2 N^2 D flops at
   the GFLOP/s numpy's matmul reaches here (measured in the same run).
2. Approximate k-NN (IVF) on N = 1 000 000, D = 256 (a mixture of 2 000 Gaussian clusters:
   i.i.d. Gaussian data has no neighbourhood structure for any index to exploit):
   wall time, measured recall@10 (1 000 sampled queries), peak memory (ru_maxrss).

Run: .venv/bin/python bench/bench_knn.py [--n N] [--n-approx N] [--sk-queries Q]
"""

from __future__ import annotations

import argparse
import resource
import time

import numpy as np

from tunespace.neighbours import AUTO_BACKEND, knn


def matmul_gflops(d: int = 256, rows: int = 4096, cols: int = 16384, repeat: int = 3) -> float:
    rng = np.random.default_rng(0)
    a = rng.standard_normal((rows, d), dtype=np.float32)
    b = rng.standard_normal((d, cols), dtype=np.float32)
    a @ b
    t = time.perf_counter()
    for _ in range(repeat):
        a @ b
    return 2.0 * rows * cols * d * repeat / (time.perf_counter() - t) / 1e9


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--n", type=int, default=100_000)
    ap.add_argument("--d", type=int, default=256)
    ap.add_argument("--n-approx", type=int, default=1_000_000)
    ap.add_argument("--sk-queries", type=int, default=2_000)
    ap.add_argument("--torch-queries", type=int, default=10_000)
    ap.add_argument("--approx-queries", type=int, default=100_000)
    ap.add_argument("--skip-exact", action="store_true")
    args = ap.parse_args()
    rng = np.random.default_rng(0)
    n, d, k = args.n, args.d, 10

    if not args.skip_exact:
        exact_part(args, rng, n, d, k)
    approx_part(args, rng, d, k)


def exact_part(args: argparse.Namespace, rng: np.random.Generator, n: int, d: int, k: int) -> None:
    gflops = matmul_gflops(d)
    bound = 2.0 * n * n * d / (gflops * 1e9)
    x = rng.standard_normal((n, d), dtype=np.float32)

    t = time.perf_counter()
    ours = knn(x, k)
    t_ours = time.perf_counter() - t

    q = np.arange(args.torch_queries)
    t = time.perf_counter()
    tq = knn(x, k, backend="torch", queries=q)
    t_torch = (time.perf_counter() - t) * n / len(q)
    assert np.array_equal(tq.indices, ours.indices[q])

    from sklearn.neighbors import NearestNeighbors

    sq = args.sk_queries
    t = time.perf_counter()
    nn = NearestNeighbors(n_neighbors=k + 1, metric="cosine", algorithm="brute").fit(x)
    _, sk_idx = nn.kneighbors(x[:sq])
    t_sk = (time.perf_counter() - t) * n / sq
    sk_idx = np.array([[j for j in row if j != i][:k] for i, row in enumerate(sk_idx)])
    agree = np.mean([len(np.intersect1d(a, b)) / k for a, b in zip(sk_idx, ours.indices[:sq])])

    print(f"## exact k-NN, N={n}, D={d}, k={k} (numpy matmul: {gflops:.1f} GFLOP/s)")
    print(f"{'method':44s} {'time_s':>9s} {'vs ours':>8s}")
    print(f"{'tunespace knn (auto=' + AUTO_BACKEND + ')':44s} {t_ours:9.1f} {1.0:8.2f}")
    print(f"{'tunespace knn (torch; ' + str(len(q)) + ' queries, extrap.)':44s} {t_torch:9.1f} {t_torch / t_ours:8.2f}")
    print(f"{'sklearn brute cosine (' + str(sq) + ' queries, extrap.)':44s} {t_sk:9.1f} {t_sk / t_ours:8.2f}")
    print(f"{'matmul bound 2 N^2 D / numpy rate':44s} {bound:9.1f} {bound / t_ours:8.2f}")
    print(
        f"speed-up over sklearn: {t_sk / t_ours:.1f}x; ours at {bound / t_ours:.0%} of the matmul bound; "
        f"neighbour overlap with sklearn: {agree:.4f}"
    )


def approx_part(args: argparse.Namespace, rng: np.random.Generator, d: int, k: int) -> None:
    na = args.n_approx
    centres = rng.standard_normal((2000, d), dtype=np.float32)
    xa = centres[rng.integers(0, 2000, na)]
    xa += 0.5 * rng.standard_normal((na, d), dtype=np.float32)
    aq = min(args.approx_queries, na)
    t = time.perf_counter()
    knn(xa, k, method="ivf", seed=0, recall_queries=1000, queries=np.arange(1))
    t_build = time.perf_counter() - t  # index build + recall check (1 000 queries, approximate and exact)
    t = time.perf_counter()
    res = knn(xa, k, method="ivf", seed=0, recall_queries=1000, queries=np.arange(aq))
    t_q = time.perf_counter() - t
    t_all = t_build + (t_q - t_build) * na / aq
    maxrss_gb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024**2
    print(f"\n## approximate k-NN (IVF), N={na}, D={d}, k={k}")
    print(
        f"build + recall check {t_build:.1f} s; with {aq} queries {t_q:.1f} s; "
        f"all {na} queries (extrapolated linearly) {t_all:.1f} s"
    )
    print(f"recall@10 {res.recall:.3f}; peak RSS {maxrss_gb:.2f} GB (input alone {xa.nbytes / 1024**3:.2f} GB)")


if __name__ == "__main__":
    main()

"""Benchmark of a compressed index at catalogue scale (results: docs/benchmarks.md, "## Index at scale").

N vectors of dimension D (default 10 000 000 x 256) are generated on the fly from a seed: a
mixture of ``--clusters`` Gaussian clusters (unit-variance centres, ``--sigma`` noise), so that
nearest neighbours are structured and recall means something. They are written chunk by chunk
as an EMB folder (``embeddings.npy`` float32, ``ids.txt``, ``meta.json`` with the files' sizes
and SHA-256, hashed while writing): 4·N·D bytes on disk, never in memory. Then, in this process:

1. ``tunespace.index.build_index`` (what ``tunespace index build`` calls) with IVF-PQ: wall time,
   split into training (seeded sample) and adding (chunks from the memory map), the rest being
   the EMB checksum pass, the ids, the direct map and saving; index size on disk.
2. Memory: ``ru_maxrss`` (peak resident set, which also counts the pages of the memory-mapped
   matrix that the kernel left mapped: reclaimable file cache, not allocations) and the peak
   of anonymous memory (``RssAnon`` of /proc/self/status, sampled every 0.2 s: what the process
   allocated).
3. The anchor: exact top-10 of ``--queries`` held-out query vectors (same mixture, another seed)
   by a chunked FAISS ``IndexFlatIP`` scan over the memory map, merged chunk by chunk.
4. Optionally (``--locality-queries Q``): locality at k = 10 of the mixture's cluster label and
   of a random label, estimated from Q sampled queries against the full index
   (:func:`tunespace.locality.sampled_locality`), with its standard error.
5. Recall@10 of the index against the anchor (at ``--nprobe`` and at 4x that, and with
   re-ranking of ``--rerank`` x 10 candidates by exact vectors from the memory map); query
   latency p50 / p99 of single queries (``Index.search_arrays`` one vector at a time: FAISS on
   one thread) and of one batch of all queries (``--threads`` FAISS threads).

The EMB and INDEX folders are deleted at the end unless ``--keep``.

Run: .venv/bin/python bench/bench_index_scale.py [--n 10000000] [--workdir /tmp] [--json out.json]
"""

from __future__ import annotations

import argparse
import hashlib
import io
import json
import os
import platform
import resource
import shutil
import sys
import tempfile
import threading
import time
from pathlib import Path

import numpy as np

CHUNK = 65536


class AnonPeak:
    """Peak of RssAnon (bytes) of this process, sampled in a thread."""

    def __init__(self, every: float = 0.2) -> None:
        self.peak = 0
        self._stop = threading.Event()
        self._every = every
        self._t = threading.Thread(target=self._run, daemon=True)

    @staticmethod
    def now() -> int:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith("RssAnon:"):
                    return int(line.split()[1]) * 1024
        return 0

    def _run(self) -> None:
        while not self._stop.is_set():
            self.peak = max(self.peak, self.now())
            self._stop.wait(self._every)

    def __enter__(self) -> AnonPeak:
        self._t.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._t.join()
        self.peak = max(self.peak, self.now())


def mixture(
    n: int,
    d: int,
    clusters: int,
    sigma: float,
    seed: int,
    stream: int,
    labels: list | None = None,
    intrinsic: int = 0,
) -> np.ndarray:
    """``n`` rows of the seeded mixture; ``stream`` picks an independent draw (chunk number);
    the rows' cluster numbers are appended to ``labels`` when given. ``intrinsic`` = r > 0: the
    noise lies in one random r-dimensional subspace (same total variance), as in embeddings
    whose neighbourhoods have a low intrinsic dimension; 0: isotropic in all D dimensions."""
    centres = np.random.default_rng([seed, 0]).standard_normal((clusters, d), dtype=np.float32)
    rng = np.random.default_rng([seed, 1, stream])
    if intrinsic:
        basis = np.linalg.qr(np.random.default_rng([seed, 3]).standard_normal((d, intrinsic)))[0].T
        x = rng.standard_normal((n, intrinsic), dtype=np.float32) @ basis.astype(np.float32)
        x *= sigma * np.sqrt(d / intrinsic)
    else:
        x = rng.standard_normal((n, d), dtype=np.float32)
        x *= sigma
    which = rng.integers(0, clusters, n)
    x += centres[which]
    if labels is not None:
        labels.append(which.astype(np.int32))
    return x


def write_emb(
    folder: Path, n: int, d: int, clusters: int, sigma: float, seed: int, intrinsic: int = 0
) -> tuple[float, np.ndarray]:
    """Write the EMB folder chunk by chunk (hashing as it goes); returns seconds and the rows'
    cluster numbers."""
    labels: list = []
    from tunespace.files import write_json

    t0 = time.perf_counter()
    folder.mkdir(parents=True, exist_ok=True)
    buf = io.BytesIO()
    np.lib.format.write_array_header_1_0(buf, {"descr": "<f4", "fortran_order": False, "shape": (n, d)})
    head = buf.getvalue()
    h = hashlib.sha256(head)
    size = len(head)
    with open(folder / "embeddings.npy", "wb") as f:
        f.write(head)
        for c, s in enumerate(range(0, n, CHUNK)):
            b = mixture(min(CHUNK, n - s), d, clusters, sigma, seed, c, labels, intrinsic).tobytes()
            f.write(b)
            h.update(b)
            size += len(b)
    emb_rec = {"bytes": size, "sha256": h.hexdigest()}
    ids = "".join(f"t{i:08d}\n" for i in range(n)).encode()
    (folder / "ids.txt").write_bytes(ids)
    errors = b"file,reason\n"
    (folder / "errors.csv").write_bytes(errors)
    files = {
        "embeddings.npy": emb_rec,
        "ids.txt": {"bytes": len(ids), "sha256": hashlib.sha256(ids).hexdigest()},
        "errors.csv": {"bytes": len(errors), "sha256": hashlib.sha256(errors).hexdigest()},
    }
    synthetic = {"clusters": clusters, "sigma": sigma, "seed": seed, "intrinsic_dim": intrinsic}
    meta = {"model": {"kind": "synthetic"}, "synthetic": synthetic}
    write_json(folder / "meta.json", {**meta, "files": files})
    return time.perf_counter() - t0, np.concatenate(labels)


def sampled(index, cluster: np.ndarray, n_queries: int, seed: int) -> dict:  # noqa: ANN001
    """Locality at k = 10 from ``n_queries`` sampled queries against the full index, for two
    labels: the mixture's cluster (what the neighbourhoods carry) and a seeded random label
    with 10 values (what they do not: 0 within the stated error)."""
    from tunespace.labels import LabelTable
    from tunespace.locality import sampled_locality

    noise = np.random.default_rng([seed, 2]).integers(0, 10, len(cluster))
    labels = LabelTable(
        ids=index.ids,
        values={"cluster": cluster.astype(object), "random": noise.astype(object)},
        kinds={"cluster": "categorical", "random": "categorical"},
    )
    t = time.perf_counter()
    prof = sampled_locality(index, labels, n_queries, [10], seed=seed)
    out = {"seconds": time.perf_counter() - t, "queries": n_queries}
    for m in ("cluster", "random"):
        r = prof["properties"][m]["10"]
        out[m] = {x: r[x] for x in ("locality", "locality_se", "locality_ci", "chance", "agreement", "n_population")}
    return out


def exact_topk(vectors: np.ndarray, queries: np.ndarray, k: int, chunk: int = 262144) -> np.ndarray:
    """Exact top-k rows (cosine) of each normalised query: a FAISS flat scan chunk by chunk."""
    import faiss

    from tunespace.neighbours import normalise

    best_s = np.full((len(queries), k), -np.inf, dtype=np.float32)
    best_r = np.full((len(queries), k), -1, dtype=np.int64)
    for s in range(0, vectors.shape[0], chunk):
        flat = faiss.IndexFlatIP(vectors.shape[1])
        flat.add(normalise(np.asarray(vectors[s : s + chunk])))
        sims, rows = flat.search(queries, k)
        cs = np.concatenate([best_s, sims], axis=1)
        cr = np.concatenate([best_r, rows + s], axis=1)
        order = np.argsort(-cs, axis=1, kind="stable")[:, :k]
        best_s, best_r = np.take_along_axis(cs, order, 1), np.take_along_axis(cr, order, 1)
    return best_r


def recall_at(found: np.ndarray, truth: np.ndarray) -> float:
    return float(np.mean([len(set(a[a >= 0]) & set(b)) / len(b) for a, b in zip(found, truth)]))


def folder_bytes(path: Path) -> int:
    return sum(p.stat().st_size for p in path.iterdir() if p.is_file())


def latency(index, queries: np.ndarray, k: int) -> dict[str, float]:  # noqa: ANN001
    single = []
    for q in queries:
        t = time.perf_counter()
        index.search_arrays(q[None], k)
        single.append(time.perf_counter() - t)
    t = time.perf_counter()
    _, rows = index.search_arrays(queries, k)
    batch = time.perf_counter() - t
    ms = np.asarray(single) * 1000
    return {
        "single_p50_ms": float(np.percentile(ms, 50)),
        "single_p99_ms": float(np.percentile(ms, 99)),
        "batch_s": batch,
        "batch_per_query_ms": 1000 * batch / len(queries),
    }, rows


def main(argv: list[str] | None = None) -> dict:
    import faiss

    from tunespace import Index
    from tunespace.embed.format import read_embeddings
    from tunespace.files import write_json
    from tunespace.index import build_index
    from tunespace.neighbours import normalise

    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--n", type=int, default=10_000_000, help="catalogue vectors (10 000 000)")
    ap.add_argument("--d", type=int, default=256, help="dimension (256)")
    ap.add_argument("--clusters", type=int, default=10_000, help="Gaussian clusters of the mixture (10 000)")
    ap.add_argument("--sigma", type=float, default=0.5, help="noise SD around unit-variance centres (0.5)")
    ap.add_argument(
        "--intrinsic-dim",
        type=int,
        default=0,
        help="noise in a random subspace of this dimension (0: isotropic in all D; the default)",
    )
    ap.add_argument("--nlist", type=int, default=4096, help="IVF cells (4096; lowered to N/39 when larger)")
    ap.add_argument("--train-size", type=int, default=200_000, help="training sample rows (200 000)")
    ap.add_argument("--pq-bytes", type=int, default=32, help="PQ sub-quantisers = bytes per vector (32)")
    ap.add_argument("--pq-nbits", type=int, default=8, help="bits per sub-quantiser (8)")
    ap.add_argument("--nprobe", type=int, default=16, help="cells probed (16); recall also at 4x")
    ap.add_argument("--rerank", type=int, default=10, help="re-ranking factor measured on top (10; 0: skip)")
    ap.add_argument("--queries", type=int, default=1000, help="held-out queries (1 000)")
    ap.add_argument(
        "--locality-queries",
        type=int,
        default=0,
        help="also estimate locality at k=10 from this many sampled queries against the index (0: skip)",
    )
    ap.add_argument("--threads", type=int, default=2, help="FAISS threads for build and batches (2)")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--workdir", default=None, help="where the EMB and INDEX folders go (default: a temp dir)")
    ap.add_argument("--keep", action="store_true", help="keep the EMB and INDEX folders")
    ap.add_argument("--json", default=None, help="also write the results to this JSON file")
    args = ap.parse_args(argv)

    faiss.omp_set_num_threads(args.threads)
    k = 10
    work = Path(tempfile.mkdtemp(prefix="bench-index-", dir=args.workdir))
    emb_dir, idx_dir = work / "emb", work / "index"
    res: dict = {
        "command": "bench/bench_index_scale.py " + " ".join(argv if argv is not None else sys.argv[1:]),
        "args": vars(args),
        "machine": {
            "cpus": os.cpu_count(),
            "platform": platform.platform(),
            "mem_total_gb": os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 1e9,
            "faiss": faiss.__version__,
            "numpy": np.__version__,
        },
        "loadavg_start": os.getloadavg(),
        "started": time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime()),
    }
    print(f"workdir {work}; load average {res['loadavg_start']}", flush=True)
    try:
        with AnonPeak() as anon:
            res["write_s"], cluster = write_emb(
                emb_dir, args.n, args.d, args.clusters, args.sigma, args.seed, args.intrinsic_dim
            )
            res["emb_bytes"] = folder_bytes(emb_dir)
            print(f"wrote {res['emb_bytes'] / 1e9:.2f} GB in {res['write_s']:.1f} s", flush=True)
            anon_before_build = AnonPeak.now()
            timings: dict = {}
            t = time.perf_counter()

            def progress(done: int, n: int) -> None:
                if done == n or done // CHUNK % 16 == 0:
                    print(f"  added {done} / {n} at {time.perf_counter() - t:.0f} s", flush=True)

            build_index(
                emb_dir,
                idx_dir,
                "ivfpq",
                nlist=args.nlist,
                nprobe=args.nprobe,
                pq_bytes=args.pq_bytes,
                pq_nbits=args.pq_nbits,
                train_size=args.train_size,
                seed=args.seed,
                timings=timings,
                on_chunk=progress,
            )
            res["build_s"] = time.perf_counter() - t
            res["train_s"], res["add_s"] = timings["train_s"], timings["add_s"]
            res["train_size"] = timings["train_size"]
            res["index_bytes"] = folder_bytes(idx_dir)
            print(
                f"built in {res['build_s']:.1f} s (train {res['train_s']:.1f}, add {res['add_s']:.1f}); "
                f"index {res['index_bytes'] / 1e9:.3f} GB",
                flush=True,
            )
            res["maxrss_after_build_gb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024 / 1e9
            res["anon_peak_build_gb"] = anon.peak / 1e9
            res["anon_before_build_gb"] = anon_before_build / 1e9

            t = time.perf_counter()
            index = Index.load(idx_dir)
            res["load_s"] = time.perf_counter() - t
            res["nlist"] = int(index.meta["settings"]["nlist"])
            queries = normalise(
                mixture(args.queries, args.d, args.clusters, args.sigma, args.seed, 10**9, None, args.intrinsic_dim)
            )
            t = time.perf_counter()
            truth = exact_topk(read_embeddings(emb_dir, verify=False).vectors, queries, k)
            res["exact_s"] = time.perf_counter() - t
            print(f"exact anchor: {res['exact_s']:.1f} s for {args.queries} queries", flush=True)

            runs = []
            for nprobe, rerank in [(args.nprobe, 0), (4 * args.nprobe, 0), (args.nprobe, -1)] + (
                [(args.nprobe, args.rerank)] if args.rerank > 1 else []
            ):
                if rerank < 0:  # locality before re-ranking (which reads the EMB folder at random)
                    if args.locality_queries:
                        index.configure(nprobe=args.nprobe)
                        res["locality"] = sampled(index, cluster, args.locality_queries, args.seed)
                        print(json.dumps(res["locality"]), flush=True)
                    continue
                if rerank:
                    index = Index.load(idx_dir, rerank=rerank)
                index.configure(nprobe=nprobe, rerank=rerank)
                lat, rows = latency(index, queries, k)
                run = {"nprobe": nprobe, "rerank": rerank, "recall_at_10": recall_at(rows, truth), **lat}
                runs.append(run)
                print(json.dumps(run), flush=True)
            res["runs"] = runs
        res["maxrss_gb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024 / 1e9
        res["anon_peak_gb"] = anon.peak / 1e9
    finally:
        if not args.keep:
            shutil.rmtree(work, ignore_errors=True)
    res["loadavg_end"] = os.getloadavg()
    res["finished"] = time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime())
    print(json.dumps({k: v for k, v in res.items() if k != "runs"}, indent=1))
    if args.json:
        write_json(args.json, res)
    return res


if __name__ == "__main__":
    main()

"""Load benchmark of ``tunespace serve`` (results: docs/benchmarks.md, "## Search service").

1. Id queries: an index of N = 100 000 vectors, D = 256 (a seeded mixture of 1 000 Gaussian
   clusters), served by the real command (``python -m tunespace serve --index ...``: uvicorn,
   one process) and queried by 32 concurrent clients for 30 s each (asyncio, one keep-alive
   connection per client, aiohttp, ``GET /api/indexes/NAME/neighbours?id=<random id>&k=10``):
   requests per second and p50 / p99 latency, for an exact (FAISS flat) and an HNSW index.
   Anchor, in this process on the same indexes and with the same FAISS threads as the server
   (``--search-threads``, default: CPU count less one): FAISS through ``Index.neighbours_of``
   one query at a time (what a request costs alone), and ``Index.search_arrays`` on batches
   of 32 (what the server's batching can reach at most).
2. Upload: a 30 s WAV (44.1 kHz stereo, 16-bit, 5.3 MB) POSTed to the exact index, whose
   model is the ``small`` encoder (``random:small``: its cost does not depend on its
   weights): end-to-end wall time seen by the client, median of 5 after one warm-up (the
   first request loads the model), and the server's decode + embed time.
3. Map: time from the first ``GET /api/indexes/exact/map`` until it is ready (UMAP of a
   seeded sample of 20 000 of the 100 000 vectors, umap-learn's first import included).

The load generator runs on the same machine as the server and shares its cores; its CPU
time is reported. Run: .venv/bin/python bench/bench_serve.py [--n N] [--seconds S] [--clients C]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import resource
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

import aiohttp
import numpy as np


def clustered(n: int, d: int, clusters: int, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    centres = rng.standard_normal((clusters, d), dtype=np.float32)
    x = centres[rng.integers(0, clusters, n)] + 0.5 * rng.standard_normal((n, d), dtype=np.float32)
    return x


def pct(values: list[float], q: float) -> float:
    return float(np.percentile(np.asarray(values), q)) if values else float("nan")


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process so far (Linux /proc)."""
    f = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(f[11]) + int(f[12])) / os.sysconf("SC_CLK_TCK")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def in_process(idx, ids: list[str], seconds: float, rng: np.random.Generator, batch: int) -> dict:  # noqa: ANN001
    """FAISS through the Index: single queries, then batches of ``batch``."""
    lat = []
    t_end = time.perf_counter() + seconds
    while time.perf_counter() < t_end:
        q = ids[int(rng.integers(len(ids)))]
        t = time.perf_counter()
        idx.neighbours_of(q, 10)
        lat.append(time.perf_counter() - t)
    single = {"qps": len(lat) / sum(lat), "p50_ms": 1e3 * pct(lat, 50), "p99_ms": 1e3 * pct(lat, 99)}
    vecs = idx.vectors()
    blat = []
    t_end = time.perf_counter() + seconds
    while time.perf_counter() < t_end:
        rows = rng.integers(0, len(ids), batch)
        t = time.perf_counter()
        idx.search_arrays(vecs[rows], 11)
        blat.append(time.perf_counter() - t)
    batched = {"qps": batch * len(blat) / sum(blat), "p50_ms": 1e3 * pct(blat, 50), "p99_ms": 1e3 * pct(blat, 99)}
    return {"single": single, "batched": batched}


async def load(base: str, index: str, ids: list[str], clients: int, seconds: float, seed: int) -> dict:
    lat: list[float] = []
    errors = 0
    url = f"/api/indexes/{index}/neighbours"

    async with aiohttp.ClientSession(base, connector=aiohttp.TCPConnector(limit=clients)) as client:

        async def get(q: str) -> bool:
            async with client.get(url, params={"id": q, "k": "10"}) as r:
                return r.status == 200 and len((await r.json())["neighbours"]) == 10

        async def worker(w: int) -> None:
            nonlocal errors
            rng = np.random.default_rng(seed + w)
            while time.perf_counter() < stop:
                t = time.perf_counter()
                ok = await get(ids[int(rng.integers(len(ids)))])
                dt = time.perf_counter() - t
                if ok:
                    lat.append(dt)
                else:
                    errors += 1

        await asyncio.gather(*[get(ids[i]) for i in range(clients)])  # warm-up: every connection opened once
        stop = time.perf_counter() + seconds
        t0 = time.perf_counter()
        await asyncio.gather(*[worker(w) for w in range(clients)])
        wall = time.perf_counter() - t0
    return {
        "requests": len(lat),
        "errors": errors,
        "rps": len(lat) / wall,
        "p50_ms": 1e3 * pct(lat, 50),
        "p99_ms": 1e3 * pct(lat, 99),
        "max_ms": 1e3 * max(lat),
    }


def make_wav(path: Path, seconds: float = 30.0, sr: int = 44100) -> None:
    import soundfile as sf

    rng = np.random.default_rng(0)
    t = np.arange(int(seconds * sr)) / sr
    left = 0.3 * np.sin(2 * np.pi * 220 * t * (1 + 0.1 * np.sin(t))) + 0.05 * rng.standard_normal(len(t))
    right = 0.3 * np.sin(2 * np.pi * 330 * t) + 0.05 * rng.standard_normal(len(t))
    sf.write(str(path), np.stack([left, right], 1).astype(np.float32), sr, subtype="PCM_16")


def upload(base: str, index: str, path: Path, repeats: int) -> dict:
    data = path.read_bytes()

    async def run() -> tuple[list[float], list[float]]:
        walls, server = [], []
        async with aiohttp.ClientSession(base, timeout=aiohttp.ClientTimeout(total=300)) as client:
            for _ in range(repeats + 1):
                form = aiohttp.FormData()
                form.add_field("file", data, filename=path.name, content_type="audio/wav")
                t = time.perf_counter()
                async with client.post(f"/api/indexes/{index}/neighbours", params={"k": "10"}, data=form) as r:
                    body = await r.json()
                    if r.status != 200:
                        raise SystemExit(f"upload failed: {r.status} {body}")
                walls.append(time.perf_counter() - t)
                server.append(body["query"]["embed_ms"])
        return walls, server

    walls, server = asyncio.run(run())
    return {
        "bytes": len(data),
        "first_s": walls[0],
        "median_s": float(np.median(walls[1:])),
        "max_s": max(walls[1:]),
        "server_embed_ms": float(np.median(server[1:])),
    }


def map_time(base: str, index: str) -> dict:
    t = time.perf_counter()
    while True:
        with urllib.request.urlopen(f"{base}/api/indexes/{index}/map", timeout=60) as r:
            if r.status == 200:
                m = json.load(r)
                return {"seconds": time.perf_counter() - t, "method": m["method"], "n": m["n"], "n_index": m["n_index"]}
        time.sleep(1)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--n", type=int, default=100_000)
    ap.add_argument("--d", type=int, default=256)
    ap.add_argument("--clients", type=int, default=32)
    ap.add_argument("--seconds", type=float, default=30.0)
    ap.add_argument("--anchor-seconds", type=float, default=10.0)
    ap.add_argument("--methods", default="exact,hnsw")
    ap.add_argument("--uploads", type=int, default=5)
    ap.add_argument("--no-map", action="store_true", help="skip the map timing")
    ap.add_argument("--search-threads", type=int, default=max(1, (os.cpu_count() or 2) - 1))
    ap.add_argument("--json", help="also write the results here")
    args = ap.parse_args()

    import faiss

    from tunespace import Index
    from tunespace.embed.format import EmbeddingSet

    faiss.omp_set_num_threads(args.search_threads)

    methods = args.methods.split(",")
    rng = np.random.default_rng(0)
    ids = [f"track{n:06d}" for n in range(args.n)]
    emb = EmbeddingSet(
        ids=ids,
        vectors=clustered(args.n, args.d, 1000, 0),
        name="bench",
        meta={"model": {"kind": "random", "encoder": "small", "seed": 0}},
    )
    results: dict = {
        "n": args.n,
        "d": args.d,
        "clients": args.clients,
        "seconds": args.seconds,
        "search_threads": args.search_threads,
        "cpus": os.cpu_count(),
        "load_before": os.getloadavg()[0],
    }
    with tempfile.TemporaryDirectory(prefix="bench_serve_") as tmp:
        tmp = Path(tmp)
        indexes = {}
        for m in methods:
            t = time.perf_counter()
            idx = Index.build(emb, m)
            idx.save(tmp / m)
            results[f"build_{m}_s"] = time.perf_counter() - t
            indexes[m] = idx
            print(f"built {m} index of {args.n} x {args.d} in {results[f'build_{m}_s']:.1f} s", flush=True)
        for m, idx in indexes.items():
            results[f"inprocess_{m}"] = in_process(idx, ids, args.anchor_seconds, rng, args.clients)
            print(f"in-process {m}: {results[f'inprocess_{m}']}", flush=True)
        del indexes

        port = free_port()
        base = f"http://127.0.0.1:{port}"
        cmd = [
            sys.executable,
            "-m",
            "tunespace",
            "serve",
            "--port",
            str(port),
            "--no-precompute-maps",
            "--search-threads",
            str(args.search_threads),
            "--map-cache",
            str(tmp / "maps"),
        ] + [a for m in methods for a in ("--index", f"{m}={tmp / m}")]
        server = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
        try:
            for _ in range(600):
                try:
                    with urllib.request.urlopen(base + "/api/info", timeout=2):
                        break
                except OSError:
                    if server.poll() is not None:
                        raise SystemExit(f"server exited: {server.stderr.read()}") from None
                    time.sleep(0.1)
            for m in methods:
                r0, s0 = resource.getrusage(resource.RUSAGE_SELF), cpu_seconds(server.pid)
                res = asyncio.run(load(base, m, ids, args.clients, args.seconds, 1))
                r1, s1 = resource.getrusage(resource.RUSAGE_SELF), cpu_seconds(server.pid)
                res["client_cpu_s"] = (r1.ru_utime + r1.ru_stime) - (r0.ru_utime + r0.ru_stime)
                res["server_cpu_ms_per_request"] = (
                    1e3 * (s1 - s0) / max(1, res["requests"] + res["errors"] + args.clients)
                )
                results[f"http_{m}"] = res
                print(f"HTTP {m}: {res}", flush=True)
            wav = tmp / "upload-30s.wav"
            make_wav(wav)
            results["upload"] = upload(base, methods[0], wav, args.uploads)
            print(f"upload: {results['upload']}", flush=True)
            if not args.no_map:
                results["map"] = map_time(base, methods[0])
                print(f"map: {results['map']}", flush=True)
        finally:
            server.terminate()
            server.wait(30)
    results["load_after"] = os.getloadavg()[0]

    print(
        f"\nN = {args.n}, D = {args.d}, {args.clients} clients x {args.seconds:g} s, k = 10, "
        f"{os.cpu_count()} CPUs, FAISS threads {args.search_threads}, "
        f"load average {results['load_before']:.1f} before / {results['load_after']:.1f} after\n"
    )
    print("| index | path | queries/s | p50 ms | p99 ms | server CPU ms / request |")
    print("|---|---|---:|---:|---:|---:|")
    for m in methods:
        a, h = results[f"inprocess_{m}"], results[f"http_{m}"]
        print(
            f"| {m} | FAISS in-process, one query at a time (anchor) | {a['single']['qps']:.0f} | "
            f"{a['single']['p50_ms']:.1f} | {a['single']['p99_ms']:.1f} | |"
        )
        print(
            f"| {m} | FAISS in-process, batches of {args.clients} (anchor; latency = batch time) | "
            f"{a['batched']['qps']:.0f} | {a['batched']['p50_ms']:.1f} | {a['batched']['p99_ms']:.1f} | |"
        )
        print(
            f"| {m} | HTTP, {args.clients} concurrent clients | {h['rps']:.0f} "
            f"| {h['p50_ms']:.1f} | {h['p99_ms']:.1f} | "
            f"{h['server_cpu_ms_per_request']:.2f} |"
        )
    u = results["upload"]
    print(
        f"\nupload of a 30 s WAV ({u['bytes'] / 1e6:.1f} MB), `small`: median {u['median_s']:.2f} s end to end "
        f"(max {u['max_s']:.2f} s; server decode + embed {u['server_embed_ms']:.0f} ms; first, loading the model: "
        f"{u['first_s']:.2f} s)"
    )
    if "map" in results:
        m = results["map"]
        print(
            f"map ({m['method']} of {m['n']} of {m['n_index']} vectors): "
            f"ready {m['seconds']:.0f} s after the first request"
        )
    if args.json:
        Path(args.json).write_text(json.dumps(results, indent=2) + "\n")


if __name__ == "__main__":
    main()

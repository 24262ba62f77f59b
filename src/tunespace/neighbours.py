"""k-nearest-neighbour search by cosine similarity, exact or approximate, with exclusions.

:func:`knn` returns, for every query item, its ``k`` most similar items, excluding the item
itself and (optionally) every item of the same group (e.g. other excerpts of the same track).

- Vectors are L2-normalised in float32 chunks (zero vectors stay zero: similarity 0 to all,
  never NaN), so inner product = cosine.
- Exact search runs through FAISS (``IndexFlatIP``) or a torch matrix product + ``topk``
  (``backend="faiss"|"torch"|"auto"``; ``"auto"`` picks the one measured faster on a 2-core
  CPU by ``bench/bench_knn.py``: see :data:`AUTO_BACKEND`). Queries are processed in chunks
  of ``chunk_size`` rows so that memory stays bounded (the torch path further caps each
  similarity block at :data:`MAX_BLOCK_ELEMENTS` floats).
- Exclusions: each query first asks for ``k`` + a few extra candidates; rows that lose too
  many to exclusion are searched again with twice as many candidates until ``k`` remain (or
  every item has been examined), which is correct for any group size.
- Ties are broken deterministically by item index (lower first). For exact search a row is
  only accepted when the k-th kept similarity is strictly above the lowest retrieved one, so
  tied items just outside the candidate list cannot be missed.
- Approximate search (``method="ivf"``: FAISS ``IndexIVFFlat`` probed with ``nprobe``;
  ``method="hnsw"``: ``IndexHNSWFlat``) is for millions of items. It reports its recall@k
  measured against exact search on a seeded random sample of queries.

The exclusion/expansion loop and tie ordering are written here by hand (FAISS and torch do
neither); the similarity computations are FAISS's and torch's.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Protocol

import numpy as np

from .errors import UsageError

#: Exact backend picked by ``backend="auto"`` (measured in bench/bench_knn.py, docs/benchmarks.md).
AUTO_BACKEND = "faiss"
#: Largest (queries x items) similarity block the torch backend materialises (float32 elements).
MAX_BLOCK_ELEMENTS = 1 << 26
METHODS = ("exact", "ivf", "hnsw")
BACKENDS = ("auto", "faiss", "torch")


@dataclass
class KnnResult:
    """Nearest neighbours of each query.

    Attributes:
        indices: int64 (Q, k), neighbour row indices, most similar first.
        similarities: float32 (Q, k), cosine similarities, non-increasing along each row.
        recall: measured recall@k of approximate search against exact search (None for exact).
        method: ``"exact"``, ``"ivf"`` or ``"hnsw"``.
        backend: the exact backend used (``"faiss"`` or ``"torch"``) or the FAISS index kind.
    """

    indices: np.ndarray
    similarities: np.ndarray
    recall: float | None = None
    method: str = "exact"
    backend: str = "faiss"


def normalise(vectors: np.ndarray, chunk_size: int = 65536) -> np.ndarray:
    """L2-normalised float32 copy (N, D) of ``vectors`` (any float array, memory maps included).

    Rows are converted ``chunk_size`` at a time; zero rows stay zero (no NaN).
    Raises:
        UsageError: not 2-D, or non-finite values.
    """
    if vectors.ndim != 2:
        raise UsageError(f"embeddings must be 2-D (N, D), got shape {vectors.shape}")
    n, d = vectors.shape
    out = np.empty((n, d), dtype=np.float32)
    for s in range(0, n, chunk_size):
        block = np.asarray(vectors[s : s + chunk_size], dtype=np.float32)
        if not np.isfinite(block).all():
            raise UsageError(f"embeddings rows {s}-{s + len(block) - 1} contain non-finite values")
        norms = np.linalg.norm(block, axis=1, keepdims=True)
        np.divide(block, np.where(norms > 0, norms, 1.0), out=out[s : s + len(block)])
    return out


class _Searcher(Protocol):
    def search(self, queries: np.ndarray, kk: int) -> tuple[np.ndarray, np.ndarray]: ...


class _FaissSearcher:
    def __init__(self, index) -> None:  # noqa: ANN001 (a faiss index)
        self.index = index

    def search(self, queries: np.ndarray, kk: int) -> tuple[np.ndarray, np.ndarray]:
        sims, idx = self.index.search(np.ascontiguousarray(queries, dtype=np.float32), kk)
        return sims, idx.astype(np.int64, copy=False)


class _TorchSearcher:
    def __init__(self, x: np.ndarray) -> None:
        import torch

        self.torch = torch
        self.x = torch.from_numpy(x)

    def search(self, queries: np.ndarray, kk: int) -> tuple[np.ndarray, np.ndarray]:
        torch = self.torch
        q = torch.from_numpy(np.ascontiguousarray(queries, dtype=np.float32))
        step = max(1, MAX_BLOCK_ELEMENTS // max(1, self.x.shape[0]))
        sims, idx = [], []
        with torch.no_grad():
            for s in range(0, q.shape[0], step):
                v, i = torch.topk(q[s : s + step] @ self.x.T, kk, dim=1)
                sims.append(v.numpy())
                idx.append(i.numpy())
        return np.concatenate(sims), np.concatenate(idx).astype(np.int64, copy=False)


def knn(
    vectors: np.ndarray,
    k: int,
    *,
    exclude_self: bool = True,
    groups: np.ndarray | None = None,
    method: str = "exact",
    backend: str = "auto",
    chunk_size: int = 4096,
    seed: int = 0,
    queries: np.ndarray | None = None,
    nlist: int | None = None,
    nprobe: int = 16,
    hnsw_m: int = 32,
    ef_search: int = 128,
    recall_queries: int = 1000,
) -> KnnResult:
    """The ``k`` nearest neighbours (cosine) of each item of ``vectors``.

    Args:
        vectors: (N, D) embeddings, any float dtype, possibly memory-mapped.
        k: neighbours per query (>= 1).
        exclude_self: leave each query out of its own neighbours.
        groups: (N,) group ids (any hashable dtype) or None; items sharing the query's group
            are excluded (the query too, whatever ``exclude_self`` says).
        method: ``"exact"``, ``"ivf"`` or ``"hnsw"`` (approximate).
        backend: exact backend, ``"faiss"``, ``"torch"`` or ``"auto"`` (:data:`AUTO_BACKEND`).
        chunk_size: query rows per search call (bounds memory: chunk_size x N similarities
            for the torch backend, chunk_size x k for FAISS).
        seed: seed of the IVF training sample / k-means and of the recall query sample.
        queries: (Q,) row indices to search for (default: all N rows).
        nlist: IVF cells (default 2 * sqrt(N), at most N / 39); k-means (10 iterations) is
            trained on a seeded sample of 40 * nlist items.
        nprobe: IVF cells probed per query.
        hnsw_m: HNSW graph degree.
        ef_search: HNSW search beam width.
        recall_queries: number of sampled queries for the recall@k estimate of approximate search.
    Returns:
        :class:`KnnResult` with (Q, k) indices and similarities.
    Raises:
        UsageError: bad method/backend, or ``k`` larger than the number of eligible
            neighbours of some query.
    """
    if method not in METHODS:
        raise UsageError(f"unknown k-NN method {method!r}; expected one of {METHODS}")
    if backend not in BACKENDS:
        raise UsageError(f"unknown k-NN backend {backend!r}; expected one of {BACKENDS}")
    backend = AUTO_BACKEND if backend == "auto" else backend
    x = normalise(vectors)
    n, d = x.shape
    codes, max_group = _group_codes(groups, n)
    eligible = n - max_group if codes is not None else n - int(exclude_self)
    if k < 1 or k > eligible:
        raise UsageError(
            f"k={k} is out of range: some queries have only {eligible} eligible neighbours "
            f"(N={n}{f', largest group {max_group}' if codes is not None else ''})"
        )
    rows = np.arange(n, dtype=np.int64) if queries is None else np.asarray(queries, dtype=np.int64)
    exclude_self = exclude_self or codes is not None
    extra = (min(max_group, 64) if codes is not None else int(exclude_self)) + 1

    exact_searcher: _Searcher
    if method == "exact" and backend == "faiss":
        exact_searcher = _FaissSearcher(_flat_index(x))
    else:
        exact_searcher = _TorchSearcher(x)  # shares x's memory: no copy
    plan = _SearchPlan(x, k, codes, exclude_self, extra, chunk_size)
    if method == "exact":
        idx, sims = plan.search(exact_searcher, rows)
        return KnnResult(idx, sims, None, "exact", backend)

    settings = IndexSettings(method, nlist=nlist, nprobe=nprobe, hnsw_m=hnsw_m, ef_search=ef_search, seed=seed)
    approx = _FaissSearcher(approx_index(x, settings))
    idx, sims = plan.search(approx, rows, fallback=exact_searcher)
    # recall@k on a seeded sample of all N items, against exact search
    rng = np.random.default_rng(seed)
    sample = np.sort(rng.choice(n, size=min(recall_queries, n), replace=False))
    a_idx, _ = plan.search(approx, sample, fallback=exact_searcher)
    e_idx, _ = plan.search(exact_searcher, sample)
    hits = sum(len(np.intersect1d(a, e, assume_unique=True)) for a, e in zip(a_idx, e_idx))
    recall = hits / (len(sample) * k)
    return KnnResult(idx, sims, float(recall), method, method)


def _group_codes(groups: np.ndarray | None, n: int) -> tuple[np.ndarray | None, int]:
    if groups is None:
        return None, 1
    g = np.asarray(groups)
    if g.shape != (n,):
        raise UsageError(f"groups must have shape ({n},), got {g.shape}")
    _, codes, counts = np.unique(g, return_inverse=True, return_counts=True)
    return codes.astype(np.int64), int(counts.max())


def _flat_index(x: np.ndarray):  # noqa: ANN202
    import faiss

    index = faiss.IndexFlatIP(x.shape[1])
    index.add(x)
    return index


def approx_index(x: np.ndarray, settings: IndexSettings):  # noqa: ANN201
    """A FAISS IVF-Flat or HNSW-Flat inner-product index over the normalised rows ``x`` (N, D);
    used by :func:`knn`. See :func:`build_faiss_index`."""
    return build_faiss_index(x, settings, normalised=True)


#: FAISS index kinds :func:`build_faiss_index` makes.
INDEX_KINDS = ("exact", "ivf", "hnsw", "ivfpq")
#: Default IVF-PQ code: sub-quantisers m (bytes per vector at 8 bits) and bits per sub-quantiser.
PQ_BYTES = 32
PQ_NBITS = 8
#: Rows normalised and added per FAISS ``add`` call (64 MiB of float32 at D = 256).
CHUNK_ROWS = 65536
#: k-means iterations of the IVF coarse quantiser.
KMEANS_ITER = 10


def default_nlist(n: int) -> int:
    """IVF cells for N vectors when none are asked for: 2·sqrt(N), at least 1."""
    return max(1, int(2 * np.sqrt(n)))


def default_train_size(n: int, method: str, nlist: int, pq_nbits: int = PQ_NBITS) -> int:
    """Size of the seeded training sample: 40·nlist for ``ivf``; for ``ivfpq`` also at least
    64·2^nbits (the sub-quantisers' k-means); never more than N."""
    want = 40 * nlist if method == "ivf" else max(40 * nlist, 64 * 2**pq_nbits)
    return min(n, want)


def _whole(v: object) -> bool:
    return not isinstance(v, bool) and isinstance(v, (int, np.integer))


@dataclass(frozen=True)
class IndexSettings:
    """How a FAISS index is built (and first searched): the one definition of these parameters,
    used by :func:`build_faiss_index`, :meth:`tunespace.index.Index.build`, ``tunespace index build``
    and the approximate path of :func:`knn`.

    Attributes:
        method: ``"exact"`` (IndexFlatIP), ``"ivf"`` (IndexIVFFlat), ``"hnsw"`` (IndexHNSWFlat) or
            ``"ivfpq"`` (IndexIVFPQ: residuals product-quantised into ``pq_bytes`` codes of
            ``pq_nbits`` bits each).
        nlist: IVF cells (None: 2·sqrt(N), :func:`default_nlist`; lowered to N / 39).
        nprobe: IVF cells probed per query (16).
        hnsw_m: HNSW graph degree (32).
        ef_search: HNSW search beam width (128).
        pq_bytes: IVF-PQ sub-quantisers m = bytes per vector at 8 bits (:data:`PQ_BYTES`; must
            divide D, checked with D by :meth:`ivf_params`).
        pq_nbits: IVF-PQ bits per sub-quantiser code, 1-16 (:data:`PQ_NBITS`); code size
            m·nbits/8 bytes.
        train_size: rows of the seeded k-means training sample (None: 40·nlist; ivfpq at least
            64·2^nbits; capped at N).
        chunk_size: rows normalised and added per FAISS ``add`` call (:data:`CHUNK_ROWS`).
        rerank: ivfpq only: re-rank R·k candidates by exact similarity (0 or 1: off).
        seed: seed of the training sample and of k-means.
    Raises:
        UsageError: (on construction) an unknown method or a parameter out of its range, one line
            naming the parameter.
    """

    method: str = "exact"
    nlist: int | None = None
    nprobe: int = 16
    hnsw_m: int = 32
    ef_search: int = 128
    pq_bytes: int = PQ_BYTES
    pq_nbits: int = PQ_NBITS
    train_size: int | None = None
    chunk_size: int = CHUNK_ROWS
    rerank: int = 0
    seed: int = 0

    def __post_init__(self) -> None:
        """Check every parameter that does not depend on the data (N, D: :meth:`ivf_params`);
        a message starts with the field's name (the CLI renames it to its option)."""
        if self.method not in INDEX_KINDS:
            raise UsageError(f"unknown index method {self.method!r}; expected one of {', '.join(INDEX_KINDS)}")
        for field in ("nlist", "nprobe", "hnsw_m", "ef_search", "pq_bytes", "train_size", "chunk_size"):
            v = getattr(self, field)
            if v is None and field in ("nlist", "train_size"):  # None: the default for N
                continue
            if not (_whole(v) and v >= 1):
                raise UsageError(f"{field} must be an integer >= 1, got {v!r}")
        if not (_whole(self.pq_nbits) and 1 <= self.pq_nbits <= 16):
            raise UsageError(f"pq_nbits must be an integer from 1 to 16, got {self.pq_nbits!r}")
        if not (_whole(self.rerank) and self.rerank >= 0):
            raise UsageError(f"rerank must be an integer >= 0, got {self.rerank!r}")
        if self.rerank > 1 and self.method != "ivfpq":
            raise UsageError(f"rerank applies to ivfpq (compressed vectors), not to {self.method!r}")

    @classmethod
    def of(cls, method: str | IndexSettings = "exact", **options: Any) -> IndexSettings:
        """``method`` when it is already settings (then no ``options``), else settings of ``method``
        and ``options`` (field names as keywords: what the public functions accept)."""
        if isinstance(method, IndexSettings):
            if options:
                raise TypeError(f"settings given twice: IndexSettings and {', '.join(sorted(options))}")
            return method
        return cls(method, **options)

    def ivf_params(self, n: int, d: int) -> tuple[int, int]:
        """(nlist, train size) of IVF / IVF-PQ for N vectors of dimension D.

        ``nlist`` defaults to :func:`default_nlist` and is lowered to N / 39 when larger (k-means
        wants 39 training points per cell); ``train_size`` defaults to :func:`default_train_size`
        and is capped at N.
        Raises:
            UsageError: ``pq_bytes`` not dividing D, a training sample smaller than k-means needs
                (one line, naming the parameter).
        """
        nl = default_nlist(n) if self.nlist is None else int(self.nlist)
        nl = max(1, min(nl, n // 39))
        need = nl
        if self.method == "ivfpq":
            if d % self.pq_bytes:
                divisors = [m for m in range(1, d + 1) if d % m == 0 and m <= 64]
                raise UsageError(
                    f"ivfpq: pq_bytes={self.pq_bytes!r} (sub-quantisers m) must divide the dimension {d} "
                    f"(e.g. {divisors[-4:]})"
                )
            need = max(nl, 39 * 2**self.pq_nbits)
            if n < need:
                raise UsageError(
                    f"ivfpq needs at least {need} vectors to train its quantisers "
                    f"(39 x 2^{self.pq_nbits} codewords), got {n}; use --method ivf or exact, or fewer --pq-nbits"
                )
        ts = (
            default_train_size(n, self.method, nl, self.pq_nbits)
            if self.train_size is None
            else min(n, int(self.train_size))
        )
        if ts < need:
            raise UsageError(f"{self.method}: train_size={ts} is below the {need} vectors k-means needs here")
        return nl, ts


def check_ivf_params(n: int, d: int, method: str, **params: Any) -> tuple[int, int]:
    """Validate IVF / IVF-PQ parameters (``nlist``, ``nprobe``, ``pq_bytes``, ``pq_nbits``,
    ``train_size``: :class:`IndexSettings` fields) for N vectors of dimension D; returns
    (nlist, train size): :meth:`IndexSettings.ivf_params`.

    Raises:
        UsageError: a parameter out of range, ``pq_bytes`` not dividing D, a training sample
            smaller than k-means needs (one line, naming the parameter).
    """
    return IndexSettings(method, **params).ivf_params(n, d)


def build_faiss_index(
    vectors: np.ndarray,
    method: str | IndexSettings = "exact",
    *,
    normalised: bool = False,
    timings: dict | None = None,
    on_chunk=None,  # noqa: ANN001 (callable(rows_done, n), for progress and tests)
    **options: Any,
):  # noqa: ANN201
    """A FAISS inner-product index of the L2-normalised rows of ``vectors`` (N, D), built in chunks.

    ``vectors`` may be a memory map larger than RAM: only the seeded training sample and one
    chunk of ``chunk_size`` rows are read and normalised in memory at a time (the index itself
    holds N x code-size bytes: 4·D for exact/ivf/hnsw, ``pq_bytes`` · ``pq_nbits`` / 8 for ivfpq,
    plus 8-byte ids for IVF lists).

    Args:
        method: an :class:`IndexSettings`, or its method (``"exact"``, ``"ivf"``, ``"hnsw"``,
            ``"ivfpq"``) with the other settings as keywords ``options`` (``nlist=``, ``nprobe=``,
            ``hnsw_m=``, ``ef_search=``, ``pq_bytes=``, ``pq_nbits=``, ``train_size=``,
            ``chunk_size=``, ``seed=``; see :class:`IndexSettings` for their meaning and defaults).
        normalised: the rows are already L2-normalised float32.
        timings: if a dict, filled with ``train_s``, ``add_s`` (seconds), ``train_size``, ``chunks``.
        on_chunk: called as ``on_chunk(rows_added, n)`` after each chunk.
    Raises:
        UsageError: unknown method, or a parameter :class:`IndexSettings` or
            :meth:`IndexSettings.ivf_params` refuses.
    """
    import time

    import faiss

    s = IndexSettings.of(method, **options)
    n, d = vectors.shape

    def rows(sel: slice | np.ndarray) -> np.ndarray:
        block = np.asarray(vectors[sel], dtype=np.float32)
        return np.ascontiguousarray(block) if normalised else normalise(block)

    t0 = time.perf_counter()
    n_train = 0
    if s.method == "exact":
        index = faiss.IndexFlatIP(d)
    elif s.method == "hnsw":
        index = faiss.IndexHNSWFlat(d, s.hnsw_m, faiss.METRIC_INNER_PRODUCT)
        index.hnsw.efConstruction = max(40, 2 * s.hnsw_m)
        index.hnsw.efSearch = s.ef_search
    else:
        nlist, n_train = s.ivf_params(n, d)
        quantizer = faiss.IndexFlatIP(d)
        if s.method == "ivf":
            index = faiss.IndexIVFFlat(quantizer, d, nlist, faiss.METRIC_INNER_PRODUCT)
        else:
            index = faiss.IndexIVFPQ(quantizer, d, nlist, int(s.pq_bytes), int(s.pq_nbits), faiss.METRIC_INNER_PRODUCT)
            index.pq.cp.seed = s.seed
        index.cp.seed = s.seed
        index.cp.niter = KMEANS_ITER
        rng = np.random.default_rng(s.seed)
        sample = np.sort(rng.choice(n, size=n_train, replace=False)) if n_train < n else slice(None)
        index.train(rows(sample))
        index.nprobe = min(s.nprobe, nlist)
    t1 = time.perf_counter()
    chunks = 0
    for start in range(0, n, s.chunk_size):
        index.add(rows(slice(start, start + s.chunk_size)))
        chunks += 1
        if on_chunk is not None:
            on_chunk(min(n, start + s.chunk_size), n)
    if timings is not None:
        timings.update(train_s=t1 - t0, add_s=time.perf_counter() - t1, train_size=int(n_train), chunks=chunks)
    return index


@dataclass(frozen=True)
class _SearchPlan:
    """What every search of one :func:`knn` call shares: the normalised rows ``x`` (N, D), ``k``,
    the exclusions (group ``codes``, ``exclude_self``), the ``extra`` candidates asked for beyond
    ``k``, and the query rows per search call (``chunk_size``)."""

    x: np.ndarray
    k: int
    codes: np.ndarray | None
    exclude_self: bool
    extra: int
    chunk_size: int

    def search(
        self, searcher: _Searcher, rows: np.ndarray, fallback: _Searcher | None = None
    ) -> tuple[np.ndarray, np.ndarray]:
        """(indices (Q, k), similarities (Q, k)) of ``rows``, ``chunk_size`` rows at a time.

        ``fallback`` is None for an exact ``searcher``; for an approximate one it is the exact
        searcher that serves rows the approximate index cannot fill.
        """
        out_idx = np.empty((len(rows), self.k), dtype=np.int64)
        out_sim = np.empty((len(rows), self.k), dtype=np.float32)
        for s in range(0, len(rows), self.chunk_size):
            r = rows[s : s + self.chunk_size]
            out_idx[s : s + len(r)], out_sim[s : s + len(r)] = self._search_rows(searcher, r, fallback)
        return out_idx, out_sim

    def _search_rows(
        self, searcher: _Searcher, rows: np.ndarray, fallback: _Searcher | None
    ) -> tuple[np.ndarray, np.ndarray]:
        """Search ``rows``, filter exclusions, re-search rows left short with twice the candidates."""
        x, k, codes, exact = self.x, self.k, self.codes, fallback is None
        n = x.shape[0]
        out_idx = np.empty((len(rows), k), dtype=np.int64)
        out_sim = np.empty((len(rows), k), dtype=np.float32)
        pending = np.arange(len(rows))
        kk = min(n, k + self.extra)
        while pending.size:
            q_rows = rows[pending]
            sims, idx = searcher.search(x[q_rows], kk)
            valid = idx >= 0
            if self.exclude_self:
                valid &= idx != q_rows[:, None]
            if codes is not None:
                valid &= codes[np.where(idx >= 0, idx, 0)] != codes[q_rows][:, None]
            key = np.where(valid, -sims.astype(np.float64), np.inf)
            order = np.lexsort((np.where(idx >= 0, idx, n), key), axis=-1)
            idx_s = np.take_along_axis(idx, order, axis=1)
            sim_s = np.take_along_axis(sims, order, axis=1)
            done = valid.sum(axis=1) >= k
            if exact and kk < n:
                lowest = np.where(idx >= 0, sims, np.inf).min(axis=1)
                done &= sim_s[:, k - 1] > lowest
            if kk >= n:
                if not exact and not done.all():
                    # the approximate index could not return enough items: exact search for those rows
                    short = pending[~done]
                    out_idx[short], out_sim[short] = self._search_rows(fallback, rows[short], None)
                    pending = pending[done]
                    idx_s, sim_s = idx_s[done], sim_s[done]
                done = np.ones(len(pending), dtype=bool)
            out_idx[pending[done]] = idx_s[done, :k]
            out_sim[pending[done]] = sim_s[done, :k]
            pending = pending[~done]
            kk = min(n, kk * 2)
        return out_idx, out_sim

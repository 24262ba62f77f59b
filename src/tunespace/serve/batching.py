"""Concurrent neighbour queries of one index, answered by batched searches.

One search of a single query over an exact index reads every vector (about 100 MB for
100 000 x 256): it is bound by memory bandwidth, while a batch of queries is one matrix
product that reads them once. :class:`SearchBatcher` therefore keeps one search per index
running at a time and hands it every query that arrived meanwhile (up to ``max_batch``):
at low load a query is searched alone as soon as it comes, under load the batches grow by
themselves. No query ever waits for a timer. It also keeps FAISS's threads from being
started by many request threads at once on a machine with few cores.

The batch is one call of :meth:`tunespace.Index.search_arrays` (FAISS on the whole batch).
Each query asks for ``k + 1`` neighbours and drops its own row (the query itself), which
gives the neighbours of :meth:`tunespace.Index.neighbours_of`; where an approximate index
returns too few, that query is answered by the Index's own exclusion loop instead. Written
by hand here: only this queueing (a few lines of asyncio); the search is the Index's.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from typing import Any, NamedTuple

import numpy as np
from starlette.concurrency import run_in_threadpool

#: Most queries searched together.
DEFAULT_MAX_BATCH = 64


class Hit(NamedTuple):
    """One neighbour: ``rank`` (1 = most similar), ``id``, cosine ``similarity``."""

    rank: int
    id: str
    similarity: float


@dataclass
class _Query:
    vector: np.ndarray | None  # None: the stored vector of ``exclude`` (looked up in the search thread)
    k: int
    exclude: str | None
    future: asyncio.Future


class SearchBatcher:
    """Batches the queries of one index (see the module docstring).

    Args:
        index: a :class:`tunespace.Index` (``search_arrays``, ``neighbours_of``, ``search``, ``ids``).
        max_batch: most queries per search.
    """

    def __init__(self, index: Any, max_batch: int = DEFAULT_MAX_BATCH) -> None:
        self.index = index
        self.max_batch = max_batch
        self._pending: list[_Query] = []
        self._running = False
        self.batches = 0  # searches run (for tests and benchmarks)
        self.queries = 0

    async def search(self, vector: np.ndarray | None, k: int, exclude: str | None = None) -> list[Any]:
        """The ``k`` nearest neighbours of ``vector`` (D,) (None: of the item ``exclude``), without ``exclude``."""
        if vector is None and exclude is None:
            raise ValueError("give a vector or the id of an item of the index")
        fut = asyncio.get_running_loop().create_future()
        v = None if vector is None else np.asarray(vector, dtype=np.float32)
        self._pending.append(_Query(v, int(k), exclude, fut))
        if not self._running:
            self._running = True
            asyncio.get_running_loop().create_task(self._drain())
        return await fut

    async def _drain(self) -> None:
        try:
            while self._pending:
                batch, self._pending = self._pending[: self.max_batch], self._pending[self.max_batch :]
                try:
                    results = await run_in_threadpool(self._search, batch)
                except Exception as e:  # noqa: BLE001 (handed to every waiting request)
                    for q in batch:
                        if not q.future.done():
                            q.future.set_exception(e)
                    continue
                for q, r in zip(batch, results):
                    if not q.future.done():
                        q.future.set_result(r)
        finally:
            self._running = False

    def _search(self, batch: list[_Query]) -> list[list[Any]]:
        index = self.index
        ids = index.ids
        n = len(ids)
        kk = min(n, max(q.k + (q.exclude is not None) for q in batch))
        queries = np.stack([q.vector if q.vector is not None else index.vector(q.exclude) for q in batch])
        sims, rows = index.search_arrays(queries, kk)
        self.batches += 1
        self.queries += len(batch)
        out = []
        for q, s_row, r_row in zip(batch, sims, rows):
            keep = [(float(s), int(r)) for s, r in zip(s_row, r_row) if r >= 0 and ids[r] != q.exclude][: q.k]
            if len(keep) < min(q.k, n - (q.exclude is not None)):  # an approximate index found too few
                found = index.neighbours_of(q.exclude, q.k) if q.vector is None else index.search(q.vector, q.k)[0]
                out.append([Hit(nb.rank, nb.id, float(nb.similarity)) for nb in found])
            else:
                out.append([Hit(r + 1, ids[i], s) for r, (s, i) in enumerate(keep)])
        return out

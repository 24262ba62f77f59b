"""2-D maps of the served indexes: UMAP, computed once per index and cached on disk.

The map of an index is :class:`umap.UMAP` (cosine metric, ``n_neighbors`` 15, ``min_dist``
0.2, ``random_state`` = the seed, so the same vectors always give the same map) fitted on
its L2-normalised vectors, or on a seeded random sample of :data:`DEFAULT_MAX_POINTS` of
them for large indexes. Indexes of fewer than :data:`MIN_UMAP_POINTS` items are laid out by
PCA instead (UMAP needs neighbours to work with).

Maps are computed in one background thread (one at a time: the machine's cores belong to
the searches) and written as JSON to the cache folder under a name that hashes the ids, the
vectors, the settings and the umap-learn version, so a rebuilt index never reuses a stale
map and a restarted server never recomputes a valid one. Written by hand here: only the
cache key, the background scheduling and the sampling; the layout is umap-learn's.
"""

from __future__ import annotations

import hashlib
import logging
import threading
import warnings
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from importlib import metadata
from pathlib import Path
from typing import Any

import numpy as np

from ..config import config_hash
from ..extras import MissingExtraError, import_extra
from ..files import read_json, write_json

log = logging.getLogger("tunespace.serve")

#: Largest number of points a map holds (a seeded sample of larger indexes).
DEFAULT_MAX_POINTS = 20000
#: Below this many items a map is laid out by PCA.
MIN_UMAP_POINTS = 8
UMAP_PARAMS = {"n_neighbors": 15, "min_dist": 0.2, "metric": "cosine"}

Reducer = Callable[[np.ndarray, int], tuple[np.ndarray, str]]


def umap_layout(x: np.ndarray, seed: int) -> tuple[np.ndarray, str]:
    """``(n, 2)`` float coordinates of the rows of ``x`` and the method's name (``umap`` or ``pca``)."""
    n = len(x)
    if n < MIN_UMAP_POINTS:
        return pca_layout(x, seed)
    # lazy: importing umap-learn compiles with numba (seconds); absent: the map fails with a
    # one-line error that names the extra (small indexes above need no umap)
    umap = import_extra("umap", "UMAP maps")

    params = {**UMAP_PARAMS, "n_neighbors": min(UMAP_PARAMS["n_neighbors"], n - 1)}
    with warnings.catch_warnings():  # "n_jobs overridden by setting random_state": seeded means one thread
        warnings.filterwarnings("ignore", message="n_jobs value", category=UserWarning)
        xy = umap.UMAP(**params, random_state=seed, n_jobs=1).fit_transform(x)
    return np.asarray(xy, dtype=np.float64), "umap"


def pca_layout(x: np.ndarray, seed: int) -> tuple[np.ndarray, str]:
    """PCA to 2-D (zeros where there is no variance to show)."""
    out = np.zeros((len(x), 2))
    if len(x) >= 2:
        from sklearn.decomposition import PCA

        comps = min(2, len(x) - 1, x.shape[1])
        out[:, :comps] = PCA(n_components=comps, random_state=seed).fit_transform(x)
    return out, "pca"


def umap_version() -> str:
    try:
        return metadata.version("umap-learn")
    except metadata.PackageNotFoundError:  # pragma: no cover
        return "absent"


@dataclass
class MapState:
    """Where the map of one index stands: ``status`` is missing, computing, ready or failed."""

    status: str = "missing"
    result: dict[str, Any] | None = None
    error: str | None = None
    path: Path | None = None


@dataclass
class MapStore:
    """Computes, caches and hands out the maps of the served indexes.

    Args:
        cache_dirs: index name -> folder for its cached map (None: memory only).
        max_points: most points per map (seeded sample beyond).
        seed: seed of UMAP and of the sample.
        reducer: the layout function (tests pass a cheap one).
    """

    cache_dirs: dict[str, Path | None] = field(default_factory=dict)
    max_points: int = DEFAULT_MAX_POINTS
    seed: int = 0
    reducer: Reducer = umap_layout
    _states: dict[str, MapState] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _pool: ThreadPoolExecutor = field(default_factory=lambda: ThreadPoolExecutor(1, thread_name_prefix="tunespace-map"))

    def get(self, name: str, ids: list[str], vectors: Callable[[np.ndarray], np.ndarray]) -> MapState:
        """The state of ``name``'s map; a missing map is loaded from the cache or scheduled.

        Args:
            name: the index's name.
            ids: all its ids, in row order.
            vectors: rows (int array) -> their L2-normalised vectors ``(len(rows), D)``.
        """
        with self._lock:
            st = self._states.get(name)
            if st is not None and st.status in ("computing", "ready", "failed"):
                return st
            st = self._states[name] = MapState(status="computing")
        rows = self._sample(len(ids))
        x = np.ascontiguousarray(vectors(rows), dtype=np.float32)
        key = self.key(ids, x, rows)
        folder = self.cache_dirs.get(name)
        st.path = folder / f"map-{key}.json" if folder is not None else None
        if st.path is not None and st.path.is_file():
            try:
                st.result = read_json(st.path)
                st.status = "ready"
                return st
            except (OSError, ValueError) as e:
                log.warning("map cache %s unreadable (%s); recomputing", st.path, e)
        self._pool.submit(self._compute, name, st, ids, x, rows, key)
        return st

    def precompute(self, name: str, ids: list[str], vectors: Callable[[np.ndarray], np.ndarray]) -> None:
        """Start (or load) ``name``'s map now."""
        self.get(name, ids, vectors)

    def wait(self, name: str, timeout: float | None = None) -> MapState:
        """Block until ``name``'s map is ready or failed (tests, benchmarks)."""
        fut = self._pool.submit(lambda: None)  # the pool runs one job at a time, in order
        fut.result(timeout=timeout)
        return self._states[name]

    def close(self) -> None:
        self._pool.shutdown(wait=False, cancel_futures=True)

    def _sample(self, n: int) -> np.ndarray:
        if n <= self.max_points:
            return np.arange(n)
        rng = np.random.default_rng(self.seed)
        return np.sort(rng.choice(n, self.max_points, replace=False))

    def key(self, ids: list[str], x: np.ndarray, rows: np.ndarray) -> str:
        """Hash of the ids, the mapped rows and their vectors ``x``, and the settings."""
        h = hashlib.sha256()
        h.update("\n".join(ids).encode())
        h.update(np.asarray(rows, dtype=np.int64).tobytes())
        h.update(np.ascontiguousarray(x, dtype=np.float32).tobytes())
        settings = {
            "data": h.hexdigest(),
            "rows": len(rows),
            "max_points": self.max_points,
            "seed": self.seed,
            "reducer": getattr(self.reducer, "__name__", str(self.reducer)),
            "umap": UMAP_PARAMS,
            "umap_version": umap_version(),
        }
        return config_hash(settings, length=16)

    def _compute(self, name: str, st: MapState, ids: list[str], x: np.ndarray, rows: np.ndarray, key: str) -> None:
        try:
            xy, method = self.reducer(x, self.seed)
            result = {
                "key": key,
                "method": method,
                "seed": self.seed,
                "n_index": len(ids),
                "n": int(len(rows)),
                "ids": [ids[r] for r in rows],
                "x": [round(float(v), 5) for v in xy[:, 0]],
                "y": [round(float(v), 5) for v in xy[:, 1]],
            }
            if st.path is not None:
                try:
                    write_json(st.path, result)
                except OSError as e:
                    log.warning("cannot cache the map of %s in %s (%s); keeping it in memory", name, st.path, e)
            st.result, st.status = result, "ready"
        except MissingExtraError as e:  # one line, no traceback
            log.warning("map of %s failed: %s", name, e)
            st.error, st.status = str(e), "failed"
        except Exception as e:  # noqa: BLE001 (reported to the client, logged here)
            log.exception("map of %s failed", name)
            st.error, st.status = f"{type(e).__name__}: {e}", "failed"

"""Maps: real UMAP (seeded, so reproducible), PCA for tiny indexes, sampling, cache keys, failures."""

from __future__ import annotations

import os
import sys
import types

import numpy as np
import pytest

from tunespace.serve.maps import UMAP_PARAMS, MapStore, pca_layout, umap_layout


def _clusters(n: int = 60, d: int = 8, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    centres = rng.standard_normal((3, d)) * 4
    x = centres[np.arange(n) % 3] + rng.standard_normal((n, d))
    return (x / np.linalg.norm(x, axis=1, keepdims=True)).astype(np.float32)


def test_umap_layout_calls_umap_seeded_with_its_settings(monkeypatch):
    calls = []

    class FakeUMAP:
        def __init__(self, **kw):  # noqa: ANN003
            calls.append(kw)

        def fit_transform(self, x):  # noqa: ANN001, ANN202
            return x[:, :2] * 2

    monkeypatch.setitem(sys.modules, "umap", types.SimpleNamespace(UMAP=FakeUMAP))
    x = _clusters(40)
    xy, method = umap_layout(x, seed=7)
    assert method == "umap" and np.allclose(xy, x[:, :2] * 2)
    assert calls == [{**UMAP_PARAMS, "random_state": 7, "n_jobs": 1}]
    umap_layout(x[:10], seed=0)
    assert calls[-1]["n_neighbors"] == 9  # fewer items than neighbours: n - 1
    tiny, method = umap_layout(x[:5], seed=0)
    assert method == "pca" and tiny.shape == (5, 2) and len(calls) == 2
    assert pca_layout(x[:1], 0)[0].tolist() == [[0.0, 0.0]]


@pytest.mark.skipif(
    os.environ.get("TUNESPACE_TEST_UMAP") != "1",
    reason="real UMAP not run: importing umap-learn compiles for about 30 s; set TUNESPACE_TEST_UMAP=1",
)
def test_umap_layout_is_seeded_and_keeps_clusters_apart():
    x = _clusters()
    xy, method = umap_layout(x, seed=0)
    assert method == "umap" and xy.shape == (60, 2) and np.isfinite(xy).all()
    again, _ = umap_layout(x, seed=0)
    assert np.array_equal(xy, again)
    # each point's nearest point on the map is of its own cluster
    d = ((xy[:, None] - xy[None]) ** 2).sum(-1)
    np.fill_diagonal(d, np.inf)
    assert (np.argmin(d, axis=1) % 3 == np.arange(60) % 3).mean() > 0.95


def test_large_indexes_are_sampled_with_the_seed_and_the_key_follows_the_data(tmp_path):
    x = _clusters(50)
    ids = [f"i{n}" for n in range(50)]
    store = MapStore(cache_dirs={"m": tmp_path}, max_points=20, reducer=pca_layout)
    st = store.get("m", ids, lambda rows: x[rows])
    st = store.wait("m", 30)
    assert st.status == "ready" and st.result["n"] == 20 and st.result["n_index"] == 50
    rows = np.sort(np.random.default_rng(0).choice(50, 20, replace=False))
    assert st.result["ids"] == [ids[r] for r in rows]
    k1 = store.key(ids, x[rows], rows)
    assert store.key(ids, x[rows] * 0.5, rows) != k1 and store.key(ids[::-1], x[rows], rows) != k1
    assert store.key(ids, x[rows], rows + 1) != k1
    assert st.path == tmp_path / f"map-{k1}.json" and st.path.is_file()


def test_a_failed_map_is_reported_not_retried_forever(tmp_path):
    def broken(x, seed):  # noqa: ANN001, ANN202
        raise ValueError("no layout today")

    store = MapStore(cache_dirs={"m": None}, reducer=broken)
    store.get("m", ["a", "b"], lambda rows: np.eye(2, dtype=np.float32)[rows])
    st = store.wait("m", 30)
    assert st.status == "failed" and "no layout today" in st.error and st.path is None

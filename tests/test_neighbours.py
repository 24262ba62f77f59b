import numpy as np
import pytest

from tunespace.errors import UsageError
from tunespace.neighbours import knn, normalise


def reference_knn(x, k, groups=None):
    """Brute force in float64: exclude self and same group, order by (-similarity, index)."""
    x = np.asarray(x, dtype=np.float64)
    n = np.linalg.norm(x, axis=1, keepdims=True)
    xn = x / np.where(n > 0, n, 1)
    s = xn @ xn.T
    out = []
    for i in range(len(x)):
        ok = np.ones(len(x), bool)
        ok[i] = False
        if groups is not None:
            ok &= groups != groups[i]
        c = np.nonzero(ok)[0]
        out.append(c[np.lexsort((c, -s[i, c]))[:k]])
    return np.array(out), s


@pytest.fixture(scope="module")
def data():
    rng = np.random.default_rng(1)
    return rng.standard_normal((400, 12)).astype(np.float32)


@pytest.mark.parametrize("backend", ["faiss", "torch"])
def test_exact_matches_brute_force(data, backend):
    ref, s = reference_knn(data, 7)
    res = knn(data, 7, backend=backend, chunk_size=64)
    assert res.indices.shape == (400, 7)
    np.testing.assert_array_equal(res.indices, ref)
    np.testing.assert_allclose(res.similarities, np.take_along_axis(s, ref, 1), atol=1e-5)
    assert res.recall is None


@pytest.mark.parametrize("backend", ["faiss", "torch"])
def test_exact_with_large_groups(data, backend):
    # 4 groups of 100: far more excluded items than the initial candidate margin
    groups = np.repeat(np.array(["a", "b", "c", "d"]), 100)[np.random.default_rng(2).permutation(400)]
    ref, _ = reference_knn(data, 10, groups)
    res = knn(data, 10, groups=groups, backend=backend, chunk_size=100)
    np.testing.assert_array_equal(res.indices, ref)
    assert not (groups[res.indices] == groups[:, None]).any()


def test_one_huge_group_and_singletons():
    rng = np.random.default_rng(3)
    x = rng.standard_normal((150, 6)).astype(np.float32)
    groups = np.concatenate([np.zeros(140, int), np.arange(1, 11)])
    ref, _ = reference_knn(x, 9, groups)
    np.testing.assert_array_equal(knn(x, 9, groups=groups).indices, ref)


def test_ties_by_index_and_zero_vectors():
    x = np.zeros((8, 3), np.float32)
    x[5] = x[6] = x[7] = [1, 0, 0]  # duplicates: exact ties
    res = knn(x, 3)
    assert np.isfinite(res.similarities).all()
    np.testing.assert_array_equal(res.indices[5], [6, 7, 0])
    np.testing.assert_array_equal(res.indices[0], [1, 2, 3])  # zero query: all ties at 0
    assert (normalise(x)[0] == 0).all()


def test_queries_subset_and_k_too_large(data):
    full = knn(data, 5)
    part = knn(data, 5, queries=np.array([3, 10, 399]))
    np.testing.assert_array_equal(part.indices, full.indices[[3, 10, 399]])
    with pytest.raises(UsageError, match="k=400"):
        knn(data, 400)
    with pytest.raises(UsageError, match="largest group"):
        knn(data, 300, groups=np.repeat([0, 1], 200))


@pytest.mark.parametrize("method", ["ivf", "hnsw"])
def test_approximate_reports_recall(method):
    rng = np.random.default_rng(4)
    centres = rng.standard_normal((20, 16))
    x = (centres[rng.integers(0, 20, 3000)] + 0.3 * rng.standard_normal((3000, 16))).astype(np.float32)
    groups = np.arange(3000) // 3
    res = knn(x, 10, method=method, groups=groups, seed=0, recall_queries=200, nprobe=8)
    exact = knn(x, 10, groups=groups)
    true_recall = np.mean([len(np.intersect1d(a, b)) / 10 for a, b in zip(res.indices, exact.indices)])
    assert 0.7 <= res.recall <= 1.0
    assert abs(res.recall - true_recall) < 0.1
    assert not (groups[res.indices] == groups[:, None]).any()
    again = knn(x, 10, method=method, groups=groups, seed=0, recall_queries=200, nprobe=8)
    assert again.recall == res.recall

import json
import re

import numpy as np
import pytest

from tunespace.cli import main
from tunespace.embed.format import EmbeddingSet, write_embeddings
from tunespace.keys import KEY_NAMES
from tunespace.labels import LabelTable
from tunespace.locality import locality_profile, read_locality, write_locality_report
from tunespace.locality.bootstrap import bootstrap_ci


def _obj(items):
    out = np.empty(len(items), dtype=object)
    out[:] = list(items)
    return out


@pytest.fixture(scope="module")
def case():
    rng = np.random.default_rng(0)
    n = 120
    genre = rng.choice(["a", "b", "c"], n)
    keys = rng.choice(KEY_NAMES[:8], n)
    tempo = rng.choice([90.0, 120.0, 60.0, 93.0], n)
    x = rng.standard_normal((n, 6))
    x[:, 0] += 3 * (genre == "a")
    ids = [f"t{i}" for i in range(n)]
    emb = EmbeddingSet(ids=ids, vectors=x.astype(np.float32), name="set1")
    labels = LabelTable(ids=ids, values={"genre": _obj(genre), "key": _obj(keys), "tempo_bpm": tempo,
                                         "group": _obj([str(i // 4) for i in range(n)])},
                        kinds={"genre": "categorical", "key": "key", "tempo_bpm": "tempo", "group": "categorical"})
    return emb, labels, genre, keys, tempo


def plain_locality(x, y, k, agree, groups=None):
    """Plain-python reference of A_k, C and L_k from the brief's definitions."""
    n = len(x)
    xn = x / np.linalg.norm(x, axis=1, keepdims=True)
    s = xn.astype(np.float64) @ xn.T.astype(np.float64)
    a_sum = c_sum = 0.0
    for i in range(n):
        cand = sorted((j for j in range(n) if j != i and (groups is None or groups[j] != groups[i])),
                      key=lambda j: (-s[i, j], j))[:k]
        a_sum += sum(agree(y[i], y[j]) for j in cand) / k
        c_sum += sum(agree(y[i], y[j]) for j in range(n) if j != i) / (n - 1)
    a, c = a_sum / n, c_sum / n
    return a, c, (a - c) / (1 - c)


def test_profile_matches_plain_reference(case):
    emb, labels, genre, keys, tempo = case
    prof = locality_profile(emb, labels, [1, 5], ["genre", "key", "tempo_bpm"], bootstrap=200, seed=0)
    assert set(prof["properties"]) == {"genre", "key", "key_graded", "tempo_bpm", "tempo_bpm_acc2"}
    import mir_eval

    x = np.asarray(emb.vectors)
    checks = {
        "genre": (genre, lambda a, b: a == b),
        "key_graded": (keys, mir_eval.key.weighted_score),
        "tempo_bpm": (tempo, lambda a, b: abs(b / a - 1) <= 0.04 + 1e-12),
        "tempo_bpm_acc2": (tempo, lambda a, b: any(abs(b / (m * a) - 1) <= 0.04 + 1e-12 for m in (1, 2, .5, 3, 1 / 3))),
    }
    for name, (y, agree) in checks.items():
        for k in (1, 5):
            a, c, loc = plain_locality(x, y, k, agree)
            r = prof["properties"][name][str(k)]
            assert r["agreement"] == pytest.approx(a) and r["chance"] == pytest.approx(c)
            assert r["locality"] == pytest.approx(loc)
            assert r["agreement_ci"][0] <= r["agreement"] <= r["agreement_ci"][1]
            assert r["locality_ci"][0] <= r["locality"] <= r["locality_ci"][1]
            assert r["n_queries"] == 120
    assert prof["properties"]["genre"]["5"]["locality"] > 0.3  # genre "a" is separated


def test_groups_are_excluded(case):
    emb, labels, genre, *_ = case
    prof = locality_profile(emb, labels, [3], ["genre"], groups="group", bootstrap=0)
    groups = np.array([i // 4 for i in range(120)])
    a, c, loc = plain_locality(np.asarray(emb.vectors), genre, 3, lambda p, q: p == q, groups)
    assert prof["properties"]["genre"]["3"]["agreement"] == pytest.approx(a)
    assert prof["properties"]["genre"]["3"]["chance"] == pytest.approx(c)  # chance over all N - 1


def test_bootstrap_is_seeded_and_covers():
    rng = np.random.default_rng(5)
    a = rng.uniform(size=(500, 2))
    c = rng.uniform(0, 0.5, 500)
    ci1 = bootstrap_ci(a, c, 300, np.random.default_rng(1))
    ci2 = bootstrap_ci(a, c, 300, np.random.default_rng(1))
    np.testing.assert_array_equal(ci1[0], ci2[0])
    assert (ci1[0][:, 0] < a.mean(0)).all() and (a.mean(0) < ci1[0][:, 1]).all()
    width = ci1[0][:, 1] - ci1[0][:, 0]
    assert np.allclose(width, 2 * 1.96 * a.std(0) / np.sqrt(500), rtol=0.25)  # ~ normal-theory width


def test_report_files_recomputable(case, tmp_path):
    emb, labels, *_ = case
    p1 = locality_profile(emb, labels, [1, 5], ["genre", "tempo_bpm"], bootstrap=50)
    write_locality_report(tmp_path / "r", {"set1": p1}, {"k": [1, 5]})
    for f in ("locality.json", "locality.md", "locality.png", "config.json", "join.json"):
        assert (tmp_path / "r" / f).stat().st_size > 0
    data = read_locality(tmp_path / "r")["set1"]
    md = (tmp_path / "r" / "locality.md").read_text()
    for m, byk in data["properties"].items():
        for k, r in byk.items():
            assert r["locality"] == pytest.approx((r["agreement"] - r["chance"]) / (1 - r["chance"]))
            assert f"| {m} | {k} | {r['agreement']:.3f} | {r['chance']:.3f} | {r['locality']:.3f} [" in md


def test_cli_two_sets_side_by_side(tmp_path, capsys):
    rng = np.random.default_rng(2)
    n = 60
    genre = rng.choice(["x", "y"], n)
    rows = "\n".join(f"t{i},{genre[i]},{rng.choice([100, 140])}" for i in range(n))
    (tmp_path / "tracks.csv").write_text("track_id,genre,tempo_bpm\n" + rows + "\n")
    for name in ("a", "b"):
        v = rng.standard_normal((n, 4)).astype(np.float32)
        ids = [f"t{i}" for i in range(n)] + (["extra"] if name == "b" else [])
        if name == "b":
            v = np.vstack([v, np.ones((1, 4), np.float32)])
        write_embeddings(tmp_path / name, EmbeddingSet(ids=ids, vectors=v))
    rc = main(["locality", "--embeddings", str(tmp_path / "a"), str(tmp_path / "b"), "--labels",
               str(tmp_path / "tracks.csv"), "--k", "1,3", "--bootstrap", "20", "--out", str(tmp_path / "rep")])
    assert rc == 0
    assert "1 embedded without labels (e.g. extra)" in capsys.readouterr().out
    data = json.loads((tmp_path / "rep" / "locality.json").read_text())
    assert list(data) == ["a", "b"] and data["b"]["join"]["missing_labels"] == 1
    header = (tmp_path / "rep" / "locality.md").read_text().splitlines()
    assert any(re.match(r"\| measure \| k \| a A .* b A", h) for h in header)
    assert main(["locality", "--embeddings", str(tmp_path / "a"), "--labels", str(tmp_path / "tracks.csv"),
                 "--k", "x", "--out", str(tmp_path / "r2")]) == 2

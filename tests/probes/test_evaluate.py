import csv
import json

import numpy as np
import pytest

from tunespace.cli import main
from tunespace.embed.format import EmbeddingSet, write_embeddings
from tunespace.labels import LabelTable
from tunespace.probes import bounded_interval, cv_folds, evaluate_embeddings, fit_probe, item_mean_interval, split_items


def test_split_by_track_stratified_and_grouped():
    labels = np.repeat(["a", "b", "c"], 40)
    s = split_items(120, seed=0, stratify=labels)
    assert set(s) == {"train", "valid", "test"} and (s == "train").sum() == 84
    for c in "abc":
        assert (s[labels == c] == "test").sum() == 6  # stratified
    groups = np.arange(120) // 3
    g = split_items(120, seed=1, groups=groups)
    for t in range(40):
        assert len(set(g[groups == t])) == 1
    assert not np.array_equal(split_items(120, seed=2), split_items(120, seed=3))


@pytest.mark.parametrize("kind", ["linear", "mlp"])
def test_probe_learns_and_is_seeded(kind):
    rng = np.random.default_rng(0)
    x = rng.standard_normal((300, 8)).astype(np.float32)
    y = (x[:, 0] + 0.5 * x[:, 1] > 0).astype(int)
    p1 = fit_probe(x[:200], y[:200], x[200:250], y[200:250], task="multiclass", kind=kind, seed=3, max_epochs=60)
    p2 = fit_probe(x[:200], y[:200], x[200:250], y[200:250], task="multiclass", kind=kind, seed=3, max_epochs=60)
    assert (p1.predict(x[250:]) == y[250:]).mean() > 0.85
    np.testing.assert_array_equal(p1.predict(x), p2.predict(x))
    t = 3 * x[:, 2] + 10
    pr = fit_probe(x[:200], t[:200], x[200:250], t[200:250], task="regression", kind=kind, seed=0, max_epochs=100)
    assert np.corrcoef(pr.predict(x[250:]), t[250:])[0, 1] > 0.9


def test_evaluate_cli(tmp_path):
    rng = np.random.default_rng(1)
    n = 90
    genre = rng.choice(["a", "b", "c"], n)
    tempo = rng.choice([80.0, 120.0], n)
    keys = rng.choice(["C major", "G major"], n)
    x = rng.standard_normal((n, 6))
    x[:, 0] += 6 * (genre == "a")
    x[:, 3] += 6 * (genre == "b")  # genre linearly separable
    x[:, 1] += (tempo - 100) * 2
    x[:, 2] += 4 * (keys == "G major")
    rows = "\n".join(f"t{i},{genre[i]},{tempo[i]},{keys[i]},{int(i % 2 == 0)},a;b" for i in range(n))
    (tmp_path / "t.csv").write_text("track_id,genre,tempo_bpm,key,arousal,tags\n" + rows + "\n")
    write_embeddings(tmp_path / "emb", EmbeddingSet([f"t{i}" for i in range(n)], x.astype(np.float32)))
    rc = main(
        [
            "evaluate",
            "--embeddings",
            str(tmp_path / "emb"),
            "--labels",
            str(tmp_path / "t.csv"),
            "--properties",
            "genre,tempo_bpm,key,arousal:continuous,tags:tags",
            "--k",
            "1,5",
            "--probes",
            "linear",
            "--out",
            str(tmp_path / "ev"),
        ]
    )
    assert rc == 0
    res = json.loads((tmp_path / "ev" / "evaluation.json").read_text())
    assert set(res["retrieval"]) == {"genre", "key"}
    assert res["retrieval"]["key"]["5"]["accuracy"] > 0.8
    assert res["retrieval"]["key"]["5"]["key_score"] >= res["retrieval"]["key"]["5"]["accuracy"]
    assert res["probes"]["tempo_bpm"]["linear"]["acc1"] > 0.8
    g = res["probes"]["genre"]["linear"]
    assert g["accuracy"] > 0.9 and g["n"] == n  # separable: learned; every item scored once (5 folds)
    assert 0 <= g["accuracy_ci"][0] < g["accuracy"] <= g["accuracy_ci"][1] <= 1
    assert "r2" in res["probes"]["arousal"]["linear"]
    assert res["probes"]["tags"]["linear"]["n_tags_skipped"] == 2  # all-positive tags: no AUC
    md = (tmp_path / "ev" / "evaluation.md").read_text()
    r1 = res["retrieval"]["genre"]["1"]
    assert f"| genre | 1 | {r1['accuracy']:.3f} [{r1['accuracy_ci'][0]:.3f}, {r1['accuracy_ci'][1]:.3f}] |" in md
    assert json.loads((tmp_path / "ev" / "config.json").read_text())["probes"] == ["linear"]
    table = list(csv.DictReader(open(tmp_path / "ev" / "evaluation.csv")))
    assert list(table[0]) == ["set", "property", "kind", "task", "k", "measure", "value", "ci_low", "ci_high", "n"]
    row = next(r for r in table if r["property"] == "genre" and r["task"] == "probe_linear")
    assert float(row["value"]) == g["accuracy"] and row["k"] == "" and row["kind"] == "categorical"
    assert {(r["task"], r["k"]) for r in table if r["property"] == "key"} >= {
        ("knn", "1"),
        ("knn", "5"),
        ("probe_linear", ""),
    }
    assert next(r for r in table if r["measure"] == "r2")["ci_low"] == ""  # no interval for R²


def test_probe_scores_shuffled_labels_at_chance():
    """The same embeddings with labels unrelated to them: the cross-validated score is near chance."""
    rng = np.random.default_rng(2)
    n = 150
    genre = rng.choice(["a", "b", "c"], n)
    x = rng.standard_normal((n, 8)).astype(np.float32)
    x[:, 0] += 6 * (genre == "a")
    x[:, 1] += 6 * (genre == "b")
    ids = [f"t{i}" for i in range(n)]
    emb = EmbeddingSet(ids, x)
    real = evaluate_embeddings(emb, _labels(ids, genre), ks=[5], probes=["linear"])
    fake = evaluate_embeddings(emb, _labels(ids, rng.permutation(genre)), ks=[5], probes=["linear"])
    assert real["probes"]["genre"]["linear"]["accuracy"] > 0.9
    lo, hi = fake["probes"]["genre"]["linear"]["accuracy_ci"]
    assert lo < 1 / 3 < hi + 0.05 and fake["probes"]["genre"]["linear"]["accuracy"] < 0.5


def _labels(ids, genre):
    vals = np.empty(len(ids), dtype=object)
    vals[:] = list(genre)
    return LabelTable(ids=list(ids), values={"genre": vals}, kinds={"genre": "categorical"})


def test_cv_folds_are_the_same_for_any_embeddings_and_cover_every_item():
    rng = np.random.default_rng(3)
    n = 100
    genre = rng.choice(["a", "b", "c", "d"], n)
    ids = [f"t{i}" for i in range(n)]
    items = []
    for d in (4, 7):
        emb = EmbeddingSet(ids, rng.standard_normal((n, d)).astype(np.float32))
        _, it = evaluate_embeddings(emb, _labels(ids, genre), ks=[3], probes=["linear"], seed=d, return_items=True)
        items.append(it)
    f1 = cv_folds(n, 5, 0, stratify=genre)
    assert (cv_folds(n, 5, 0, stratify=genre) == f1).all() and not (cv_folds(n, 5, 1, stratify=genre) == f1).all()
    assert np.bincount(f1).tolist() == [20] * 5
    for c in "abcd":  # stratified: each fold holds its share of every class
        assert np.ptp(np.bincount(f1[genre == c], minlength=5)) <= 1
    grouped = cv_folds(n, 5, 0, groups=np.arange(n) // 4)
    assert all(len(set(grouped[np.arange(n) // 4 == t])) == 1 for t in range(25))
    for it in items:
        s = it["scores"][("probe_linear", "genre", "", "accuracy")]
        assert np.isfinite(s).all() and set(np.unique(s)) <= {0.0, 1.0}
        assert it["ids"] == ids


def test_item_intervals_are_exact_binomial_and_stay_in_range():
    from scipy.stats import binomtest

    for k, n in ((23, 24), (5, 40), (0, 12)):
        v = np.r_[np.ones(k), np.zeros(n - k)]
        m, lo, hi = item_mean_interval(v)
        ref = binomtest(k, n).proportion_ci(method="exact")
        assert m == k / n and lo == pytest.approx(ref.low, abs=1e-9) and hi == pytest.approx(ref.high, abs=1e-9)
    m, lo, hi = item_mean_interval(np.ones(24))
    assert m == hi == 1.0 and 0.8 < lo < 1.0
    # graded scores: less spread than 0/1 scores of the same mean -> narrower, still inside [0, 1]
    v = np.random.default_rng(0).choice([0.2, 0.3, 0.5, 1.0], 60)
    m, lo, hi = item_mean_interval(v)
    assert 0 < lo < m < hi < 1
    lo2, hi2 = bounded_interval(0.98, 0.05, 1000)
    assert 0 <= lo2 < 0.98 < hi2 <= 1  # a t-interval would cross 1


def test_evaluate_without_usable_property_fails_in_one_line(tmp_path, capsys):
    n = 30
    (tmp_path / "t.csv").write_text("track_id,genre\n" + "\n".join(f"t{i},g{i % 3}" for i in range(n)) + "\n")
    write_embeddings(tmp_path / "emb", EmbeddingSet([f"t{i}" for i in range(n)], np.eye(n, 4, dtype=np.float32)))
    capsys.readouterr()
    rc = main(
        [
            "evaluate",
            "--embeddings",
            str(tmp_path / "emb"),
            "--labels",
            str(tmp_path / "t.csv"),
            "--k",
            "50",
            "--probes",
            "none",
            "--out",
            str(tmp_path / "ev"),
        ]
    )
    err = capsys.readouterr().err.strip()
    assert rc == 2 and len(err.splitlines()) == 1 and "no property that can be evaluated" in err, err


def test_official_split_scores_its_test_items_only():
    rng = np.random.default_rng(4)
    n = 60
    genre = rng.choice(["a", "b"], n)
    ids = [f"t{i}" for i in range(n)]
    labels = _labels(ids, genre)
    labels.splits = {i: ("test" if n_ % 5 == 0 else "valid" if n_ % 5 == 1 else "train") for n_, i in enumerate(ids)}
    x = rng.standard_normal((n, 4)).astype(np.float32)
    x[:, 0] += 5 * (genre == "a")
    res, it = evaluate_embeddings(
        EmbeddingSet(ids, x), labels, ks=[3], probes=["linear"], split="official", return_items=True
    )
    assert res["split"] == {"method": "official", "train": 36, "valid": 12, "test": 12}
    s = it["scores"][("probe_linear", "genre", "", "accuracy")]
    assert np.isfinite(s).sum() == 12 and np.isfinite(s[::5]).all()
    assert res["probes"]["genre"]["linear"]["n"] == 12 and res["probes"]["genre"]["linear"]["accuracy"] > 0.8

"""Locality estimated from a sample of queries against a full index: the estimate, its
standard error and interval against the full-population value."""

from __future__ import annotations

import numpy as np
import pytest

from tunespace import Index
from tunespace.embed.format import EmbeddingSet
from tunespace.errors import UsageError
from tunespace.keys import KEY_NAMES
from tunespace.labels import LabelTable
from tunespace.locality import sampled_locality
from tunespace.locality.profile import locality_terms


def _obj(items):
    out = np.empty(len(items), dtype=object)
    out[:] = list(items)
    return out


@pytest.fixture(scope="module")
def population():
    """3 000 items, 6 genres that shape the embeddings partly, keys unrelated, groups of 3."""
    rng = np.random.default_rng(7)
    n = 3000
    genre = rng.integers(0, 6, n)
    centres = rng.standard_normal((6, 8))
    x = (0.6 * centres[genre] + rng.standard_normal((n, 8))).astype(np.float32)
    ids = [f"t{i:05d}" for i in range(n)]
    key = rng.choice(KEY_NAMES[:12], n).astype(object)
    key[rng.random(n) < 0.1] = None  # unlabelled items: neither queries nor neighbours
    labels = LabelTable(
        ids=ids,
        values={"genre": _obj([f"g{v}" for v in genre]), "key": key, "album": _obj([str(i // 3) for i in range(n)])},
        kinds={"genre": "categorical", "key": "key", "album": "categorical"},
    )
    emb = EmbeddingSet(ids=ids, vectors=x, name="pop")
    return emb, labels, Index.build(emb)


def _full(emb, labels, ks, groups=None):
    """The full-population locality from every query (the existing exact path)."""
    t = locality_terms(emb, labels, ks, ["genre", "key"], groups=groups)
    out = {}
    for name, term in t["terms"].items():
        a, c = term["agreement"].mean(axis=0), term["chance"].mean()
        out[name] = ((a - c) / (1 - c), c)
    return out


@pytest.mark.parametrize("groups", [None, "album"])
def test_interval_covers_the_population_value_and_se_is_calibrated(population, groups):
    emb, labels, index = population
    ks = [10]
    full = _full(emb, labels, ks, groups)
    seeds = range(40)
    est = {m: [] for m in full}
    cover = {m: 0 for m in full}
    se = {m: [] for m in full}
    for seed in seeds:
        prof = sampled_locality(index, labels, 150, ks, ["genre", "key"], groups=groups, seed=seed)
        for m, (value, chance) in full.items():
            r = prof["properties"][m]["10"]
            assert r["chance"] == pytest.approx(chance, abs=1e-12)  # chance: exact, not sampled
            lo, hi = r["locality_ci"]
            cover[m] += lo <= value[0] <= hi
            est[m].append(r["locality"])
            se[m].append(r["locality_se"])
    assert full["genre"][0][0] > 0.15  # a property the embeddings carry, and ...
    assert abs(full["key"][0][0]) < 0.05  # ... one they do not
    for m in full:
        # nominal 95 %: fewer than 34 of 40 has probability < 0.01 if the interval is right
        assert cover[m] >= 34, (m, cover[m])
        # the stated SE matches the spread of the estimate over seeds (too narrow or too wide fails)
        ratio = np.std(est[m], ddof=1) / np.mean(se[m])
        assert 0.7 < ratio < 1.4, (m, ratio)
        assert abs(np.mean(est[m]) - full[m][0][0]) < 3 * np.std(est[m], ddof=1) / np.sqrt(len(seeds))


def test_every_item_sampled_gives_the_population_value_with_zero_error(population, tmp_path):
    emb, labels, index = population
    index.save(tmp_path / "idx")
    full = _full(emb, labels, [1, 10])
    prof = sampled_locality(tmp_path / "idx", labels, 10**6, [1, 10], ["genre", "key"])
    for m, (value, _) in full.items():
        for j, k in enumerate([1, 10]):
            r = prof["properties"][m][str(k)]
            assert r["locality"] == pytest.approx(value[j], abs=1e-9)
            assert r["locality_se"] == 0.0 and r["n_queries"] == r["n_population"]
    assert prof["properties"]["key"]["10"]["n_population"] < 3000  # unlabelled keys left out
    again = sampled_locality(index, labels, 100, [10], ["genre"], seed=3)
    assert again == sampled_locality(index, labels, 100, [10], ["genre"], seed=3)  # seeded


def test_sampled_locality_errors_are_one_line(population):
    _, labels, index = population
    with pytest.raises(UsageError, match="--sample-queries must be an integer >= 2"):
        sampled_locality(index, labels, 1, [10])
    with pytest.raises(UsageError, match="k=3000 is more than"):
        sampled_locality(index, labels, 10, [3000], ["genre"])
    with pytest.raises(UsageError, match="no property 'tempo'"):
        sampled_locality(index, labels, 10, [10], ["tempo"])


def test_cli_locality_from_an_index_with_sampled_queries(population, tmp_path, capsys):
    import csv
    import json

    from tunespace.cli import main

    emb, labels, index = population
    index.save(tmp_path / "idx")
    with open(tmp_path / "labels.csv", "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["track_id", "genre"])
        w.writerows(zip(labels.ids, labels.values["genre"]))
    base = ["locality", "--labels", str(tmp_path / "labels.csv"), "--k", "10", "--out", str(tmp_path / "rep")]
    args = [*base, "--index", str(tmp_path / "idx"), "--sample-queries", "200", "--seed", "1"]
    assert main(args) == 0
    out = capsys.readouterr().out
    assert "genre k=10: L = " in out and "from 200 of 3000 queries" in out
    data = json.loads((tmp_path / "rep" / "locality.json").read_text())
    (prof,) = data["sets"].values()
    r = prof["properties"]["genre"]["10"]
    assert r["n_queries"] == 200 and r["locality_ci"][0] < r["locality"] < r["locality_ci"][1]
    assert prof["sampling"]["queries"] == 200 and "sampled queries" in (tmp_path / "rep" / "locality.md").read_text()
    for bad, message in [
        ([*base, "--index", str(tmp_path / "idx")], "--index needs --sample-queries"),
        ([*base, "--index", str(tmp_path / "idx"), "--sample-queries", "9", "--bootstrap", "5"], "--bootstrap does"),
        ([*base, "--sample-queries", "9", "--embeddings", str(tmp_path)], "--sample-queries needs --index"),
        (base, "give either --embeddings"),
        ([*base, "--index", str(tmp_path / "idx"), "--sample-queries", "1"], "--sample-queries must be"),
    ]:
        assert main(bad) == 2
        err = capsys.readouterr().err.strip()
        assert message in err and "\n" not in err, err

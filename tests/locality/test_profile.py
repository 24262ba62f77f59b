import csv
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
    labels = LabelTable(
        ids=ids,
        values={
            "genre": _obj(genre),
            "key": _obj(keys),
            "tempo_bpm": tempo,
            "group": _obj([str(i // 4) for i in range(n)]),
        },
        kinds={"genre": "categorical", "key": "key", "tempo_bpm": "tempo", "group": "categorical"},
    )
    return emb, labels, genre, keys, tempo


def plain_locality(x, y, k, agree, groups=None):
    """Plain-python reference of A_k, C and L_k from the brief's definitions."""
    n = len(x)
    xn = x / np.linalg.norm(x, axis=1, keepdims=True)
    s = xn.astype(np.float64) @ xn.T.astype(np.float64)
    a_sum = c_sum = 0.0
    for i in range(n):
        cand = sorted(
            (j for j in range(n) if j != i and (groups is None or groups[j] != groups[i])), key=lambda j: (-s[i, j], j)
        )[:k]
        a_sum += sum(agree(y[i], y[j]) for j in cand) / k
        others = [j for j in range(n) if j != i and (groups is None or groups[j] != groups[i])]
        c_sum += sum(agree(y[i], y[j]) for j in others) / len(others)
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
        "key": (keys, lambda a, b: a == b),  # exact: same tonic and mode
        "key_graded": (keys, mir_eval.key.weighted_score),
        "tempo_bpm": (tempo, lambda a, b: abs(b / a - 1) <= 0.04 + 1e-12),
        "tempo_bpm_acc2": (
            tempo,
            lambda a, b: any(abs(b / (m * a) - 1) <= 0.04 + 1e-12 for m in (1, 2, 0.5, 3, 1 / 3)),
        ),
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


def test_groups_are_excluded_from_neighbours_and_chance(case):
    emb, labels, genre, keys, tempo = case
    prof = locality_profile(emb, labels, [3], ["genre", "key", "tempo_bpm"], groups="group", bootstrap=0)
    groups = np.array([i // 4 for i in range(120)])
    import mir_eval

    x = np.asarray(emb.vectors)
    checks = {
        "genre": (genre, lambda p, q: p == q),
        "key": (keys, lambda p, q: p == q),
        "key_graded": (keys, mir_eval.key.weighted_score),
        "tempo_bpm_acc2": (
            tempo,
            lambda a, b: any(abs(b / (m * a) - 1) <= 0.04 + 1e-12 for m in (1, 2, 0.5, 3, 1 / 3)),
        ),
    }
    for name, (y, agree) in checks.items():
        a, c, loc = plain_locality(x, y, 3, agree, groups)
        r = prof["properties"][name]["3"]
        assert r["agreement"] == pytest.approx(a) and r["chance"] == pytest.approx(c), name  # chance outside the group
        assert r["locality"] == pytest.approx(loc), name


def test_random_embeddings_with_groups_score_zero():
    """Excerpts of a track share its labels; with their group excluded from the neighbours, a
    chance term over all N - 1 items would make random embeddings score below 0."""
    rng = np.random.default_rng(3)
    n_tracks, per = 50, 8
    genre = np.repeat(rng.choice(list("abcdefghij"), n_tracks), per)
    tempo = np.repeat(rng.choice([80.0, 100.0, 120.0, 160.0], n_tracks), per)
    group = np.repeat(np.arange(n_tracks), per).astype(str)
    ids = [f"x{i}" for i in range(len(genre))]
    labels = LabelTable(
        ids=ids,
        values={"genre": _obj(genre), "tempo_bpm": tempo, "track": _obj(group)},
        kinds={"genre": "categorical", "tempo_bpm": "tempo", "track": "categorical"},
    )
    locs, old = [], []
    for _ in range(30):
        emb = EmbeddingSet(ids=ids, vectors=rng.standard_normal((len(ids), 8)).astype(np.float32))
        p = locality_profile(emb, labels, [10], ["genre", "tempo_bpm"], groups="track", bootstrap=0)
        locs.append([p["properties"][m]["10"]["locality"] for m in ("genre", "tempo_bpm")])
        a = p["properties"]["genre"]["10"]["agreement"]
        c_all = float(np.mean([(np.sum(genre == g) - 1) / (len(genre) - 1) for g in genre]))  # over all N - 1
        old.append((a - c_all) / (1 - c_all))
    locs, old = np.asarray(locs), np.asarray(old)
    se = locs.std(axis=0, ddof=1) / np.sqrt(len(locs))
    assert (np.abs(locs.mean(axis=0)) < 3 * se).all(), (locs.mean(axis=0), se)
    assert old.mean() < -5 * se[0]  # the ungrouped chance term would fail this test


def test_null_spread_of_random_embeddings(case):
    emb, labels, *_ = case
    prof = locality_profile(emb, labels, [5], ["genre", "key"], bootstrap=0, null_replicates=150, seed=4)
    again = locality_profile(emb, labels, [5], ["genre", "key"], bootstrap=0, null_replicates=150, seed=4)
    # an independent estimate: locality of random embeddings drawn here
    rng = np.random.default_rng(9)
    ref = []
    for _ in range(150):
        e = EmbeddingSet(ids=emb.ids, vectors=rng.standard_normal((len(emb.ids), 32)).astype(np.float32))
        p = locality_profile(e, labels, [5], ["genre", "key"], bootstrap=0)
        ref.append([p["properties"][m]["5"]["locality"] for m in ("genre", "key")])
    ref = np.asarray(ref)
    for j, m in enumerate(("genre", "key")):
        r = prof["properties"][m]["5"]
        assert r["null_sd"] == again["properties"][m]["5"]["null_sd"]  # seeded
        assert r["null_sd"] == pytest.approx(ref[:, j].std(ddof=1), rel=0.25)
        assert abs(r["null_mean"]) < 3 * r["null_sd"] / np.sqrt(150)
    assert prof["properties"]["genre"]["5"]["locality"] > 10 * prof["properties"]["genre"]["5"]["null_sd"]


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
    p1 = locality_profile(emb, labels, [1, 5], ["genre", "tempo_bpm"], bootstrap=50, null_replicates=5)
    write_locality_report(tmp_path / "r", {"set1": p1}, {"k": [1, 5]})
    for f in ("locality.json", "locality.csv", "locality.md", "locality.png", "config.json", "join.json"):
        assert (tmp_path / "r" / f).stat().st_size > 0
    data = read_locality(tmp_path / "r")["set1"]
    md = (tmp_path / "r" / "locality.md").read_text()
    for m, byk in data["properties"].items():
        for k, r in byk.items():
            assert r["locality"] == pytest.approx((r["agreement"] - r["chance"]) / (1 - r["chance"]))
            assert f"| {m} | {k} | {r['agreement']:.3f} | {r['chance']:.3f} | {r['locality']:.3f} [" in md
            assert f"| {r['null_sd']:.3f} |" in md
    rows = list(csv.DictReader(open(tmp_path / "r" / "locality.csv")))
    assert len(rows) == 3 * 2  # 3 measures x 2 ks
    by = {(r["measure"], r["k"]): r for r in rows}
    assert by[("tempo_bpm_acc2", "5")]["property"] == "tempo_bpm" and by[("tempo_bpm_acc2", "5")]["kind"] == "tempo"
    r5 = data["properties"]["tempo_bpm_acc2"]["5"]
    assert float(by[("tempo_bpm_acc2", "5")]["locality"]) == r5["locality"]
    assert float(by[("tempo_bpm_acc2", "5")]["null_sd"]) == r5["null_sd"]
    assert [float(by[("genre", "1")][c]) for c in ("locality_ci_low", "locality_ci_high")] == data["properties"][
        "genre"
    ]["1"]["locality_ci"]


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
    rc = main(
        [
            "locality",
            "--embeddings",
            str(tmp_path / "a"),
            str(tmp_path / "b"),
            "--labels",
            str(tmp_path / "tracks.csv"),
            "--k",
            "1,3",
            "--bootstrap",
            "20",
            "--out",
            str(tmp_path / "rep"),
        ]
    )
    assert rc == 0
    assert "1 embedded without labels (e.g. extra)" in capsys.readouterr().out
    data = json.loads((tmp_path / "rep" / "locality.json").read_text())
    assert data["format"] == "tunespace-locality/2"
    assert list(data["sets"]) == ["a", "b"] and data["sets"]["b"]["join"]["missing_labels"] == 1
    header = (tmp_path / "rep" / "locality.md").read_text().splitlines()
    assert any(re.match(r"\| measure \| k \| a A .* b A", h) for h in header)
    rows = list(csv.DictReader(open(tmp_path / "rep" / "locality.csv")))
    assert {r["set"] for r in rows} == {"a", "b"} and len(rows) == 2 * 3 * 2  # sets x measures x ks
    # one set: the same layout
    assert (
        main(
            [
                "locality",
                "--embeddings",
                str(tmp_path / "a"),
                "--labels",
                str(tmp_path / "tracks.csv"),
                "--k",
                "1,3",
                "--bootstrap",
                "0",
                "--null-replicates",
                "0",
                "--out",
                str(tmp_path / "one"),
            ]
        )
        == 0
    )
    one = json.loads((tmp_path / "one" / "locality.json").read_text())
    assert one["format"] == data["format"] and list(one["sets"]) == ["a"]
    assert (
        one["sets"]["a"]["properties"]["genre"]["3"]["agreement"]
        == data["sets"]["a"]["properties"]["genre"]["3"]["agreement"]
    )
    assert (
        main(
            [
                "locality",
                "--embeddings",
                str(tmp_path / "a"),
                "--labels",
                str(tmp_path / "tracks.csv"),
                "--k",
                "x",
                "--out",
                str(tmp_path / "r2"),
            ]
        )
        == 2
    )


def test_labels_without_a_usable_property_fail_in_one_line(tmp_path, capsys):
    n = 20
    (tmp_path / "t.csv").write_text("track_id,arousal\n" + "\n".join(f"t{i},{i / n}" for i in range(n)) + "\n")
    write_embeddings(tmp_path / "a", EmbeddingSet([f"t{i}" for i in range(n)], np.eye(n, 4, dtype=np.float32)))
    capsys.readouterr()
    rc = main(
        [
            "locality",
            "--embeddings",
            str(tmp_path / "a"),
            "--labels",
            str(tmp_path / "t.csv"),
            "--properties",
            "arousal:continuous",
            "--k",
            "1",
            "--out",
            str(tmp_path / "r"),
        ]
    )
    err = capsys.readouterr().err.strip()
    assert rc == 2 and len(err.splitlines()) == 1 and "no property whose locality can be measured" in err, err
    assert not (tmp_path / "r" / "locality.json").exists()

import json

import numpy as np
import pytest

from tunespace.cli import main
from tunespace.embed.format import EmbeddingSet, write_embeddings
from tunespace.probes import fit_probe, split_items


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
    x[:, 0] += 4 * (genre == "a")
    x[:, 1] += (tempo - 100) * 2
    x[:, 2] += 4 * (keys == "G major")
    rows = "\n".join(f"t{i},{genre[i]},{tempo[i]},{keys[i]},{int(i % 2 == 0)},a;b" for i in range(n))
    (tmp_path / "t.csv").write_text("track_id,genre,tempo_bpm,key,arousal,tags\n" + rows + "\n")
    write_embeddings(tmp_path / "emb", EmbeddingSet([f"t{i}" for i in range(n)], x.astype(np.float32)))
    rc = main(["evaluate", "--embeddings", str(tmp_path / "emb"), "--labels", str(tmp_path / "t.csv"),
               "--properties", "genre,tempo_bpm,key,arousal:continuous,tags:tags", "--k", "1,5",
               "--probes", "linear", "--out", str(tmp_path / "ev")])
    assert rc == 0
    res = json.loads((tmp_path / "ev" / "evaluation.json").read_text())
    assert set(res["retrieval"]) == {"genre", "key"}
    assert res["retrieval"]["key"]["5"]["accuracy"] > 0.8
    assert res["retrieval"]["key"]["5"]["key_score"] >= res["retrieval"]["key"]["5"]["accuracy"]
    assert res["probes"]["tempo_bpm"]["linear"]["acc1"] > 0.8
    assert 0 <= res["probes"]["genre"]["linear"]["accuracy"] <= 1
    assert "r2" in res["probes"]["arousal"]["linear"]
    assert res["probes"]["tags"]["linear"]["n_tags_skipped"] == 2  # all-positive tags: no AUC
    md = (tmp_path / "ev" / "evaluation.md").read_text()
    assert f"| genre | 1 | {res['retrieval']['genre']['1']['accuracy']:.3f} |" in md
    assert json.loads((tmp_path / "ev" / "config.json").read_text())["probes"] == ["linear"]

"""A study's analysis stage: with an evaluation set's ``groups`` column, neighbours of the query's
group (e.g. other renders of the same piece) do not count, in locality, the noise floor and k-NN."""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np
from tests.conftest import tiny_study_overrides

from tunespace.embed import EmbeddingSet, write_embeddings
from tunespace.study import resolve_study_config
from tunespace.study.analysis import analyse, noise_floor
from tunespace.study.runner import study_graph

ACFG = {"ks": [1, 3], "headline_k": 3, "bootstrap": 0, "knn_k": 1, "probes": [], "properties": ["genre"]}


def _twins(tmp_path: Path) -> tuple[Path, Path]:
    """40 pieces of 4 genres, two renders each: the renders of a piece are near-identical
    vectors, the pieces random ones, so a render's nearest neighbour is its twin."""
    rng = np.random.default_rng(0)
    pieces = rng.standard_normal((40, 16)).astype(np.float32)
    ids, vectors, rows = [], [], []
    for p in range(40):
        for r in range(2):
            ids.append(f"p{p}r{r}")
            vectors.append(pieces[p] + 0.01 * rng.standard_normal(16).astype(np.float32))
            rows.append({"track_id": ids[-1], "genre": f"g{p % 4}", "piece": f"piece{p}"})
    emb = write_embeddings(tmp_path / "emb", EmbeddingSet(ids, np.stack(vectors)))
    labels = tmp_path / "labels.csv"
    with open(labels, "w", newline="", encoding="utf-8") as f:
        w = csv.DictWriter(f, fieldnames=["track_id", "genre", "piece"])
        w.writeheader()
        w.writerows(rows)
    return emb, labels


def _value(rows: list[dict], prop: str, metric: str, k) -> float:
    return next(r["value"] for r in rows if r["property"] == prop and r["metric"] == metric and r["k"] == k)


def test_groups_leave_the_query_s_own_piece_out_of_its_neighbours(tmp_path):
    emb, labels = _twins(tmp_path)
    plain = analyse(emb, labels, ACFG)
    grouped = analyse(emb, labels, {**ACFG, "groups": "piece"}, out=tmp_path / "out")
    # the twin shares the genre: L@1 and k-NN are perfect with it, near chance without it
    assert _value(plain, "genre", "agreement", 1) == 1.0
    assert _value(plain, "genre", "locality", 1) == 1.0
    assert _value(grouped, "genre", "locality", 1) < 0.4
    assert _value(plain, "genre", "knn_accuracy", 1) == 1.0
    assert _value(grouped, "genre", "knn_accuracy", 1) < 0.5
    assert not any(r["property"].startswith("piece") for r in grouped)  # the group column is not a property
    assert (tmp_path / "out" / "items.npz").is_file()
    # the noise floor is that of the same grouped neighbourhoods
    floor = noise_floor(labels, {**ACFG, "null_replicates": 5, "null_seed": 0, "groups": "piece"})
    assert set(floor) == {"genre"} and floor["genre"]["3"][1] > 0


def test_an_evaluation_set_s_groups_reach_its_analysis_and_noise_floor_stages(train_corpus, tmp_path):
    over = tiny_study_overrides(train_corpus)
    plain = study_graph(resolve_study_config(None, "demo", over), tmp_path)
    grouped_cfg = resolve_study_config(
        None, "demo", [*over, f"eval_data=[{{name: ev, path: {train_corpus}, groups: instrument}}]"]
    )
    grouped = study_graph(grouped_cfg, tmp_path)
    by_name = {t.name: t for t in grouped.tasks}
    analysis = next(t for n, t in by_name.items() if n.startswith("analyse none"))
    null = next(t for n, t in by_name.items() if n.startswith("noise floor"))
    assert analysis.args["analysis"]["groups"] == "instrument" and null.args["analysis"]["groups"] == "instrument"
    keys = {t.name: t.stage.key for t in plain.tasks}
    changed = {t.name for t in grouped.tasks if keys[t.name] != t.stage.key}
    assert changed == {t.name for t in grouped.tasks if t.action in ("analysis", "null")}
    assert "groups" not in next(t for t in plain.tasks if t.action == "analysis").args["analysis"]

"""``tunespace serve --study``: a finished tiny study served end to end (its trained models embed uploads)."""

from __future__ import annotations

import pytest
from tests.conftest import tiny_study_overrides

from tunespace.errors import UsageError


@pytest.fixture(scope="module")
def study(train_corpus, tmp_path_factory):
    """Conditions none and ts, one seed, two training steps of a tiny model, evaluated on the same
    corpus, with the MFCC and random baselines."""
    from tunespace.study import resolve_study_config, run_study

    cfg = resolve_study_config(
        None, "demo", [*tiny_study_overrides(train_corpus, "none, ts"), "baselines=[mfcc, random]"]
    )
    out = tmp_path_factory.mktemp("study") / "s"
    run_study(out, cfg, progress=lambda msg: None)
    return out


@pytest.fixture(scope="module")
def study_client(study):
    from fastapi.testclient import TestClient

    from tunespace.serve.app import create_app
    from tunespace.serve.maps import MapStore, pca_layout
    from tunespace.serve.sources import from_study

    served = from_study(study)
    app = create_app(served, maps=MapStore(reducer=pca_layout))
    with TestClient(app) as c:
        yield c


def test_a_study_serves_one_index_per_condition_with_its_labels_and_audio(study, study_client, train_corpus):
    from tunespace.embed.format import read_embeddings

    info = study_client.get("/api/info").json()
    assert [i["name"] for i in info["indexes"]] == ["none", "ts"]
    assert all(i["can_embed"] and i["n"] == 16 and i["dim"] == 16 for i in info["indexes"])
    assert {"genre", "tempo_bpm", "key", "mood", "instrument"} <= {p["name"] for p in info["properties"]}
    assert info["has_audio"] and info["n_tracks"] == 16
    # each index holds the seed-0 embeddings of its condition, as the study wrote them
    embs = {}
    for stage in (study / "stages").glob("embed-*"):
        emb = read_embeddings(stage / "emb")
        embs[emb.meta["model"]["augment"]["policy"]] = emb
    served = study_client.app.state.served
    for s in served.indexes:
        assert s.ids == embs[s.name].ids
        assert (
            abs(
                s.vectors() - embs[s.name].vectors / (1e-12 + (embs[s.name].vectors ** 2).sum(1, keepdims=True) ** 0.5)
            ).max()
            < 1e-5
        )
    tid = info and study_client.get("/api/tracks").json()["tracks"][3]["id"]
    a = study_client.get("/api/indexes/none/neighbours", params={"id": tid, "k": 5}).json()
    b = study_client.get("/api/indexes/ts/neighbours", params={"id": tid, "k": 5}).json()
    assert len(a["neighbours"]) == len(b["neighbours"]) == 5
    assert a["query"]["labels"]["genre"] and a["neighbours"][0]["labels"]["genre"]
    path = served.catalogue.audio_path(tid)
    assert path is not None and path.is_relative_to(train_corpus.resolve())
    r = study_client.get(f"/api/audio/{tid}", headers={"Range": "bytes=0-99"})
    assert r.status_code == 206 and r.content == path.read_bytes()[:100]


def test_a_study_model_embeds_uploads_as_the_study_did(study_client):
    served = study_client.app.state.served
    tid = served.indexes[1].ids[5]
    data = served.catalogue.audio_path(tid).read_bytes()
    r = study_client.post("/api/indexes/ts/neighbours", params={"k": 3}, files={"file": ("q.flac", data, "audio/flac")})
    assert r.status_code == 200, r.text
    top = r.json()["neighbours"][0]
    assert top["id"] == tid and top["similarity"] > 0.999


def test_study_errors_say_what_is_missing(study, tmp_path):
    from tunespace.serve.sources import from_study

    with pytest.raises(UsageError, match="not a study folder"):
        from_study(tmp_path)
    with pytest.raises(UsageError, match="no evaluation set 'nope'.*ev"):
        from_study(study, "nope")
    # an unfinished study: remove one embedding stage's completion marker
    import shutil

    copy = tmp_path / "copy"
    shutil.copytree(study, copy, symlinks=True)
    marker = next((copy / "stages").glob("embed-*/done.json"))
    marker.unlink()
    with pytest.raises(UsageError, match="has no finished embeddings"):
        from_study(copy)


def test_a_study_stays_readable_after_the_code_changes(study, monkeypatch):
    """A code change makes a rerun recompute every stage, yet the explorer and the report's readers
    still find the finished stages (noting that other code computed them)."""
    import tunespace.study.cache as cache
    import tunespace.study.runner as runner
    from tunespace.files import read_json
    from tunespace.serve.sources import from_study

    before = cache.code_fingerprint()
    cfg = read_json(study / "config.json")
    assert all(t.done for t in runner.study_graph(cfg, study / "stages").tasks)
    for mod in (cache, runner):
        monkeypatch.setattr(mod, "code_fingerprint", lambda: "0+000000000000")
    assert not any(t.done for t in runner.study_graph(cfg, study / "stages").tasks)  # a rerun recomputes
    graph = runner.study_graph(cfg, study / "stages", reading=True)
    assert all(t.done for t in graph.tasks) and graph.other_code() == [before]
    served = from_study(study)
    assert [s.name for s in served.indexes] == ["none", "ts"]
    assert any(before in n and "other tunespace code" in n for n in served.notes)


def test_baselines_are_served_beside_the_conditions_without_uploads(study):
    from tunespace.serve.sources import from_study

    served = from_study(study, baselines=True)
    assert [s.name for s in served.indexes] == ["none", "ts", "baseline-mfcc", "baseline-random"]
    assert [s.model_path is None for s in served.indexes] == [False, False, True, True]
    assert all(s.model_path.endswith("run") or "step_" in s.model_path for s in served.indexes[:2])
    ids = served.indexes[0].index.ids
    assert all(s.index.ids == ids for s in served.indexes) and len(ids) == 16

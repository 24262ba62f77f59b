"""Neighbour queries: the Index (build, save, load, search, exclusions) and query_neighbours."""

from __future__ import annotations

import json
import warnings

import numpy as np
import pytest

from tunespace import Index
from tunespace.embed.format import EmbeddingSet, write_embeddings
from tunespace.errors import UnknownIdError, UsageError
from tunespace.index import build_index, query_neighbours
from tunespace.labels import LabelTable


def _emb(n=50, d=8, seed=0, name="emb"):
    rng = np.random.default_rng(seed)
    ids = [f"album{i % 5}/t{i:03d}" for i in range(n)]
    return EmbeddingSet(ids=ids, vectors=rng.standard_normal((n, d)).astype(np.float32), meta={}, name=name)


def _brute(emb, q, k, excluded=()):
    x = emb.vectors / np.linalg.norm(emb.vectors, axis=1, keepdims=True)
    s = x @ (q / np.linalg.norm(q))
    order = [i for i in np.argsort(-s, kind="stable") if emb.ids[i] not in excluded]
    return [emb.ids[i] for i in order[:k]], s[order[:k]]


def test_search_matches_brute_force_and_save_load(tmp_path):
    emb = _emb()
    idx = Index.build(emb)
    q = np.random.default_rng(1).standard_normal(8).astype(np.float32)
    got = idx.search(q, 7)[0]
    ids, sims = _brute(emb, q, 7)
    assert [n.id for n in got] == ids and [n.rank for n in got] == list(range(1, 8))
    np.testing.assert_allclose([n.similarity for n in got], sims, rtol=1e-5)
    idx.save(tmp_path / "idx")
    back = Index.load(tmp_path / "idx")
    assert back.ids == emb.ids and back.dim == 8 and len(back) == 50 and back.method == "exact"
    assert back.search(q, 7)[0] == got
    meta = json.loads((tmp_path / "idx" / "index.json").read_text())
    assert meta["format_version"] == 1 and meta["n"] == 50 and meta["metric"] == "cosine"
    np.testing.assert_allclose(np.linalg.norm(back.vectors(), axis=1), 1.0, rtol=1e-5)


def test_from_vectors_indexes_arrays_and_records_the_model_for_audio_queries(tiny_run, train_corpus, tmp_path):
    """Vectors made in Python become an index equal to one built from an EMB folder; with their
    model recorded, the saved index answers an audio query exactly as ``Model.embed`` would."""
    import tunespace
    from tunespace.datasets import open_dataset

    emb = _emb()
    idx = Index.from_vectors(emb.ids, emb.vectors)
    assert [n.id for n in idx.neighbours_of(emb.ids[3], 6)] == [
        n.id for n in Index.build(emb).neighbours_of(emb.ids[3], 6)
    ]
    assert idx.model_path is None
    with pytest.raises(UsageError, match="do not match"):
        Index.from_vectors(emb.ids[:-1], emb.vectors)
    with pytest.raises(UsageError, match="not unique"):
        Index.from_vectors(["a", "a"], emb.vectors[:2])

    model = tunespace.load_model(tiny_run)
    tracks = open_dataset(train_corpus).tracks[:6]
    vectors = np.stack([model.embed(t.path) for t in tracks])
    Index.from_vectors([t.id for t in tracks], vectors, model=model).save(tmp_path / "idx")
    back = Index.load(tmp_path / "idx")
    assert back.model_path == model.meta["checkpoint"]
    got = query_neighbours(tmp_path / "idx", audio=tracks[2].path, k=3).neighbours
    want = back.search(model.embed(tracks[2].path), 3)[0]
    assert [n.id for n in got] == [n.id for n in want] and got[0].id == tracks[2].id


def test_neighbours_of_excludes_itself_and_its_group():
    emb = _emb()
    idx = Index.build(emb)
    v = emb.vectors[3]
    got = idx.neighbours_of("album3/t003", 5)
    assert "album3/t003" not in [n.id for n in got]
    assert [n.id for n in got] == _brute(emb, v, 5, excluded={"album3/t003"})[0]
    album = {i: i.split("/")[0] for i in emb.ids}
    got = idx.neighbours_of("album3/t003", 5, groups=album)
    assert all(not n.id.startswith("album3/") for n in got)
    assert [n.id for n in got] == _brute(emb, v, 5, excluded={i for i in emb.ids if i.startswith("album3/")})[0]
    got_fn = idx.neighbours_of("album3/t003", 5, groups=lambda i: i.split("/")[0])
    assert got_fn == got
    codes = idx.group_codes(album)
    assert codes.shape == (len(idx),) and codes.dtype == np.int64
    assert idx.neighbours_of("album3/t003", 5, groups=codes) == got


def test_group_codes_equal_for_equal_groups_and_minus_one_for_none():
    emb = _emb(n=12)
    idx = Index.build(emb)
    groups = {i: (None if n % 4 == 0 else float("nan") if n % 4 == 1 else n % 2) for n, i in enumerate(emb.ids)}
    codes = idx.group_codes(groups)
    for n, i in enumerate(idx.ids):
        g = groups[i]
        if g is None or g != g:
            assert codes[n] == -1
        else:
            assert codes[n] >= 0 and all((codes[m] == codes[n]) == (groups[j] == g) for m, j in enumerate(idx.ids))
    # an item without a group leaves out only itself, as without groups
    loner = idx.ids[0]
    assert idx.neighbours_of(loner, 5, groups=codes) == idx.neighbours_of(loner, 5)
    with pytest.raises(UsageError, match="do not match"):
        idx.neighbours_of(loner, 5, groups=codes[:-1])


def test_k_larger_than_catalogue_warns_and_gives_all():
    idx = Index.build(_emb(n=6))
    with pytest.warns(UserWarning, match="eligible"):
        got = idx.neighbours_of("album0/t000", 50)
    assert len(got) == 5
    with pytest.warns(UserWarning):
        assert len(idx.search(np.ones(8, np.float32), 10)[0]) == 6
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert len(idx.search(np.ones(8, np.float32), 6)[0]) == 6


def test_errors():
    idx = Index.build(_emb())
    with pytest.raises(UnknownIdError):
        idx.neighbours_of("nope", 3)
    with pytest.raises(KeyError):  # also a KeyError, for dict-like use
        idx.row_of("nope")
    with pytest.raises(UsageError, match="k must be"):
        idx.search(np.ones(8), 0)
    with pytest.raises(UsageError, match="dimension"):
        idx.search(np.ones(9), 3)
    with pytest.raises(UsageError, match="unknown index method"):
        Index.build(_emb(), "lsh")


def test_load_refuses_mismatched_or_foreign_folders(tmp_path):
    Index.build(_emb()).save(tmp_path / "a")
    with pytest.raises(UsageError, match="not an index folder"):
        Index.load(tmp_path)
    (tmp_path / "a" / "ids.txt").write_text("x\n" * 50)
    with pytest.raises(UsageError, match="does not match"):
        Index.load(tmp_path / "a")
    Index.build(_emb()).save(tmp_path / "b")
    meta = json.loads((tmp_path / "b" / "index.json").read_text())
    meta["format_version"] = 99
    (tmp_path / "b" / "index.json").write_text(json.dumps(meta))
    with pytest.raises(UsageError, match="format version"):
        Index.load(tmp_path / "b")


@pytest.mark.parametrize("method", ["ivf", "hnsw"])
def test_approximate_indexes_find_the_true_neighbours_on_clustered_data(method, tmp_path):
    rng = np.random.default_rng(0)
    centres = rng.standard_normal((20, 16))
    x = (centres[rng.integers(0, 20, 2000)] + 0.05 * rng.standard_normal((2000, 16))).astype(np.float32)
    emb = EmbeddingSet(ids=[f"t{i}" for i in range(2000)], vectors=x, name="c")
    exact, approx = Index.build(emb), Index.build(emb, method)
    approx.save(tmp_path / "i")
    approx = Index.load(tmp_path / "i")
    hits = 0
    for i in range(0, 2000, 100):
        a = {n.id for n in approx.neighbours_of(f"t{i}", 10)}
        e = {n.id for n in exact.neighbours_of(f"t{i}", 10)}
        hits += len(a & e)
    assert hits / 200 >= 0.9
    np.testing.assert_allclose(approx.vector("t5"), x[5] / np.linalg.norm(x[5]), rtol=1e-5)


def test_query_neighbours_with_labels_and_groups(tmp_path):
    emb = _emb()
    write_embeddings(tmp_path / "emb", emb)
    build_index(tmp_path / "emb", tmp_path / "idx")
    labels = LabelTable(
        ids=emb.ids,
        values={"genre": np.array([f"g{i % 3}" for i in range(50)], dtype=object)},
        kinds={"genre": "categorical"},
    )
    res = query_neighbours(tmp_path / "idx", track="album1/t001", k=4, labels=labels, exclude_same="folder")
    assert len(res.neighbours) == 4 and all(not n.id.startswith("album1/") for n in res.neighbours)
    d = res.to_dict()
    assert d["query"]["labels"] == {"genre": "g1"}
    assert all(set(n) == {"rank", "id", "similarity", "labels"} for n in d["neighbours"])
    table = res.table().splitlines()
    assert table[0].split() == ["rank", "id", "similarity", "genre"] and len(table) == 5
    res = query_neighbours(tmp_path / "idx", track="album1/t001", k=3, labels=labels, exclude_same="genre")
    assert all(res.labels[n.id]["genre"] != "g1" for n in res.neighbours)
    with pytest.raises(UsageError, match="exclude-same"):
        query_neighbours(tmp_path / "idx", track="album1/t001", exclude_same="mood", labels=labels)
    with pytest.raises(UsageError, match="exactly one"):
        query_neighbours(tmp_path / "idx")
    with pytest.raises(UsageError, match="no loadable model"):
        query_neighbours(tmp_path / "idx", audio=tmp_path / "x.wav")


@pytest.fixture()
def one_faiss_thread():
    """OpenMP's spinning threads make small builds several times slower on a busy 2-core machine."""
    import faiss

    before = faiss.omp_get_max_threads()
    faiss.omp_set_num_threads(1)
    yield
    faiss.omp_set_num_threads(before)


def test_ivfpq_from_a_memory_map_in_chunks(tmp_path, one_faiss_thread):
    rng = np.random.default_rng(3)
    centres = rng.standard_normal((30, 16))
    label = rng.integers(0, 30, 12000)
    x = (centres[label] + 0.05 * rng.standard_normal((12000, 16))).astype(np.float32)
    emb = EmbeddingSet(ids=[f"t{i}" for i in range(12000)], vectors=x, name="big")
    write_embeddings(tmp_path / "emb", emb)
    idx = build_index(tmp_path / "emb", tmp_path / "idx", "ivfpq", pq_bytes=4)  # read memory-mapped
    back = Index.load(tmp_path / "idx")
    assert back.meta["settings"]["pq_bytes"] == 4 and back.method == "ivfpq"
    # 4-byte codes cannot order the points inside a cluster (noise 0.05), but every neighbour
    # must come from the query's own cluster (chance: 1/30)
    same = [label[int(n.id[1:])] == label[i] for i in range(0, 12000, 600) for n in back.neighbours_of(f"t{i}", 10)]
    assert np.mean(same) >= 0.95
    assert back.vectors().shape == (12000, 16) and len(idx) == 12000
    with pytest.raises(UsageError, match="must divide"):
        Index.build(emb, "ivfpq", pq_bytes=7)
    with pytest.raises(UsageError, match="at least"):
        Index.build(_emb(), "ivfpq", pq_bytes=4)


def _clustered(n=12000, d=16, clusters=30, noise=0.05, seed=3):
    rng = np.random.default_rng(seed)
    centres = rng.standard_normal((clusters, d))
    label = rng.integers(0, clusters, n)
    x = (centres[label] + noise * rng.standard_normal((n, d))).astype(np.float32)
    return EmbeddingSet(ids=[f"t{i}" for i in range(n)], vectors=x, name="big"), label


def test_ivfpq_parameters_are_validated_in_one_line(one_faiss_thread):
    emb, _ = _clustered()
    cases = [
        ({"pq_bytes": 5}, "pq_bytes=5 .* must divide the dimension 16"),
        ({"pq_bytes": 0}, "pq_bytes must be an integer >= 1"),
        ({"pq_nbits": 0}, "pq_nbits must be an integer from 1 to 16"),
        ({"pq_nbits": 17}, "pq_nbits"),
        ({"pq_nbits": 9}, "at least 19968 vectors"),
        ({"nlist": 0}, "nlist must be an integer >= 1"),
        ({"nprobe": 0}, "nprobe must be an integer >= 1"),
        ({"train_size": 100}, "train_size=100 is below the 9984"),
        ({"rerank": -1}, "rerank must be"),
    ]
    for options, message in cases:
        with pytest.raises(UsageError, match=message) as e:
            Index.build(emb, "ivfpq", **{"pq_bytes": 4, **options})
        assert "\n" not in str(e.value)
    with pytest.raises(UsageError, match="rerank applies to ivfpq"):
        Index.build(emb, "ivf", rerank=4)


def test_index_settings_as_one_object_or_as_keywords(one_faiss_thread):
    from tunespace.neighbours import IndexSettings

    emb, _ = _clustered(n=2000)
    settings = IndexSettings("ivf", nlist=10, nprobe=3, seed=2)
    a, b = Index.build(emb, settings), Index.build(emb, "ivf", nlist=10, nprobe=3, seed=2, chunk_size=None)
    assert a.meta["settings"] == b.meta["settings"] == {"nlist": 10, "nprobe": 3, "seed": 2, "train_size": 400}
    with pytest.raises(TypeError, match="given twice"):
        Index.build(emb, settings, nlist=5)
    with pytest.raises(UsageError, match="hnsw_m must be an integer >= 1, got 0"):
        IndexSettings("hnsw", hnsw_m=0)
    with pytest.raises(UsageError, match="unknown index method"):
        IndexSettings("lsh")


def test_ivfpq_code_size_training_sample_and_chunks(tmp_path, one_faiss_thread):
    """Code size m·nbits/8, the seeded training sample (same seed, same index), and the chunked
    add path from the memory map (a small chunk size: many FAISS add calls)."""
    from tunespace.neighbours import build_faiss_index

    emb, label = _clustered()
    write_embeddings(tmp_path / "emb", emb)
    timings: dict = {}
    idx = build_index(
        tmp_path / "emb", tmp_path / "idx", "ivfpq", pq_bytes=8, pq_nbits=6, nlist=20, train_size=4000,
        chunk_size=1000, timings=timings, seed=5,
    )  # fmt: skip
    assert timings["chunks"] == 12 and timings["train_size"] == 4000 and timings["add_s"] >= 0
    settings = Index.load(tmp_path / "idx").meta["settings"]
    assert settings == {
        "nlist": 20, "nprobe": 16, "seed": 5, "train_size": 4000, "pq_bytes": 8, "pq_nbits": 6,
        "code_bytes": 6, "rerank": 0,
    }  # fmt: skip
    assert idx.nprobe == 16
    # the input is read as a memory map, chunk by chunk: every chunk is a slice of <= chunk rows
    from tunespace.embed.format import read_embeddings

    mm = read_embeddings(tmp_path / "emb").vectors
    assert isinstance(mm, np.memmap)
    seen = []

    class Spy:
        shape, dtype = mm.shape, mm.dtype

        def __getitem__(self, sel):
            seen.append(sel.stop - (sel.start or 0) if isinstance(sel, slice) else len(sel))
            return mm[sel]

    a = build_faiss_index(Spy(), "ivfpq", pq_bytes=4, nlist=20, train_size=10000, chunk_size=2500, seed=1)
    b = build_faiss_index(mm, "ivfpq", pq_bytes=4, nlist=20, train_size=10000, chunk_size=2500, seed=1)
    assert seen[0] == 10000 and seen[1:] == [2500] * 5  # the sample, then 5 chunks (the last one short)
    q = normalise_rows(emb.vectors[:50])
    np.testing.assert_array_equal(a.search(q, 10)[1], b.search(q, 10)[1])  # seeded: same index


def normalise_rows(x):
    return (x / np.linalg.norm(x, axis=1, keepdims=True)).astype(np.float32)


def test_ivfpq_rerank_restores_exact_order(tmp_path, one_faiss_thread):
    emb, label = _clustered(noise=0.3)
    write_embeddings(tmp_path / "emb", emb)
    plain = build_index(tmp_path / "emb", tmp_path / "plain", "ivfpq", pq_bytes=4, nlist=30, nprobe=30)
    build_index(tmp_path / "emb", tmp_path / "rr", "ivfpq", pq_bytes=4, nlist=30, nprobe=30, rerank=20)
    rr = Index.load(tmp_path / "rr")
    exact = Index.build(emb)
    queries = [f"t{i}" for i in range(0, 12000, 400)]

    def recall(index):
        hits = [
            len({n.id for n in index.neighbours_of(q, 10)} & {n.id for n in exact.neighbours_of(q, 10)})
            for q in queries
        ]
        return np.mean(hits) / 10

    assert rr.rerank == 20 and recall(rr) >= 0.95 > 0.5 > recall(plain)
    got = rr.neighbours_of("t0", 5)  # re-ranked similarities are the exact cosines
    want = [float(exact.vector(n.id) @ exact.vector("t0")) for n in got]
    np.testing.assert_allclose([n.similarity for n in got], want, rtol=1e-5)
    np.testing.assert_allclose(rr.vector("t0"), exact.vector("t0"), rtol=1e-6)
    rr.configure(rerank=0, nprobe=2)
    assert rr.rerank == 0 and rr.nprobe == 2
    # without its EMB folder the index still answers, without re-ranking, and says so
    import shutil

    shutil.rmtree(tmp_path / "emb")
    with pytest.warns(UserWarning, match="without re-ranking"):
        back = Index.load(tmp_path / "rr")
    assert back.rerank == 0 and len(back.neighbours_of("t0", 5)) == 5
    with pytest.raises(UsageError, match="needs the exact vectors"):
        back.configure(rerank=5)


def test_cli_index_build_ivfpq_errors_in_one_line(tmp_path, capsys, one_faiss_thread):
    from tunespace.cli import main

    emb, _ = _clustered()
    write_embeddings(tmp_path / "emb", emb)
    base = ["index", "build", "--embeddings", str(tmp_path / "emb"), "--out", str(tmp_path / "idx")]
    assert main([*base, "--method", "ivfpq", "--pq-bytes", "3"]) == 2
    err = capsys.readouterr().err.strip()
    assert "must divide the dimension 16" in err and "\n" not in err
    assert main([*base, "--method", "ivfpq", "--chunk-rows", "0"]) == 2
    assert "--chunk-rows must be an integer >= 1, got 0" in capsys.readouterr().err
    assert main([*base, "--method", "ivfpq", "--pq-bytes", "4", "--nlist", "20", "--chunk-rows", "5000"]) == 0
    assert Index.load(tmp_path / "idx").meta["settings"]["code_bytes"] == 4


def test_bench_index_scale_runs_small(tmp_path, one_faiss_thread):
    """bench/bench_index_scale.py end to end at N = 20 000 (the 10-million run's code path)."""
    import importlib.util
    from pathlib import Path

    path = Path(__file__).resolve().parents[1] / "bench" / "bench_index_scale.py"
    spec = importlib.util.spec_from_file_location("bench_index_scale", path)
    bench = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(bench)
    argv = [
        "--n",
        "20000",
        "--d",
        "64",
        "--pq-bytes",
        "8",
        "--clusters",
        "50",
        "--nlist",
        "32",
        "--train-size",
        "12000",
    ]
    res = bench.main(
        [
            *argv,
            "--threads",
            "1",
            "--rerank",
            "5",
            "--locality-queries",
            "60",
            "--workdir",
            str(tmp_path),
            "--json",
            str(tmp_path / "r.json"),
        ]
    )
    assert res["emb_bytes"] > 20000 * 64 * 4 and 0 < res["index_bytes"] < res["emb_bytes"] / 5
    assert res["train_size"] == 12000 and res["nlist"] == 32 and res["build_s"] >= res["train_s"] + res["add_s"]
    plain, wide, rerank = res["runs"]
    assert (plain["nprobe"], wide["nprobe"], rerank["rerank"]) == (16, 64, 5)
    assert 0 <= plain["recall_at_10"] <= 1 and rerank["recall_at_10"] > plain["recall_at_10"]
    assert plain["single_p50_ms"] > 0 and res["anon_peak_gb"] > 0
    loc = res["locality"]
    assert loc["cluster"]["locality"] > 0.9 and loc["cluster"]["n_population"] == 20000
    lo, hi = loc["random"]["locality_ci"]
    assert lo < 0 < hi and loc["random"]["locality_se"] > 0
    assert [p.name for p in tmp_path.iterdir()] == ["r.json"]  # the EMB and INDEX folders are gone


def test_approximate_index_falls_back_to_a_chunked_exact_scan(monkeypatch, one_faiss_thread):
    """nprobe 1 and the query's whole cluster excluded: the probed cell holds no eligible item,
    so the exact scan (in chunks) answers, and gives what an exact index gives."""
    import tunespace.index as index_module

    monkeypatch.setattr(index_module, "SCAN_ROWS", 1000)
    scans = []
    scan = Index._exact_scan
    monkeypatch.setattr(Index, "_exact_scan", lambda self, *a: scans.append(1) or scan(self, *a))
    emb, label = _clustered()
    groups = {i: int(c) for i, c in zip(emb.ids, label)}
    ivf = Index.build(emb, "ivf", nlist=200, nprobe=1)  # cells smaller than clusters
    exact = Index.build(emb)
    for q in ("t0", "t5", "t77"):
        got = ivf.neighbours_of(q, 5, groups=groups)
        want = exact.neighbours_of(q, 5, groups=groups)
        assert [n.id for n in got] == [n.id for n in want]
        assert all(groups[n.id] != groups[q] for n in got)
    assert len(scans) == 3


@pytest.mark.parametrize("failing", ["faiss", "index.json"])
def test_failed_rebuild_leaves_the_old_index_readable(failing, tmp_path, monkeypatch):
    """A rebuild into an INDEX folder that fails while writing (disk full) keeps the old index."""
    import errno

    import faiss

    import tunespace.index as index_module

    old = _emb(n=30, seed=0)
    Index.build(old).save(tmp_path / "idx")
    before = sorted(p.name for p in (tmp_path / "idx").iterdir())

    def full(*args, **kwargs):
        raise OSError(errno.ENOSPC, "No space left on device")

    if failing == "faiss":
        monkeypatch.setattr(faiss, "write_index", full)
    else:
        monkeypatch.setattr(index_module, "write_json", full)
    new = EmbeddingSet(ids=[f"new{i}" for i in range(40)], vectors=_emb(n=40, seed=1).vectors, name="new")
    with pytest.raises(OSError) as e:
        Index.build(new).save(tmp_path / "idx")
    assert e.value.errno == errno.ENOSPC
    back = Index.load(tmp_path / "idx")
    assert back.ids == old.ids and len(back) == 30
    assert sorted(p.name for p in (tmp_path / "idx").iterdir()) == before  # no temporary files left
    monkeypatch.undo()
    Index.build(new).save(tmp_path / "idx")  # the rebuild, once there is room, replaces it
    assert Index.load(tmp_path / "idx").ids == new.ids
    assert sorted(p.name for p in (tmp_path / "idx").iterdir()) == before

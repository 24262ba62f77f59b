"""Slice indexes: which track, and where in it, an excerpt comes from (tunespace.passages)."""

from __future__ import annotations

import json

import numpy as np
import pytest
import soundfile as sf

from tunespace import Index
from tunespace.cli import main
from tunespace.embed.format import (
    LOUD,
    TIMELINES,
    EmbeddingSet,
    read_embeddings,
    read_timeline,
    timeline_name,
    write_embeddings,
)
from tunespace.embed.model import track_embedding
from tunespace.errors import UnknownIdError, UsageError
from tunespace.files import save_npy
from tunespace.index import build_index, query_neighbours
from tunespace.passages import (
    Passage,
    is_slice_index,
    locate,
    search_passages,
    slice_id,
    slice_set,
    split_slice_id,
)

D = 8


def _emb_folder(path, n_tracks=6, slices=5, loud=None, seed=0, ids=None):
    """An EMB folder with timelines, as ``tunespace embed --timelines`` writes it: track i's
    slices are noisy copies of its own random direction (so a slice is nearest to itself), its
    embedding the mean of its loud slices."""
    rng = np.random.default_rng(seed)
    ids = ids or [f"album{i % 2}/t{i}" for i in range(n_tracks)]
    timelines, masks = {}, {}
    for t in ids:
        base = rng.standard_normal(D)
        timelines[t] = (base + 0.3 * rng.standard_normal((slices, D))).astype(np.float32)
        masks[t] = np.asarray((loud or {}).get(t, [True] * slices), dtype=bool)
    vectors = np.stack([track_embedding(timelines[t], masks[t]) for t in ids])
    meta = {"slice_seconds": 3.0, "hop_seconds": 2.0, "silence_db": -60.0, "dataset": None}
    write_embeddings(path, EmbeddingSet(ids=ids, vectors=vectors, meta=meta, name="emb"))
    for t in ids:
        save_npy(path / TIMELINES / f"{timeline_name(t)}.npy", timelines[t])
        save_npy(path / TIMELINES / LOUD / f"{timeline_name(t)}.npy", masks[t])
    return ids, timelines


def test_slice_ids_round_trip_with_at_signs_in_the_track_id():
    assert split_slice_id(slice_id("a@b/c", 12)) == ("a@b/c", 12)
    with pytest.raises(UsageError, match="not a slice id"):
        split_slice_id("plain-track")


def test_slice_set_leaves_out_silent_slices_unless_all_are(tmp_path):
    loud = {"album0/t0": [True, False, True, False, False], "album1/t1": [False] * 5}
    ids, tls = _emb_folder(tmp_path / "emb", loud=loud)
    s = slice_set(tmp_path / "emb")
    assert [i for i in s.ids if i.startswith("album0/t0@")] == ["album0/t0@0", "album0/t0@2"]
    assert sum(i.startswith("album1/t1@") for i in s.ids) == 5  # all silent: all kept, as in the mean
    assert len(s.ids) == 2 + 5 * (len(ids) - 1)
    np.testing.assert_array_equal(s.vectors[s.ids.index("album0/t0@2")], tls["album0/t0"][2])
    assert s.meta["unit"] == "slice" and s.meta["n_tracks"] == len(ids)


def test_timelines_of_another_set_are_refused(tmp_path):
    ids, _ = _emb_folder(tmp_path / "emb")
    other = EmbeddingSet(
        ids=ids, vectors=np.ones((len(ids), D), np.float32), meta=read_embeddings(tmp_path / "emb").meta
    )
    write_embeddings(tmp_path / "emb", other)  # e.g. a baseline written over an embed --timelines folder
    with pytest.raises(UsageError, match="does not average to its embedding"):
        slice_set(tmp_path / "emb")


def test_timeline_names_never_collide_and_old_names_are_read(tmp_path):
    names = {timeline_name(i) for i in ["a/b", "a__b", "a%2Fb", "a\\b", "x.loud", "x"]}
    assert len(names) == 6 and not any("/" in n for n in names)
    ids, tls = _emb_folder(tmp_path / "emb", ids=["a/b", "a__b", "x", "x.loud"])
    s = slice_set(tmp_path / "emb")
    np.testing.assert_array_equal(s.vectors[s.ids.index("a/b@1")], tls["a/b"][1])
    np.testing.assert_array_equal(s.vectors[s.ids.index("a__b@1")], tls["a__b"][1])
    _, old = _emb_folder(tmp_path / "old", ids=["a/b"])
    folder = tmp_path / "old" / TIMELINES
    (folder / f"{timeline_name('a/b')}.npy").rename(folder / "a__b.npy")  # as written before
    np.testing.assert_array_equal(read_timeline(tmp_path / "old", "a/b").embeddings, old["a/b"])


def test_an_excerpt_finds_its_track_and_where_it_lies(tmp_path):
    ids, tls = _emb_folder(tmp_path / "emb")
    build_index(tmp_path / "emb", tmp_path / "idx", slices=True)
    idx = Index.load(tmp_path / "idx")
    assert is_slice_index(idx) and len(idx) == 5 * len(ids)
    assert idx.meta["hop_seconds"] == 2.0 and idx.meta["n_tracks"] == len(ids)
    found = search_passages(idx, tls["album1/t3"][3], k=4)[0]
    assert isinstance(found[0], Passage)
    assert (found[0].id, found[0].start_s, found[0].end_s) == ("album1/t3", 6.0, 9.0)
    assert found[0].similarity == pytest.approx(1.0, abs=1e-5)
    assert len({p.id for p in found}) == 4 and [p.rank for p in found] == [1, 2, 3, 4]  # one per track
    sims = [p.similarity for p in found]
    assert sims == sorted(sims, reverse=True)
    # every track's best slice, brute force
    x = {t: v / np.linalg.norm(v, axis=1, keepdims=True) for t, v in tls.items()}
    q = tls["album1/t3"][3] / np.linalg.norm(tls["album1/t3"][3])
    best = sorted(((float((x[t] @ q).max()), t) for t in ids), reverse=True)[:4]
    assert [p.id for p in found] == [t for _, t in best]
    np.testing.assert_allclose(sims, [s for s, _ in best], rtol=1e-5)
    # more tracks than exist: all of them, each once
    with pytest.warns(UserWarning, match="6 eligible items"):
        assert sorted(p.id for p in search_passages(idx, q, k=50)[0]) == sorted(ids)
    left_out = search_passages(idx, q, k=3, keep=lambda t: t != "album1/t3")[0]
    assert "album1/t3" not in [p.id for p in left_out] and len(left_out) == 3


def test_track_queries_on_a_slice_index_leave_out_the_track_and_its_group(tmp_path):
    ids, _ = _emb_folder(tmp_path / "emb")
    build_index(tmp_path / "emb", tmp_path / "idx", slices=True)
    res = query_neighbours(tmp_path / "idx", track="album0/t0", k=10)
    assert "album0/t0" not in [n.id for n in res.neighbours] and len(res.neighbours) == len(ids) - 1
    d = res.to_dict()["neighbours"][0]
    assert {"start_s", "end_s"} <= set(d) and d["end_s"] - d["start_s"] == 3.0
    assert "at" in res.table().splitlines()[0].split()
    same = query_neighbours(tmp_path / "idx", track="album0/t0", k=10, exclude_same="folder")
    assert [n.id.split("/")[0] for n in same.neighbours] == ["album1"] * 3


def test_slice_index_refusals_are_one_line(tmp_path, capsys):
    _emb_folder(tmp_path / "emb")
    write_embeddings(tmp_path / "plain", EmbeddingSet(ids=["a", "b"], vectors=np.eye(2, D, dtype=np.float32)))
    with pytest.raises(UsageError, match="no timelines/ folder"):
        build_index(tmp_path / "plain", tmp_path / "x", slices=True)
    with pytest.raises(UsageError, match="cannot be used with --slices"):
        build_index(tmp_path / "emb", tmp_path / "x", "ivfpq", slices=True, rerank=4, pq_bytes=4, nlist=2)
    track_index = build_index(tmp_path / "emb", tmp_path / "tracks")
    with pytest.raises(UsageError, match="build one with --slices"):
        search_passages(track_index, np.ones(D, np.float32))
    assert (
        main(["index", "build", "--embeddings", str(tmp_path / "plain"), "--out", str(tmp_path / "y"), "--slices"]) == 2
    )
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "embed with --timelines" in err


def test_cli_finds_the_source_of_a_real_excerpt(tiny_run, train_corpus, tmp_path, capsys):
    """End to end on rendered audio: embed with timelines, index the slices, query with an
    excerpt cut from one track; the source is found, at the excerpt's place."""
    emb, idx = tmp_path / "emb", tmp_path / "idx"
    args = ["embed", "--model", str(tiny_run), "--data", str(train_corpus), "--out", str(emb)]
    assert main([*args, "--timelines", "--workers", "0", "--no-progress"]) == 0
    assert main(["index", "build", "--embeddings", str(emb), "--out", str(idx), "--slices"]) == 0
    assert "slices of 16 tracks" in capsys.readouterr().out
    track = sorted(train_corpus.glob("audio/*.flac"))[3]
    x, sr = sf.read(track, dtype="float32")
    sf.write(tmp_path / "excerpt.wav", x[4 * sr : 7 * sr], sr)  # the slice that starts at 4 s
    assert main(["neighbours", str(idx), "--audio", str(tmp_path / "excerpt.wav"), "--k", "3", "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    first = out["neighbours"][0]
    assert first["id"] == track.stem and first["start_s"] == 4.0 and first["similarity"] > 0.99


def test_an_ivf_slice_index_that_probes_too_few_cells_still_gives_k_tracks(tmp_path):
    ids, tls = _emb_folder(tmp_path / "emb", n_tracks=40, slices=6)
    build_index(tmp_path / "emb", tmp_path / "idx", "ivf", slices=True, nlist=20, nprobe=1)
    idx = Index.load(tmp_path / "idx")
    assert (idx.search_arrays(tls[ids[0]][0], 240)[1] < 0).any()  # the probed cell holds few slices
    found = search_passages(idx, tls[ids[0]][0], k=40)[0]
    assert sorted(p.id for p in found) == sorted(ids) and found[0].id == ids[0]
    res = query_neighbours(tmp_path / "idx", track=ids[0], k=39)
    assert len(res.neighbours) == 39 and not res.warnings


def test_too_large_k_and_unknown_ids_say_so(tmp_path):
    ids, _ = _emb_folder(tmp_path / "emb")
    build_index(tmp_path / "emb", tmp_path / "idx", slices=True)
    res = query_neighbours(tmp_path / "idx", track=ids[0], k=50)
    assert len(res.neighbours) == len(ids) - 1
    assert res.warnings and f"{len(ids) - 1} eligible items" in res.warnings[0]
    with pytest.raises(UnknownIdError) as e:
        query_neighbours(tmp_path / "idx", track="nope", k=3)
    assert e.value.item_id == "nope"


def test_slice_indexes_are_refused_where_tracks_are_meant(tmp_path):
    from tunespace.locality.sampled import sampled_locality

    _emb_folder(tmp_path / "emb")
    build_index(tmp_path / "emb", tmp_path / "idx", slices=True)
    with pytest.raises(UsageError, match="not a slice index"):
        sampled_locality(tmp_path / "idx", labels=None, n_queries=10)
    with pytest.raises(UsageError, match="a slice index cannot re-rank"):
        Index.load(tmp_path / "idx", rerank=4)


@pytest.mark.parametrize("method", ["hnsw", "ivf"])
def test_approximate_slice_indexes_find_the_source_too(tmp_path, method):
    ids, tls = _emb_folder(tmp_path / "emb", n_tracks=20, slices=6)
    opts = {"nlist": 2, "nprobe": 2} if method == "ivf" else {}
    build_index(tmp_path / "emb", tmp_path / "idx", method, slices=True, **opts)
    idx = Index.load(tmp_path / "idx")
    assert idx.method == method and is_slice_index(idx)
    for t in ids[:5]:
        found = search_passages(idx, tls[t][4], k=5)[0]
        assert (found[0].id, found[0].start_s) == (t, 8.0) and len({p.id for p in found}) == 5


def test_locate_aligns_the_excerpts_slices_with_the_tracks(tmp_path):
    """Within a track every slice is alike (as in one recording), so the best single slice can
    lie anywhere; aligning the excerpt's slice sequence finds where it was cut, across a silent
    slice left out of the index."""
    rng = np.random.default_rng(3)
    base = rng.standard_normal(D)
    tl = (base + 0.5 * rng.standard_normal((10, D))).astype(np.float32)
    loud = [True] * 10
    loud[5] = False  # a silent slice inside the excerpt's span: not in the index
    ids, _ = _emb_folder(tmp_path / "emb", ids=["song", "other"])
    save_npy(tmp_path / "emb" / TIMELINES / "song.npy", tl)
    save_npy(tmp_path / "emb" / TIMELINES / LOUD / "song.npy", np.array(loud))
    emb = read_embeddings(tmp_path / "emb")
    vectors = np.array(emb.vectors)
    vectors[0] = track_embedding(tl, np.array(loud))
    other_tl = np.load(tmp_path / "emb" / TIMELINES / "other.npy")
    vectors[1] = track_embedding(other_tl, np.ones(len(other_tl), bool))
    write_embeddings(tmp_path / "emb", EmbeddingSet(ids=emb.ids, vectors=vectors, meta=emb.meta))
    build_index(tmp_path / "emb", tmp_path / "idx", slices=True)
    idx = Index.load(tmp_path / "idx")
    excerpt = tl[3:7] + 0.05 * rng.standard_normal((4, D)).astype(np.float32)  # slices 3-6 (6-15 s)
    found = search_passages(idx, excerpt.mean(axis=0), k=2)[0]
    assert found[0].id == "song"
    placed = locate(idx, found, excerpt)
    assert (placed[0].id, placed[0].rank, placed[0].similarity) == (found[0].id, 1, found[0].similarity)
    assert (placed[0].start_s, placed[0].end_s) == (6.0, 15.0)
    assert [p.id for p in placed] == [p.id for p in found]

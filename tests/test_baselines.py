import numpy as np
import pytest

from tunespace.baselines import compute_baseline, import_embeddings
from tunespace.cli import main
from tunespace.embed.format import read_embeddings
from tunespace.errors import UsageError
from tunespace.labels import load_labels
from tunespace.locality import locality_profile


def test_import_npy_npz_csv(tmp_path):
    x = np.arange(12, dtype=np.float64).reshape(4, 3)
    x[2, 1] = np.nan
    np.save(tmp_path / "e.npy", x)
    (tmp_path / "ids.txt").write_text("a\nb\nc\nd\n")
    emb = import_embeddings(tmp_path / "e.npy", tmp_path / "ids.txt")
    assert emb.ids == ["a", "b", "d"] and emb.errors == [("c", "non-finite values")]
    np.testing.assert_array_equal(emb.vectors, x[[0, 1, 3]].astype(np.float32))
    np.savez(tmp_path / "e.npz", feats=x[[0, 1, 3]], names=np.array(["p", "q", "r"]))
    assert import_embeddings(tmp_path / "e.npz").ids == ["p", "q", "r"]
    (tmp_path / "e.csv").write_text("id,f0,f1\nu,1,2\nv,3,4\n")
    emb = import_embeddings(tmp_path / "e.csv")
    assert emb.ids == ["u", "v"] and emb.vectors.tolist() == [[1, 2], [3, 4]]
    assert (
        main(
            [
                "baseline",
                "--import",
                str(tmp_path / "e.npy"),
                "--ids",
                str(tmp_path / "ids.txt"),
                "--out",
                str(tmp_path / "EMB"),
            ]
        )
        == 0
    )
    back = read_embeddings(tmp_path / "EMB")
    assert back.ids == ["a", "b", "d"] and back.errors == [("c", "non-finite values")]


def test_import_errors(tmp_path):
    np.save(tmp_path / "e.npy", np.ones((2, 3)))
    (tmp_path / "ids.txt").write_text("a\na\n")
    with pytest.raises(UsageError, match="duplicate id 'a'"):
        import_embeddings(tmp_path / "e.npy", tmp_path / "ids.txt")
    with pytest.raises(UsageError, match="no ids"):
        import_embeddings(tmp_path / "e.npy")
    (tmp_path / "ids3.txt").write_text("a\nb\nc\n")
    with pytest.raises(UsageError, match="2 rows but 3 ids"):
        import_embeddings(tmp_path / "e.npy", tmp_path / "ids3.txt")
    with pytest.raises(UsageError, match="unknown baseline"):
        compute_baseline("wavelets", tmp_path)
    assert main(["baseline", "--kind", "chroma", "--out", str(tmp_path / "o")]) == 2


@pytest.fixture(scope="session")
def corpus(tmp_path_factory):
    from tunespace.corpus import build_corpus

    return build_corpus(tmp_path_factory.mktemp("corpus"), tracks=48, seconds=20.0, seed=0, workers=2)


@pytest.mark.slow
def test_baselines_have_their_expected_character(corpus, tmp_path):
    (corpus / "audio" / "t0003.flac").write_bytes(b"not audio")  # an unreadable track is skipped, reported
    labels = load_labels(corpus / "tracks.csv", properties="key,tempo_bpm")
    from_folder = load_labels(corpus, properties="key,tempo_bpm")  # the dataset reader path
    assert from_folder.ids == labels.ids and from_folder.kinds == {"key": "key", "tempo_bpm": "tempo"}
    np.testing.assert_allclose(from_folder.values["tempo_bpm"], labels.values["tempo_bpm"])
    assert list(from_folder.values["key"]) == list(labels.values["key"])
    loc = {}
    for kind in ("chroma", "mfcc", "tempogram"):
        emb = compute_baseline(kind, corpus, workers=1)
        assert len(emb.ids) == 47 and emb.errors[0][0].endswith("t0003.flac")
        assert emb.meta["baseline"] == kind and np.isfinite(emb.vectors).all()
        prof = locality_profile(emb, labels, [5], bootstrap=0)
        loc[kind] = {m: r["5"]["locality"] for m, r in prof["properties"].items()}
    assert loc["chroma"]["key"] > loc["mfcc"]["key"] + 0.1
    assert loc["chroma"]["key_graded"] > loc["mfcc"]["key_graded"] + 0.1
    assert loc["tempogram"]["tempo_bpm"] > loc["chroma"]["tempo_bpm"] + 0.2
    assert loc["tempogram"]["tempo_bpm_acc2"] > loc["chroma"]["tempo_bpm_acc2"] + 0.2


def test_random_encoder_baseline_is_seeded(train_corpus):
    a = compute_baseline("random", train_corpus, seed=1, workers=0)
    b = compute_baseline("random", train_corpus, seed=1, workers=0)
    c = compute_baseline("random", train_corpus, seed=2, workers=0)
    assert a.ids == b.ids and len(a.ids) == 16 and a.meta["baseline"] == "random"
    assert np.array_equal(a.vectors, b.vectors)
    assert not np.allclose(a.vectors, c.vectors)
    assert np.isfinite(a.vectors).all()
    assert a.meta["slice_seconds"] == 3.0


def test_random_baseline_is_sliced_as_the_study_slices_its_models(train_corpus, tmp_path):
    """A study embedding its models in 4 s slices gets a random baseline of 4 s slices too (the
    hand-crafted kinds are track-level and ignore the section)."""
    from tunespace.embed import read_embeddings
    from tunespace.study.analysis import baseline_embeddings

    embed = {"slice_seconds": 4.0, "hop_seconds": 2.0, "chunk_slices": 32}
    baseline_embeddings("random", train_corpus, tmp_path / "r", seed=1, embed_cfg=embed)
    r = read_embeddings(tmp_path / "r")
    default = compute_baseline("random", train_corpus, seed=1, workers=0)
    assert r.meta["slice_seconds"] == 4.0 and r.ids == default.ids
    assert not np.allclose(np.asarray(r.vectors), default.vectors)

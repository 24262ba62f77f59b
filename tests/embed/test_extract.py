"""Embedding extraction: output format, slicing, resumption, bad files, long files."""

from __future__ import annotations

import shutil

import numpy as np
import pytest
import soundfile as sf
from tests.conftest import tiny_overrides

from tunespace.cli import main
from tunespace.datasets import open_dataset
from tunespace.embed import read_embeddings
from tunespace.embed.extract import EmbedSettings, embed_dataset, load_encoder, random_encoder, slice_starts
from tunespace.embed.format import read_timeline
from tunespace.errors import UsageError
from tunespace.train import resolve_config, train


@pytest.fixture(scope="module")
def run_dir(train_corpus, tmp_path_factory):
    out = tmp_path_factory.mktemp("run")
    train(out, resolve_config(None, tiny_overrides(steps=2), **{"data.path": str(train_corpus)}))
    return out


def test_slice_starts():
    assert slice_starts(10.0, 3.0, 2.0) == [0.0, 2.0, 4.0, 6.0]
    assert slice_starts(3.0, 3.0, 2.0) == [0.0]
    assert slice_starts(1.0, 3.0, 2.0) == [0.0]  # padded to one slice
    assert len(slice_starts(7200.0, 3.0, 2.0)) == 3599


def test_embed_cli_writes_the_documented_format(run_dir, train_corpus, tmp_path):
    out = tmp_path / "emb"
    assert (
        main(
            [
                "embed",
                "--model",
                str(run_dir),
                "--data",
                str(train_corpus),
                "--out",
                str(out),
                "--timelines",
                "--workers",
                "0",
                "--no-progress",
            ]
        )
        == 0
    )
    emb = read_embeddings(out)
    ds = open_dataset(train_corpus)
    assert emb.ids == ds.ids
    assert emb.vectors.dtype == np.float32 and emb.vectors.shape == (16, 16)
    assert isinstance(np.load(out / "embeddings.npy", mmap_mode="r"), np.memmap)
    assert np.isfinite(emb.vectors).all()
    assert emb.meta["slice_seconds"] == 3.0 and emb.meta["model"]["kind"] == "checkpoint"
    assert emb.meta["frontend"] == __import__("json").loads((run_dir / "config.json").read_text())["frontend"]
    tl = np.load(out / "timelines" / f"{ds.ids[0]}.npy")
    assert tl.shape == (4, 16)  # 10 s: slices at 0, 2, 4, 6 s
    np.testing.assert_allclose(tl.mean(axis=0), emb.vectors[0], rtol=1e-5, atol=1e-6)
    read = read_timeline(out, ds.ids[0])
    np.testing.assert_array_equal(read.embeddings, tl)
    np.testing.assert_allclose(read.times_s, [1.5, 3.5, 5.5, 7.5])  # slice centres (s)
    assert read.loud is not None and read.loud.dtype == bool and read.loud.all()
    assert (out / "errors.csv").read_text().startswith("file,reason")
    assert not (out / ".parts").exists()


def test_interrupted_embedding_resumes_to_identical_result(run_dir, train_corpus, tmp_path):
    bundle = load_encoder(run_dir)
    full = embed_dataset(bundle, train_corpus, tmp_path / "full", workers=0, progress=False)
    assert (
        embed_dataset(bundle, train_corpus, tmp_path / "part", workers=2, progress=False, should_stop=lambda n: n >= 5)
        is None
    )
    assert not (tmp_path / "part" / "embeddings.npy").exists()
    resumed = embed_dataset(bundle, train_corpus, tmp_path / "part", workers=2, progress=False)
    assert resumed.ids == full.ids
    assert np.array_equal(np.asarray(resumed.vectors), np.asarray(full.vectors))


def test_bad_files_are_reported_and_never_stop_the_batch(run_dir, train_corpus, tmp_path):
    corpus = tmp_path / "corpus"
    shutil.copytree(train_corpus, corpus)
    files = sorted((corpus / "audio").glob("*.flac"))
    files[0].write_bytes(b"")
    files[1].write_bytes(b"RIFF....garbage")
    sf.write(files[2], np.zeros(16000, np.float32), 16000)  # 1 s of silence: reported, not embedded
    emb = embed_dataset(load_encoder(run_dir), corpus, tmp_path / "emb", workers=2, progress=False)
    assert len(emb.ids) == 13 and len(emb.errors) == 3
    reasons = {r for _, r in emb.errors}
    assert any("empty" in r for r in reasons) and any(r.startswith("silent") for r in reasons)
    assert np.isfinite(np.asarray(emb.vectors)).all()
    kept = embed_dataset(load_encoder(run_dir), corpus, tmp_path / "kept", workers=0, progress=False, silence_db=None)
    assert len(kept.ids) == 14 and len(kept.errors) == 2  # --keep-silent: valid audio, padded


def test_long_file_is_streamed_in_chunks(tmp_path, monkeypatch):
    """A 20-minute file is read chunk by chunk, never whole."""
    import tunespace.embed.extract as ex

    d = tmp_path / "ds"
    (d / "audio").mkdir(parents=True)
    sr = 16000
    t = np.arange(20 * 60 * sr) / sr
    sf.write(d / "audio" / "long.flac", (0.1 * np.sin(2 * np.pi * 220 * t)).astype(np.float32), sr)
    (d / "labels.csv").write_text("track_id,genre\nlong,x\n")
    calls = []
    real = ex.load

    def spy(path, sr=16000, offset_s=0.0, duration_s=None, **kw):
        calls.append(duration_s)
        return real(path, sr=sr, offset_s=offset_s, duration_s=duration_s, **kw)

    monkeypatch.setattr(ex, "load", spy)
    emb = embed_dataset(
        random_encoder("small", seed=0, width=8, depth=1, embedding_dim=8),
        ex.open_dataset(d, kind="csv", csv=d / "labels.csv"),
        tmp_path / "emb",
        workers=0,
        progress=False,
        chunk_slices=64,
    )
    assert emb.vectors.shape == (1, 8)
    assert all(c is not None and c <= 64 * 2 + 3 for c in calls) and len(calls) == int(np.ceil(599 / 64))


def test_should_stop_is_called_once_per_finished_track(train_corpus, tmp_path):
    """Tracks of several chunks (10 s = 4 slices, 1 slice a chunk): one call per track, not per chunk."""
    corpus = tmp_path / "corpus"
    shutil.copytree(train_corpus, corpus)
    sorted((corpus / "audio").glob("*.flac"))[1].write_bytes(b"")  # a failed track counts too
    bundle = random_encoder("small", seed=0, width=8, depth=1, embedding_dim=8)
    calls: list[int] = []

    def record(n: int) -> bool:
        calls.append(n)
        return False

    emb = embed_dataset(bundle, corpus, tmp_path / "emb", workers=0, progress=False, chunk_slices=1, should_stop=record)
    assert calls == list(range(1, 17))
    assert len(emb.ids) == 15 and len(emb.errors) == 1
    calls.clear()
    stopped = embed_dataset(
        bundle,
        corpus,
        tmp_path / "part",
        workers=0,
        progress=False,
        chunk_slices=1,
        should_stop=lambda n: record(n) or n >= 3,
    )
    assert stopped is None and calls == [1, 2, 3]
    assert (
        len(list((tmp_path / "part" / ".parts").glob("*.npz")))
        + len(list((tmp_path / "part" / ".parts").glob("*.err")))
        == 3
    )


def test_changed_settings_refuse_a_half_finished_folder(run_dir, train_corpus, tmp_path):
    from tunespace.errors import UsageError

    bundle = load_encoder(run_dir)
    embed_dataset(bundle, train_corpus, tmp_path / "e", workers=0, progress=False, should_stop=lambda n: n >= 2)
    with pytest.raises(UsageError, match="other settings"):
        embed_dataset(bundle, train_corpus, tmp_path / "e", workers=0, progress=False, hop_seconds=1.0)


def test_a_half_finished_folder_of_an_older_version_is_named_as_such(run_dir, train_corpus, tmp_path):
    """A run started before silent slices were left out of the mean (its manifest records no
    ``track_mean``) is refused with a message saying so, not as "other settings"."""
    import json

    bundle = load_encoder(run_dir)
    embed_dataset(bundle, train_corpus, tmp_path / "e", workers=0, progress=False, should_stop=lambda n: n >= 2)
    manifest = tmp_path / "e" / ".parts" / "manifest.json"
    m = json.loads(manifest.read_text())
    del m["settings"]["track_mean"]
    m["digest"] = "older"
    manifest.write_text(json.dumps(m))
    with pytest.raises(UsageError, match="an older tunespace, which averaged silent slices"):
        embed_dataset(bundle, train_corpus, tmp_path / "e", workers=0, progress=False)


def test_the_recorded_silence_rule_is_what_queries_are_embedded_with(run_dir, train_corpus, tmp_path):
    """``load_options`` of an EMB folder's meta gives the load_model keywords that embed a query as
    the folder's tracks were: the default -60 dBFS, None for --keep-silent and for folders made
    before silent slices were left out of the mean."""
    from tunespace.embed.format import PLAIN_MEAN, load_options

    bundle = load_encoder(run_dir)
    a = embed_dataset(bundle, train_corpus, tmp_path / "a", workers=0, progress=False, hop_seconds=1.5)
    b = embed_dataset(bundle, train_corpus, tmp_path / "b", workers=0, progress=False, silence_db=None)
    assert load_options(a.meta) == {"slice_seconds": 3.0, "hop_seconds": 1.5, "silence_db": -60.0}
    assert load_options(b.meta) == {"slice_seconds": 3.0, "hop_seconds": 2.0, "silence_db": None}
    older = {**a.meta, "track_embedding": PLAIN_MEAN}
    assert load_options(older)["silence_db"] is None
    assert load_options({}) == {}


def test_embed_settings_are_checked_when_made():
    assert EmbedSettings().slice_seconds is None  # the model's training excerpt length
    assert EmbedSettings(silence_db=None).silence_db is None
    with pytest.raises(UsageError, match="hop_seconds must be a number of seconds"):
        EmbedSettings(hop_seconds=0)
    with pytest.raises(UsageError, match="workers must be an integer"):
        EmbedSettings(workers=1.5)

"""The Python API: ``tunespace.load_model`` embeds waveforms exactly as ``tunespace embed`` does."""

from __future__ import annotations

import numpy as np
import pytest
import soundfile as sf
import torch

import tunespace
from tunespace.audio import load
from tunespace.cli import main
from tunespace.datasets import open_dataset
from tunespace.embed import read_embeddings
from tunespace.embed.model import cut_slices, loud_slices, slice_starts, track_embedding
from tunespace.errors import UsageError


@pytest.fixture(scope="module")
def model(tiny_run):
    return tunespace.load_model(tiny_run)


def test_attributes_and_repr(model, tiny_run):
    assert model.sample_rate == 16000 and model.dim == 16
    assert "16" in repr(model)
    assert tunespace.load_model(tiny_run / "checkpoints" / "step_0000002.pt").dim == 16


def test_agrees_with_tunespace_embed(model, tiny_run, train_corpus, tmp_path):
    out = tmp_path / "emb"
    assert (
        main(
            [
                "embed",
                "--model",
                str(tiny_run),
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
    for t in ds.tracks[:4]:
        audio, sr = sf.read(t.path, dtype="float32")
        tl = model.timeline(audio, sr)
        stored = np.load(out / "timelines" / f"{t.id}.npy")
        np.testing.assert_allclose(tl.embeddings, stored, rtol=1e-5, atol=1e-5)
        np.testing.assert_allclose(tl.times_s, [1.5, 3.5, 5.5, 7.5])
        np.testing.assert_allclose(model.embed(audio, sr), emb.vectors[emb.ids.index(t.id)], rtol=1e-5, atol=1e-5)
        np.testing.assert_allclose(model.embed_file(t.path), emb.vectors[emb.ids.index(t.id)], rtol=1e-5, atol=1e-5)


def test_silent_slices_stay_in_the_timeline_but_not_in_the_mean(model, tiny_run, train_corpus, tmp_path):
    """A loud track followed by digital silence and by -80 dBFS noise: the timeline keeps every
    slice, the mean is that of the loud slices (the track's own, without the tail), in the API
    and in ``tunespace embed``; ``silence_db=None`` / ``--keep-silent`` averages every slice."""
    t = open_dataset(train_corpus).tracks[0]
    audio, sr = sf.read(t.path, dtype="float32")  # 10 s: slices at 0, 2, 4, 6 s
    rng = np.random.default_rng(0)
    tail = np.concatenate([audio, np.zeros(8 * sr, np.float32), 1e-4 * rng.standard_normal(4 * sr).astype(np.float32)])
    tl = model.timeline(tail, sr)
    assert len(tl.loud) == len(tl.times_s) == 10
    assert tl.loud.tolist() == [True] * 5 + [False] * 5  # the slice at 8 s still holds 2 s of music
    np.testing.assert_allclose(model.embed(tail, sr), tl.embeddings[:5].mean(0), rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(model.embed_batch([tail, audio], sr)[0], model.embed(tail, sr), rtol=1e-5, atol=1e-6)
    every = tunespace.load_model(tiny_run, silence_db=None)
    np.testing.assert_allclose(every.embed(tail, sr), tl.embeddings.mean(0), rtol=1e-5, atol=1e-6)
    assert every.timeline(tail, sr).loud.all()

    folder = tmp_path / "music"
    folder.mkdir()
    sf.write(folder / "tail.wav", tail, sr, subtype="FLOAT")  # the noise as is, not quantised
    for flags, expect in (([], model.embed(tail, sr)), (["--keep-silent"], every.embed(tail, sr))):
        out = tmp_path / f"emb{len(flags)}"
        args = ["embed", "--model", str(tiny_run), "--data", str(folder), "--out", str(out), "--workers", "0"]
        assert main([*args, "--no-progress", *flags]) == 0
        np.testing.assert_allclose(read_embeddings(out).vectors[0], expect, rtol=1e-5, atol=1e-5)


def test_loud_slices_and_track_embedding():
    x = np.zeros((4, 100), np.float32)
    x[0, 3], x[1, 50], x[2, 0] = 0.5, -2e-3, 9e-4  # -6, -54, -61 dBFS peaks
    assert loud_slices(x).tolist() == [True, True, False, False]
    assert loud_slices(x, -70.0).tolist() == [True, True, True, False]
    assert loud_slices(x, None).all() and loud_slices(np.zeros((0, 10))).shape == (0,)
    tl = np.arange(8, dtype=np.float32).reshape(4, 2)
    np.testing.assert_array_equal(track_embedding(tl, np.array([True, False, True, False])), [2.0, 3.0])
    np.testing.assert_array_equal(track_embedding(tl, np.zeros(4, bool)), tl.mean(0))  # none loud: every slice
    np.testing.assert_array_equal(track_embedding(tl), tl.mean(0))


def test_any_rate_channels_and_torch_input(model, train_corpus):
    path = open_dataset(train_corpus).tracks[0].path
    x = load(path, sr=16000)
    ref = model.embed(x, 16000)
    stereo = np.stack([x, x])  # (channels, samples)
    np.testing.assert_allclose(model.embed(stereo, 16000), ref, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(model.embed(stereo.T.copy(), 16000), ref, rtol=1e-5, atol=1e-6)  # (samples, channels)
    np.testing.assert_allclose(model.embed(torch.from_numpy(x), 16000), ref, rtol=1e-5, atol=1e-6)
    x44 = load(path, sr=44100)
    v44 = model.embed(x44, 44100)  # resampled back to 16 kHz by the model
    cos = float(v44 @ ref / np.linalg.norm(v44) / np.linalg.norm(ref))
    assert cos > 0.999
    assert not np.allclose(model.embed(x[::-1].copy(), 16000), ref, atol=1e-3)  # it does look at the audio


def test_batch_matches_single_items(model, train_corpus):
    ds = open_dataset(train_corpus)
    waves = [load(t.path, sr=16000) for t in ds.tracks[:3]]
    waves[1] = waves[1][: 16000 * 5]  # different lengths in one batch
    batch = model.embed_batch(waves, 16000)
    assert batch.shape == (3, 16) and batch.dtype == np.float32
    for i, w in enumerate(waves):
        np.testing.assert_allclose(batch[i], model.embed(w, 16000), rtol=1e-5, atol=1e-6)
    same = np.stack([waves[0][: 16000 * 4], waves[2][: 16000 * 4]])
    np.testing.assert_allclose(model.embed_batch(same, 16000)[1], model.embed(same[1], 16000), rtol=1e-5, atol=1e-6)


def test_a_file_path_is_decoded_in_place_of_a_waveform(model, train_corpus, tmp_path):
    """``embed`` and ``timeline`` take a path (str or Path) and decode it at the model's rate,
    as ``embed_file``; a waveform without its rate, or an undecodable file, is a clear error."""
    from tunespace.errors import AudioError

    t = open_dataset(train_corpus).tracks[0]
    audio, sr = sf.read(t.path, dtype="float32")
    np.testing.assert_allclose(model.embed(str(t.path)), model.embed(audio, sr), rtol=1e-5, atol=1e-6)
    np.testing.assert_array_equal(model.embed(t.path), model.embed_file(t.path))
    from_file, from_audio = model.timeline(t.path).embeddings, model.timeline(audio, sr).embeddings
    np.testing.assert_allclose(from_file, from_audio, rtol=1e-5, atol=1e-6)
    other = open_dataset(train_corpus).tracks[1].path
    np.testing.assert_allclose(
        model.embed_batch([t.path, str(other)]),
        np.stack([model.embed(t.path), model.embed(other)]),
        rtol=1e-5,
        atol=1e-6,
    )
    with pytest.raises(UsageError, match="sample_rate .* needed with a waveform"):
        model.embed(audio)
    (tmp_path / "bad.wav").write_bytes(b"RIFF0000WAVEjunk")
    with pytest.raises(AudioError, match="bad.wav"):
        model.embed(tmp_path / "bad.wav")


def test_short_audio_is_one_padded_slice(model):
    x = np.random.default_rng(0).standard_normal(8000).astype(np.float32) * 0.1
    tl = model.timeline(x, 16000)
    assert tl.embeddings.shape == (1, 16) and tl.times_s.tolist() == [1.5]
    np.testing.assert_allclose(tl.embeddings[0], model.embed_slices(cut_slices(x, [0.0], 16000, 3.0))[0])


@pytest.mark.parametrize(
    "bad, message",
    [
        (np.zeros(0, np.float32), "no samples"),
        (np.full(100, np.nan, np.float32), "non-finite"),
        (np.zeros((2, 2, 100), np.float32), "shape"),
    ],
)
def test_bad_waveforms_are_usage_errors(model, bad, message):
    with pytest.raises(UsageError, match=message):
        model.embed(bad, 16000)
    with pytest.raises(UsageError, match="sample_rate"):
        model.embed(np.zeros(100, np.float32), 0)


def test_random_model_and_bad_paths(tmp_path):
    m = tunespace.load_model("random:small")
    assert m.dim == m.embed(np.zeros(16000, np.float32), 16000).shape[0]
    with pytest.raises(UsageError, match="no such run folder"):
        tunespace.load_model(tmp_path / "nothing")
    with pytest.raises(UsageError, match="slice_seconds"):
        tunespace.load_model("random:small", slice_seconds=float("nan"))


def test_slices_default_to_the_training_excerpt_length(train_corpus, tmp_path):
    """A model trained on 4 s excerpts embeds 4 s slices unless told otherwise, from Python and
    from ``tunespace embed``; random encoders and MULE-setting models keep 3 s."""
    from tests.conftest import tiny_overrides

    from tunespace.train import resolve_config, train

    run = tmp_path / "run4"
    train(
        run,
        resolve_config(
            None, [*tiny_overrides(steps=1), "pairs.excerpt_seconds=4.0"], **{"data.path": str(train_corpus)}
        ),
    )
    m = tunespace.load_model(run)
    assert m.slice_seconds == 4.0 and m.slice_samples == 64000
    assert tunespace.load_model(run, slice_seconds=3.0).slice_seconds == 3.0
    assert tunespace.load_model("random:small").slice_seconds == 3.0
    out = tmp_path / "emb"
    args = ["embed", "--model", str(run), "--data", str(train_corpus), "--out", str(out), "--workers", "0"]
    assert main([*args, "--timelines", "--no-progress"]) == 0
    emb = read_embeddings(out)
    assert emb.meta["slice_seconds"] == 4.0
    t = open_dataset(train_corpus).tracks[0]
    audio, sr = sf.read(t.path, dtype="float32")
    np.testing.assert_allclose(m.timeline(audio, sr).times_s, [2.0, 4.0, 6.0, 8.0])  # 10 s: starts 0, 2, 4, 6
    np.testing.assert_allclose(np.load(out / "timelines" / f"{t.id}.npy"), m.timeline(audio, sr).embeddings, atol=1e-5)


def test_slicing_helpers():
    assert slice_starts(10.0, 3.0, 2.0) == [0.0, 2.0, 4.0, 6.0]
    x = np.arange(10, dtype=np.float32)
    s = cut_slices(x, [0.0, 0.5], 10, 0.6)
    assert s.shape == (2, 6) and s[1].tolist() == [5, 6, 7, 8, 9, 0]

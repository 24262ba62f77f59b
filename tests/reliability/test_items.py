"""Bad items never stop a batch: tiny, empty, silent, non-audio, truncated and dangling entries
are each reported in errors.csv with a reason (every listed track ends up in exactly one of
ids.txt and errors.csv), the run goes on, reruns give the same files, and libsndfile prints
nothing of its own."""

from __future__ import annotations

import csv
import os

import numpy as np
import pytest
import soundfile as sf
from tests.reliability.conftest import SR, TINY, cli, tone

from tunespace.audio import REASONS, load
from tunespace.datasets import open_dataset
from tunespace.embed import read_embeddings
from tunespace.embed.extract import embed_dataset, random_encoder

#: file -> the start of its reason in errors.csv (None: embedded).
EXPECTED = {
    "t0.wav": None,
    "t1.wav": None,
    "t2.flac": None,
    "one.wav": "too short",  # 1 sample at 44.1 kHz
    "zero.wav": "no samples",  # a WAV header with 0 frames
    "short.wav": "too short",  # 0.5 s < --min-seconds 1
    "empty.wav": "empty (0 bytes)",
    "garbage.wav": "truncated or corrupt",
    "text.flac": "truncated or corrupt",
    "head.mp3": "truncated or corrupt",  # the first 300 bytes of an MP3
    "cut.mp3": "truncated or corrupt",  # the first third of an MP3
    "nan.wav": "non-finite samples",
    "silent.wav": "silent",
    "silent2.flac": "silent",
    "quiet.wav": "silent",  # noise peaking at -80 dBFS
    "dangle.wav": "missing",  # a symlink to nothing
    "loop.wav": "missing",  # a symlink to itself
}
#: entries the folder reader leaves out (Dataset.problems) -> start of the reason
LEFT_OUT = {"x.wav": "left out by the reader: a folder", ".hidden.wav": "left out by the reader: hidden"}


@pytest.fixture(scope="module")
def messy(tmp_path_factory):
    d = tmp_path_factory.mktemp("messy")
    sf.write(d / "t0.wav", tone(4.0, 220), SR)
    sf.write(d / "t1.wav", tone(6.0, 440, seed=1), 22050)
    sf.write(d / "t2.flac", tone(3.5, 330, seed=2), SR)
    sf.write(d / "one.wav", np.array([0.5], np.float32), 44100)
    sf.write(d / "zero.wav", np.zeros(0, np.float32), SR)
    sf.write(d / "short.wav", tone(0.5), SR)
    (d / "empty.wav").write_bytes(b"")
    (d / "garbage.wav").write_bytes(b"RIFF\x00\x00\x00\x00WAVEgarbage" * 4)
    (d / "text.flac").write_text("not audio at all\n")
    sf.write(d / "full.mp3", tone(6.0), SR, format="MP3")
    mp3 = (d / "full.mp3").read_bytes()
    (d / "full.mp3").unlink()
    (d / "head.mp3").write_bytes(mp3[:300])
    (d / "cut.mp3").write_bytes(mp3[: len(mp3) // 3])
    x = tone(2.0)
    x[100] = np.nan
    sf.write(d / "nan.wav", x, SR, subtype="FLOAT")
    sf.write(d / "silent.wav", np.zeros(4 * SR, np.float32), SR)
    sf.write(d / "silent2.flac", np.zeros(5 * SR, np.float32), SR)
    sf.write(d / "quiet.wav", (1e-4 * np.random.default_rng(0).uniform(-1, 1, 3 * SR)).astype(np.float32), SR)
    os.symlink(d / "nowhere.wav", d / "dangle.wav")
    os.symlink(d / "loop.wav", d / "loop.wav")
    (d / "x.wav").mkdir()
    sf.write(d / ".hidden.wav", tone(2.0), SR)
    return d


def _rows(out):
    with open(out / "errors.csv", newline="") as f:
        return list(csv.reader(f))[1:]


@pytest.mark.parametrize("workers", [0, 2])
def test_every_listed_track_is_embedded_or_reported_once(messy, tmp_path, capfd, workers):
    out = tmp_path / "emb"
    capfd.readouterr()
    code, _ = cli(
        ["embed", "--model", "random:small", "--data", messy, "--out", out, "--workers", workers, "--no-progress"],
        capfd,
    )
    assert code == 0
    assert capfd.readouterr().err == ""  # libsndfile/mpg123 printed nothing of their own
    ds = open_dataset(messy)
    emb = read_embeddings(out)
    reasons = {os.path.basename(f): r for f, r in _rows(out)}
    listed = {t.path.name for t in ds.tracks}
    assert listed == set(EXPECTED)
    embedded = {ds.by_id()[i].path.name for i in emb.ids}
    assert embedded == {f for f, r in EXPECTED.items() if r is None}
    assert not embedded & set(reasons)  # exactly one of the two
    for f, want in {**EXPECTED, **LEFT_OUT}.items():
        if want is not None:
            assert reasons[f].startswith(want), (f, reasons[f])
    assert len(_rows(out)) == len(reasons)  # no file reported twice


def test_reruns_give_identical_files(messy, tmp_path):
    enc = random_encoder("small", seed=3, **TINY)
    for name in ("a", "b"):
        embed_dataset(enc, messy, tmp_path / name, workers=0, progress=False)
    for f in ("embeddings.npy", "ids.txt", "errors.csv"):
        assert (tmp_path / "a" / f).read_bytes() == (tmp_path / "b" / f).read_bytes()


def test_a_one_sample_file_is_a_bad_item_even_with_min_seconds_0(messy, tmp_path):
    emb = embed_dataset(
        random_encoder("small", **TINY), messy, tmp_path / "e", workers=0, progress=False, min_seconds=0
    )
    reasons = {os.path.basename(f): r for f, r in emb.errors}
    assert reasons["one.wav"] == "too short: 1 frame(s) at 44100 Hz give no sample at the model's 16000 Hz"
    assert reasons["zero.wav"].startswith("no samples")
    assert "short" in emb.ids  # 0.5 s: embedded when the user allows it


def test_keep_silent_embeds_silence_which_is_why_it_is_skipped(messy, tmp_path):
    emb = embed_dataset(
        random_encoder("small", **TINY), messy, tmp_path / "e", workers=0, progress=False, silence_db=None
    )
    assert {"silent", "silent2", "quiet"} <= set(emb.ids)
    v = {i: np.asarray(emb.vectors[emb.ids.index(i)]) for i in ("silent", "silent2", "t0")}
    # every silent track is one and the same point (to float rounding), far from any music
    assert np.abs(v["silent"] - v["silent2"]).max() < 1e-6 < np.abs(v["silent"] - v["t0"]).max()


def test_silence_threshold_is_a_setting(messy, tmp_path):
    emb = embed_dataset(
        random_encoder("small", **TINY), messy, tmp_path / "e", workers=0, progress=False, silence_db=-90
    )
    assert "quiet" in emb.ids and "silent" not in emb.ids  # -80 dBFS noise is not silent below -90


def test_truncated_mp3_prints_nothing_of_libsndfile(messy, capfd):
    capfd.readouterr()
    with pytest.raises(Exception) as e:
        load(messy / "cut.mp3")
    assert e.value.reason.startswith("truncated or corrupt")
    assert capfd.readouterr().err == ""


def test_every_audio_error_reason_is_documented(messy):
    from tunespace.errors import AudioError

    for name in (
        "one.wav",
        "zero.wav",
        "empty.wav",
        "garbage.wav",
        "text.flac",
        "head.mp3",
        "cut.mp3",
        "nan.wav",
        "dangle.wav",
        "loop.wav",
        "x.wav",
    ):
        try:
            load(messy / name)
        except AudioError as e:
            assert e.reason.startswith(REASONS), (name, e.reason)

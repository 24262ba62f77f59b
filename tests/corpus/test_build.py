"""The corpus folder: layout, CSV, metadata, durations, determinism, rebuild, errors."""

from __future__ import annotations

import csv

import numpy as np
import pytest
import soundfile as sf

from tunespace.cli import main
from tunespace.corpus import CSV_COLUMNS, build_corpus, read_tracks
from tunespace.corpus.styles import GENRES, INSTRUMENTS, MOODS
from tunespace.errors import UsageError
from tunespace.files import read_json
from tunespace.keys import KEY_NAMES


def _audio(d):
    return {r["track_id"]: sf.read(d / r["path"], dtype="int16")[0] for r in read_tracks(d)}


def test_layout_and_columns(small_corpus):
    with open(small_corpus / "tracks.csv", newline="") as f:
        reader = csv.DictReader(f)
        assert tuple(reader.fieldnames) == CSV_COLUMNS
        rows = list(reader)
    assert [r["track_id"] for r in rows] == [f"t{i:04d}" for i in range(6)]
    assert {r["genre"] for r in rows} == set(GENRES)
    for r in rows:
        assert r["path"] == f"audio/{r['track_id']}.flac"
        assert r["key"] in KEY_NAMES and r["mood"] in MOODS and r["instrument"] in INSTRUMENTS
        assert r["source"] == "procedural" and int(r["seed"]) >= 0
        info = sf.info(small_corpus / r["path"])
        assert (info.samplerate, info.channels, info.format) == (16000, 1, "FLAC")
        assert info.frames == 6 * 16000 and float(r["duration_s"]) == 6.0
    assert not list((small_corpus / "audio").glob(".*"))  # no temporary files left


def test_audio_levels(small_corpus):
    for a in _audio(small_corpus).values():
        x = a.astype(np.float64) / 32768
        assert np.max(np.abs(x)) <= 10 ** (-1 / 20) + 1e-4  # no clipping: peak <= -1 dBFS
        assert np.sqrt(np.mean(x**2)) > 10 ** (-30 / 20)  # audible, not silence


def test_metadata(small_corpus):
    meta = read_json(small_corpus / "corpus.json")
    assert meta["parameters"] == {"tracks": 6, "seconds": 6.0, "seed": 3, "source": "procedural"}
    assert meta["vocabularies"]["key"] == list(KEY_NAMES)
    assert set(meta["vocabularies"]["genre"]) == set(GENRES) == set(meta["genres"])
    assert set(meta["moods"]) == set(MOODS)
    assert all(len(g["description"]) > 40 for g in meta["genres"].values())
    assert meta["tunespace_version"] and meta["audio"]["sample_rate"] == 16000


def test_deterministic_across_workers(small_corpus, tmp_path):
    again = build_corpus(tmp_path / "again", tracks=6, seconds=6.0, seed=3, workers=1)
    assert (again / "tracks.csv").read_bytes() == (small_corpus / "tracks.csv").read_bytes()
    a, b = _audio(small_corpus), _audio(again)
    assert all(np.array_equal(a[k], b[k]) for k in a)
    other = build_corpus(tmp_path / "other", tracks=2, seconds=6.0, seed=4, workers=1)
    assert (other / "tracks.csv").read_text() != (again / "tracks.csv").read_text()
    assert not np.array_equal(_audio(other)["t0000"], a["t0000"])


def test_rebuild_skips_identical_tracks(tmp_path):
    d = build_corpus(tmp_path / "c", tracks=2, seconds=5.0, seed=0, workers=1)
    mtimes = {p.name: p.stat().st_mtime_ns for p in (d / "audio").iterdir()}
    build_corpus(d, tracks=3, seconds=5.0, seed=0, workers=1)
    assert {p.name: p.stat().st_mtime_ns for p in (d / "audio").iterdir() if p.name in mtimes} == mtimes
    assert len(read_tracks(d)) == 3 and (d / "audio" / "t0002.flac").is_file()


def test_errors(tmp_path, capsys):
    f = tmp_path / "file"
    f.write_text("x")
    with pytest.raises(UsageError, match="is a file"):
        build_corpus(f, tracks=1)
    for argv in (["--tracks", "0"], ["--seconds", "2"], ["--source", "wav"]):
        assert main(["corpus", "build", "--out", str(tmp_path / "o"), *argv]) == 2
        err = capsys.readouterr().err.strip()
        assert err.startswith("tunespace corpus: error:") and "\n" not in err
    assert main(["corpus", "build", "--out", str(f), "--tracks", "1"]) == 2


def test_cli_build_and_summary(tmp_path, capsys):
    out = tmp_path / "cli"
    assert (
        main(["corpus", "build", "--out", str(out), "--tracks", "2", "--seconds", "5", "--seed", "1", "--workers", "1"])
        == 0
    )
    printed = capsys.readouterr().out
    assert "2 tracks" in printed and len(read_tracks(out)) == 2
    assert main(["corpus", "summary", str(out)]) == 0
    assert "genres:" in capsys.readouterr().out

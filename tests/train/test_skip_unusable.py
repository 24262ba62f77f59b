"""Training on a plain folder skips unusable files (recorded with a reason) instead of stopping."""

from __future__ import annotations

import csv
import json
import os

import numpy as np
import pytest
from tests.conftest import tiny_overrides

from tunespace.audio import load, save
from tunespace.cli import main
from tunespace.datasets import open_dataset


@pytest.fixture()
def folder(train_corpus, tmp_path):
    music = tmp_path / "mymusic"
    for t in open_dataset(train_corpus).tracks[:6]:
        save(music / "sub" / f"{t.id}.wav", load(t.path, sr=16000), 16000)
    (music / "corrupt.flac").write_bytes(b"fLaC" + b"\x00" * 200)
    (music / "empty.wav").write_bytes(b"")
    (music / "notes.mp3").write_text("this is text, not audio")
    save(music / "short.wav", np.zeros(16000, np.float32), 16000)  # 1 s: shorter than the pair window
    os.symlink(music / "gone.ogg", music / "dangling.ogg")
    return music


def _skipped(run):
    with open(run / "skipped.csv", newline="") as f:
        return {os.path.basename(r["file"]): r for r in csv.DictReader(f)}


def test_bad_files_are_skipped_with_reasons(folder, tmp_path, capsys):
    run = tmp_path / "run"
    rc = main(["train", "--data", str(folder), "--out", str(run), *tiny_overrides(steps=2, batch=8)])
    cap = capsys.readouterr()
    assert rc == 0, cap.err
    rows = _skipped(run)
    assert set(rows) == {"corrupt.flac", "empty.wav", "notes.mp3", "short.wav", "dangling.ogg"}
    assert rows["empty.wav"]["reason"].startswith("empty")
    assert rows["corrupt.flac"]["reason"].startswith("truncated or corrupt")
    assert rows["dangling.ogg"]["reason"].startswith("missing")
    assert rows["short.wav"]["reason"].startswith("too short")
    assert all(r["count"] == "0" for r in rows.values())
    assert "skipped unreadable files: 5" in cap.out
    # 6 usable tracks, fewer than the batch of 8: the batch shrinks, with a warning
    assert "using batches of 6" in cap.err
    assert (run / "checkpoints" / "latest.txt").is_file()


def test_too_many_unusable_tracks_stop_with_one_line(folder, tmp_path, capsys):
    rc = main(
        [
            "train",
            "--data",
            str(folder),
            "--out",
            str(tmp_path / "r"),
            *tiny_overrides(steps=2),
            "data.max_unreadable_share=0.2",
        ]
    )
    err = capsys.readouterr().err.strip()
    assert rc == 2 and len(err.splitlines()) == 1
    assert "5 of 11 tracks cannot be used" in err and "max_unreadable_share=0.2" in err
    lone = tmp_path / "lone"
    save(lone / "a.wav", load(next((folder / "sub").iterdir()), sr=16000), 16000)
    (lone / "b.wav").write_bytes(b"")
    rc = main(
        [
            "train",
            "--data",
            str(lone),
            "--out",
            str(tmp_path / "r2"),
            *tiny_overrides(steps=2),
            "data.max_unreadable_share=1",
        ]
    )
    err = capsys.readouterr().err.strip()
    assert rc == 2 and "only 1 of 2 tracks can be used" in err and len(err.splitlines()) == 1


def test_a_step_without_two_readable_pairs_still_counts_logs_progress_and_checkpoints(
    train_corpus, tmp_path, monkeypatch, capsys
):
    """Every track of step 2's batch fails to read during training (after the checks before it):
    that step is spent unused, yet the progress bar counts it, the checkpoint due at step 2 is
    written and the failed reads are in ``skipped.csv`` with their reason and count."""
    from tunespace.caches import DiskAudio
    from tunespace.errors import AudioError
    from tunespace.pairs import DistinctTrackBatches
    from tunespace.train import load_checkpoint, resolve_config, train

    over = tiny_overrides(steps=4, batch=2, every=2) + [
        "train.keep_checkpoints=0",
        "train.progress=true",
        "train.num_workers=0",
        "data.cache_audio=false",
        "data.cache_spectrograms=false",
    ]
    cfg = resolve_config(None, over, **{"data.path": str(train_corpus), "augment.policy": "none"})
    tracks = open_dataset(train_corpus).tracks
    failing = {str(tracks[i].path) for _, i in DistinctTrackBatches(len(tracks), 2, cfg["seed"], 4).batch_at(1)}
    window = DiskAudio.window

    def flaky(self, track, start_s, length):
        if str(track.path) in failing:
            raise AudioError(track.path, "vanished during training")
        return window(self, track, start_s, length)

    monkeypatch.setattr(DiskAudio, "window", flaky)
    run = tmp_path / "run"
    res = train(run, cfg)
    err = capsys.readouterr().err
    assert res.steps == 4
    assert sorted(p.name for p in (run / "checkpoints").glob("step_*.pt")) == [
        "step_0000002.pt",
        "step_0000004.pt",
    ]
    assert load_checkpoint(run / "checkpoints" / "step_0000002.pt")["step"] == 2
    assert "4/4" in err.rstrip().rsplit("\r", 1)[-1], err  # the bar's last state counts the unused step
    rows = [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines()]
    assert [r["step"] for r in rows] == [1, 3, 4]  # no loss to log for the unused step
    skipped = {r["file"]: r for r in csv.DictReader(open(run / "skipped.csv", newline=""))}
    assert set(skipped) == failing
    assert all(r["reason"] == "vanished during training" and r["count"] == "1" for r in skipped.values())
    assert set(res.skipped) == failing


def test_a_silent_track_gives_no_pairs_and_is_listed_each_time(train_corpus, tmp_path, capsys):
    music = tmp_path / "withsilence"
    for t in open_dataset(train_corpus).tracks[:6]:
        save(music / f"{t.id}.wav", load(t.path, sr=16000), 16000)
    save(music / "silence.wav", np.zeros(16000 * 10, np.float32), 16000)  # 10 s of digital silence
    run = tmp_path / "run"
    rc = main(["train", "--data", str(music), "--out", str(run), *tiny_overrides(steps=3, batch=7)])
    assert rc == 0, capsys.readouterr().err
    rows = _skipped(run)
    assert set(rows) == {"silence.wav"}
    assert rows["silence.wav"]["reason"].startswith("silent: no pair of excerpts above -60 dBFS")
    assert rows["silence.wav"]["count"] == "3"  # in every step's batch, never in a pair
    cfg = json.loads((run / "config.json").read_text())
    assert cfg["pairs"]["min_rms_db"] == -60.0

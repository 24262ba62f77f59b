"""The trainer: resumption gives the same weights, bad input fails before training with exit 2,
unreadable files are skipped and counted, run folder contents."""

from __future__ import annotations

import json
import math
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch
from tests.conftest import tiny_overrides

from tunespace import devices
from tunespace.cli import main
from tunespace.models.checkpoint import latest_checkpoint
from tunespace.train import load_checkpoint, resolve_config, train


def _cfg(corpus, policy="ts+ps", steps=4, extra=()):
    return resolve_config(
        None, tiny_overrides(steps=steps) + list(extra), **{"data.path": str(corpus), "augment.policy": policy}
    )


def _weights(run: Path) -> dict[str, torch.Tensor]:
    return load_checkpoint(latest_checkpoint(run))["model"]


def test_run_folder_contents(train_corpus, tmp_path):
    res = train(tmp_path / "run", _cfg(train_corpus, steps=4))
    run = tmp_path / "run"
    cfg = json.loads((run / "config.json").read_text())
    assert cfg["augment"]["policy"] == "ts+ps" and cfg["train"]["steps"] == 4
    rows = [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines()]
    assert [r["step"] for r in rows] == [1, 2, 3, 4]
    for key in ("loss", "lr", "pairs_per_s", "alignment", "uniformity", "skipped"):
        assert key in rows[-1]
    assert all(torch.isfinite(torch.tensor(r["loss"])) for r in rows)
    assert any(p.name.startswith("events.out.tfevents") for p in (run / "tb").iterdir())
    state = torch.load(res.checkpoint, weights_only=True)
    assert state["step"] == 4


def test_several_pairs_per_track_train_with_the_multi_positive_loss(train_corpus, tmp_path, monkeypatch):
    from tunespace.losses import ntxent

    seen = []
    plain = ntxent.nt_xent

    def spy(z_a, z_b, temperature=0.1, gather_distributed=True, labels=None):
        seen.append(None if labels is None else labels.tolist())
        return plain(z_a, z_b, temperature, gather_distributed, labels)

    monkeypatch.setattr(ntxent, "nt_xent", spy)
    train(tmp_path / "two", _cfg(train_corpus, steps=3, extra=["pairs.per_track=2"]))
    assert json.loads((tmp_path / "two" / "config.json").read_text())["pairs"]["per_track"] == 2
    rows = [json.loads(line) for line in (tmp_path / "two" / "metrics.jsonl").read_text().splitlines()]
    assert len(rows) == 3 and all(math.isfinite(r["loss"]) for r in rows)
    # each step: 4 pairs from 2 tracks, each track's two pairs given one label
    assert len(seen) == 3 and all(len(t) == 4 and t[0] == t[1] and t[2] == t[3] and t[0] != t[2] for t in seen)
    seen.clear()
    train(tmp_path / "one", _cfg(train_corpus, steps=1))
    assert seen == [None]  # one pair per track: plain NT-Xent, as before


@pytest.mark.parametrize("batch, per_track, expected", [(8, 2, 8), (64, 2, 32), (64, 4, 64), (48, 1, 16)])
def test_a_batch_shrinks_to_the_tracks_it_needs(train_corpus, batch, per_track, expected, capsys):
    from tunespace.train.run import prepare

    cfg = _cfg(train_corpus, extra=[f"train.batch_size={batch}", f"pairs.per_track={per_track}"])
    assert prepare(cfg)["batch_size"] == expected  # 16 tracks: batch / per_track distinct tracks at most 16
    assert ("warning" in capsys.readouterr().err) == (expected != batch)


def test_train_threads_hold_for_the_run_only(train_corpus, tmp_path):
    """A training's ``train.threads`` (1 here) is not left behind for what the process computes next
    (a study's later stages), whose results depend on their own thread count."""
    with devices.torch_threads(2):
        train(tmp_path / "run", _cfg(train_corpus, steps=1))
        assert torch.get_num_threads() == 2


def test_loss_decreases_when_training_longer(train_corpus, tmp_path):
    cfg = _cfg(train_corpus, policy="none", steps=30, extra=["train.lr=0.003", "train.checkpoint_every=30"])
    train(tmp_path / "run", cfg)
    rows = [json.loads(line) for line in (tmp_path / "run" / "metrics.jsonl").read_text().splitlines()]
    first = sum(r["loss"] for r in rows[:5]) / 5
    last = sum(r["loss"] for r in rows[-5:]) / 5
    assert last < first - 0.1, (first, last)


def test_stop_and_resume_gives_identical_weights(train_corpus, tmp_path):
    cfg = _cfg(train_corpus, steps=6)
    train(tmp_path / "full", cfg)
    train(tmp_path / "part", cfg, should_stop=lambda s: s >= 2)
    assert load_checkpoint(latest_checkpoint(tmp_path / "part"))["step"] == 2
    train(tmp_path / "part", cfg, resume=True)
    a, b = _weights(tmp_path / "full"), _weights(tmp_path / "part")
    assert a.keys() == b.keys()
    for k in a:
        assert torch.equal(a[k], b[k]), k


def test_a_run_made_before_a_key_existed_resumes_as_it_was_trained(train_corpus, tmp_path):
    """A config.json without ``pairs.per_track`` / ``pairs.min_rms_db`` (a run of an earlier
    version) resumes with one pair per track and no silence check, with or without settings."""
    cfg = _cfg(train_corpus, steps=4, extra=["pairs.min_rms_db=null"])
    train(tmp_path / "full", cfg)
    train(tmp_path / "old", cfg, should_stop=lambda s: s >= 2)
    stored = json.loads((tmp_path / "old" / "config.json").read_text())
    del stored["pairs"]["per_track"], stored["pairs"]["min_rms_db"]
    (tmp_path / "old" / "config.json").write_text(json.dumps(stored))
    train(tmp_path / "old", None, resume=True, should_stop=lambda s: s >= 3)
    train(tmp_path / "old", cfg, resume=True)
    a, b = _weights(tmp_path / "full"), _weights(tmp_path / "old")
    for k in a:
        assert torch.equal(a[k], b[k]), k


@pytest.mark.slow
def test_killed_process_resumes_to_identical_weights(train_corpus, tmp_path):
    """SIGKILL a real `tunespace train` process after its first checkpoint, resume, compare."""
    args = ["--data", str(train_corpus), "--augment", "ps", *tiny_overrides(steps=40, every=4)]
    assert main(["train", "--out", str(tmp_path / "full"), *args]) == 0
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[2] / "src")}
    proc = subprocess.Popen(
        [sys.executable, "-m", "tunespace", "train", "--out", str(tmp_path / "killed"), *args],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        env=env,
    )
    deadline = time.time() + 120
    while latest_checkpoint(tmp_path / "killed") is None and time.time() < deadline and proc.poll() is None:
        time.sleep(0.05)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    step = load_checkpoint(latest_checkpoint(tmp_path / "killed"))["step"]
    assert step < 40, "the process finished before it could be killed"
    assert main(["train", "--out", str(tmp_path / "killed"), "--resume"]) == 0
    a, b = _weights(tmp_path / "full"), _weights(tmp_path / "killed")
    for k in a:
        assert torch.equal(a[k], b[k]), k


@pytest.mark.parametrize(
    "extra, message",
    [
        (["model.encoder=nope"], "unknown encoder"),
        (["train.lr=-1"], "train.lr"),
        (["data.max_unreadable_share=2"], "max_unreadable_share"),
        (["pairs.excerpt_seconds=12"], "shorter than the pair window"),
        (["loss.temperature=0"], "loss.temperature"),
        (["train.stepz=3"], "unknown config key"),
        (["train.amp=fp16", "train.device=cpu"], "train.amp fp16 needs a CUDA device"),
        (["pairs.per_track=3"], "train.batch_size 4 is not a multiple of pairs.per_track 3"),
    ],
)
def test_bad_input_fails_before_training_with_exit_2(train_corpus, tmp_path, capsys, extra, message):
    rc = main(["train", "--data", str(train_corpus), "--out", str(tmp_path / "r"), *tiny_overrides(), *extra])
    err = capsys.readouterr().err.strip()
    assert rc == 2
    assert len(err.splitlines()) == 1 and (message in err.lower() or message in err), err
    assert not (tmp_path / "r" / "checkpoints").exists()


def test_unknown_policy_exits_2(train_corpus, tmp_path, capsys):
    rc = main(
        ["train", "--data", str(train_corpus), "--augment", "wobble", "--out", str(tmp_path / "r"), *tiny_overrides()]
    )
    assert rc == 2 and "wobble" in capsys.readouterr().err


def test_missing_dataset_exits_2(tmp_path, capsys):
    rc = main(["train", "--data", str(tmp_path / "nothing"), "--out", str(tmp_path / "r")])
    assert rc == 2 and "nothing" in capsys.readouterr().err


def test_unreadable_file_is_skipped_and_counted(train_corpus, tmp_path):
    corpus = tmp_path / "corpus"
    shutil.copytree(train_corpus, corpus)
    victim = sorted((corpus / "audio").glob("*.flac"))[3]
    victim.write_bytes(b"\x00garbage" * 10)
    cfg = _cfg(corpus, policy="none", steps=8)
    res = train(tmp_path / "run", cfg)
    assert res.steps == 8
    skipped = (tmp_path / "run" / "skipped.csv").read_text()
    assert skipped.splitlines()[0] == "file,reason,count"
    assert f"{victim},truncated or corrupt" in skipped
    assert res.skipped[str(victim)].startswith("truncated or corrupt")


def test_existing_run_folder_is_not_overwritten(train_corpus, tmp_path, capsys):
    args = ["train", "--data", str(train_corpus), "--out", str(tmp_path / "r"), *tiny_overrides(steps=2)]
    assert main(args) == 0
    assert main(args) == 2
    assert "--resume" in capsys.readouterr().err


@pytest.mark.parametrize("backend", ["spectral", "waveform"])
def test_view_parameters_are_logged_as_json(train_corpus, tmp_path, backend):
    cfg = _cfg(
        train_corpus,
        policy="ps",
        steps=2,
        extra=["train.log_views=true", f"augment.backend={backend}", "train.num_workers=0"],
    )
    train(tmp_path / "run", cfg)
    rows = [json.loads(line) for line in (tmp_path / "run" / "views.jsonl").read_text().splitlines()]
    assert [r["step"] for r in rows] == [0, 1]
    params = rows[0]["cpu"] if backend == "waveform" else rows[0]["device"]
    text = json.dumps(params)
    assert "semitones" in text and "applied" in text


def test_resumed_run_logs_every_step_once(train_corpus, tmp_path):
    """A run killed after logging steps past its checkpoint replays them: they are logged once."""
    cfg = _cfg(train_corpus, policy="none", steps=6, extra=["train.log_views=true", "train.num_workers=0"])
    run = tmp_path / "run"
    train(run, cfg, should_stop=lambda s: s >= 2)
    # what a process killed during step 4 leaves: steps 3 and 4 logged, the last line cut short
    with open(run / "metrics.jsonl", "a") as f:
        f.write(
            json.dumps({"step": 3, "loss": 9.0})
            + "\n"
            + json.dumps({"step": 4, "loss": 9.0})
            + "\n"
            + '{"step": 5, "lo'
        )
    with open(run / "views.jsonl", "a") as f:
        f.write(json.dumps({"step": 2, "index": []}) + "\n" + json.dumps({"step": 3, "index": []}) + "\n")
    train(run, cfg, resume=True)
    rows = [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines()]
    assert [r["step"] for r in rows] == [1, 2, 3, 4, 5, 6]
    assert all(r["loss"] != 9.0 for r in rows)
    views = [json.loads(line)["step"] for line in (run / "views.jsonl").read_text().splitlines()]
    assert views == [0, 1, 2, 3, 4, 5]


def test_fresh_start_after_a_run_killed_before_its_first_checkpoint_starts_clean_logs(train_corpus, tmp_path):
    run = tmp_path / "run"
    run.mkdir()
    (run / "metrics.jsonl").write_text(json.dumps({"step": 1, "loss": 9.0}) + "\n")
    train(run, _cfg(train_corpus, policy="none", steps=2))
    rows = [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines()]
    assert [r["step"] for r in rows] == [1, 2] and rows[0]["loss"] != 9.0


def test_resuming_a_finished_run_reports_its_final_loss(train_corpus, tmp_path, capsys):
    run = tmp_path / "run"
    res = train(run, _cfg(train_corpus, policy="none", steps=4))
    again = train(run, None, resume=True)
    assert again.steps == 4 and again.final_loss == pytest.approx(res.final_loss)
    assert load_checkpoint(res.checkpoint)["loss"] == pytest.approx(res.final_loss)
    capsys.readouterr()
    assert main(["train", "--out", str(run), "--resume"]) == 0
    out = capsys.readouterr().out
    assert "nan" not in out and f"{res.final_loss:.4f}" in out


def test_checkpoint_of_an_older_version_without_loss_uses_the_logged_loss(train_corpus, tmp_path):
    run = tmp_path / "run"
    res = train(run, _cfg(train_corpus, policy="none", steps=2))
    state = load_checkpoint(res.checkpoint)
    del state["loss"]
    torch.save(state, res.checkpoint)
    assert train(run, None, resume=True).final_loss == pytest.approx(res.final_loss)


@pytest.mark.parametrize(
    "override", ["train.steps=true", "train.batch_size=false", "seed=true", "train.log_every=true"]
)
def test_a_bool_is_not_an_integer(train_corpus, tmp_path, capsys, override):
    rc = main(["train", "--data", str(train_corpus), "--out", str(tmp_path / "r"), *tiny_overrides(), override])
    err = capsys.readouterr().err.strip()
    assert rc == 2 and len(err.splitlines()) == 1 and override.split("=")[0] in err
    assert not (tmp_path / "r").exists()


def test_a_foreign_checkpoint_in_the_run_folder_is_refused_on_resume(train_corpus, tmp_path, capsys):
    run = tmp_path / "run"
    res = train(run, _cfg(train_corpus, policy="none", steps=2))
    state = load_checkpoint(res.checkpoint)
    state["model"] = {k: torch.zeros(3) for k in state["model"]}  # right names, wrong sizes
    torch.save(state, res.checkpoint)
    assert main(["train", "--out", str(run), "--resume"]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "does not fit" in err


def test_should_stop_is_asked_after_each_step_and_its_checkpoint_and_stops_resumably(train_corpus, tmp_path):
    """``should_stop(step)`` is called after every step, once any checkpoint due at that step is
    written; True checkpoints and logs the step, returns ``stopped``; resuming ends where an
    uninterrupted run ends."""
    cfg = _cfg(train_corpus, policy="none", steps=6, extra=["train.log_every=2"])
    full = train(tmp_path / "full", cfg)
    assert not full.stopped
    run = tmp_path / "part"
    seen = []

    def stop_at_3(step: int) -> bool:
        ckpt = latest_checkpoint(run)
        seen.append((step, ckpt.name if ckpt else None))
        return step >= 3

    res = train(run, cfg, should_stop=stop_at_3)
    assert seen == [(1, None), (2, "step_0000002.pt"), (3, "step_0000002.pt")]
    assert res.stopped and res.steps == 3 and res.checkpoint.name == "step_0000003.pt"
    assert load_checkpoint(res.checkpoint)["loss"] == pytest.approx(res.final_loss)
    rows = [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines()]
    assert [r["step"] for r in rows] == [2, 3]  # the step it stopped at is logged, though not a multiple of 2
    seen.clear()
    again = train(run, cfg, resume=True, should_stop=lambda s: seen.append(s) or False)
    assert seen == [4, 5, 6] and not again.stopped and again.steps == 6
    assert again.final_loss == full.final_loss
    a, b = _weights(tmp_path / "full"), _weights(run)
    for k in a:
        assert torch.equal(a[k], b[k]), k


def test_should_stop_after_the_last_step_changes_nothing(train_corpus, tmp_path):
    res = train(tmp_path / "run", _cfg(train_corpus, policy="none", steps=2), should_stop=lambda s: s >= 2)
    assert res.steps == 2 and not res.stopped and res.checkpoint.name == "step_0000002.pt"


def test_the_checkpoint_module_keeps_its_former_import_path():
    """``tunespace.train.checkpoint`` (where checkpoints lived before models/checkpoint.py)
    still gives the same functions."""
    import tunespace.models.checkpoint as new
    import tunespace.train.checkpoint as old

    for name in (
        "LATEST",
        "checkpoint_dir",
        "save_checkpoint",
        "latest_checkpoint",
        "resolve_checkpoint",
        "load_checkpoint",
        "first_lines",
        "checkpoint_problem",
    ):
        assert getattr(old, name) is getattr(new, name), name


@pytest.mark.parametrize("backend", ["spectral", "waveform"])
def test_pitch_class_bands_and_key_path_train_and_embed(train_corpus, tmp_path, backend):
    """frontend.chroma_bins reaches the encoder's input height everywhere a model is built:
    the trainer (both augmentation backends, pitch-shift moving the pitch-class bands) and the
    embedder loading the run."""
    import tunespace

    over = tiny_overrides(steps=2) + [
        "frontend.chroma_bins=12",
        "model.encoder_args={width: 16, depth: 1, embedding_dim: 16, pitch_classes: 12, rhythm_metre: true}",
        "augment.policy=ts+ps",
        f"augment.backend={backend}",
    ]
    train(tmp_path / "run", resolve_config(None, over, **{"data.path": str(train_corpus)}))
    model = tunespace.load_model(str(tmp_path / "run"))
    emb = model.embed_batch([torch.randn(16000 * 4).numpy() * 0.1], 16000)
    assert emb.shape == (1, 16) and torch.isfinite(torch.from_numpy(emb)).all()
    assert model.encoder.n_mels == 96 + 12

"""RunLog: skipped.csv keeps reasons and counts across a resumption; only the main process writes."""

from __future__ import annotations

import json

import pytest

from tunespace.train.runlog import RunLog, read_skipped, truncate_log, write_skipped


def test_skipped_csv_round_trips_reasons_and_counts(tmp_path):
    skipped = {
        "/m/a, b.wav": ('truncated or corrupt: "x", y', 3),
        "/m/é.flac": ("too short: 1.00 s", 0),
    }
    write_skipped(tmp_path, skipped)
    assert (tmp_path / "skipped.csv").read_text(encoding="utf-8").splitlines()[0] == "file,reason,count"
    assert read_skipped(tmp_path) == skipped
    assert not list(tmp_path.glob(".*"))  # no temporary file left behind


def test_a_resumed_log_adds_failed_reads_to_the_earlier_counts(tmp_path):
    write_skipped(tmp_path, {"/m/a.wav": ("vanished", 2)})
    log = RunLog(
        tmp_path,
        start_step=4,
        total_steps=8,
        main=True,
        resume=True,
        skipped_before={"/m/short.wav": "too short: 1.00 s"},
        progress=False,
    )
    log.failed_reads([("/m/a.wav", "vanished"), ("/m/b.wav", "empty file")])
    log.write_skipped()
    log.close()
    assert read_skipped(tmp_path) == {
        "/m/a.wav": ("vanished", 3),
        "/m/b.wav": ("empty file", 1),
        "/m/short.wav": ("too short: 1.00 s", 0),
    }
    assert log.reasons()["/m/b.wav"] == "empty file"


def test_only_the_main_process_writes(tmp_path):
    log = RunLog(
        tmp_path, start_step=0, total_steps=2, main=False, resume=False, skipped_before={"/x": "r"}, log_views=True
    )
    log.failed_reads([("/y", "gone")])
    log.metrics(1, 1.0, 0.1, lambda: {"alignment": 0.0, "uniformity": 0.0})
    log.views(0, [0, 1], [], {})
    log.write_skipped()
    log.close()
    assert list(tmp_path.iterdir()) == []
    assert log.reasons() == {"/x": "r", "/y": "gone"}


def test_metrics_records_keep_their_order_and_truncation_keeps_whole_records(tmp_path):
    log = RunLog(tmp_path, start_step=0, total_steps=2, main=True, resume=False, skipped_before={}, progress=False)
    log.pairs_done(8)
    log.metrics(1, 2.0, 0.01, lambda: {"alignment": 0.5, "uniformity": -1.0})
    log.metrics(2, 1.5, 0.02, lambda: {"alignment": 0.4, "uniformity": -1.5})
    log.close()
    rows = [json.loads(line) for line in (tmp_path / "metrics.jsonl").read_text().splitlines()]
    assert list(rows[0]) == ["step", "loss", "lr", "pairs_per_s", "alignment", "uniformity", "skipped"]
    with open(tmp_path / "metrics.jsonl", "a") as f:
        f.write('{"step": 3, "lo')  # cut short by a kill
    truncate_log(tmp_path / "metrics.jsonl", lambda r: r["step"] <= 1)
    assert [json.loads(line)["step"] for line in (tmp_path / "metrics.jsonl").read_text().splitlines()] == [1]


def test_tensorboard_missing_warns_and_names_the_extra(tmp_path, monkeypatch):
    import sys

    from tunespace.train.runlog import tb_writer

    monkeypatch.setitem(sys.modules, "torch.utils.tensorboard", None)
    with pytest.warns(UserWarning, match=r"tunespace\[tensorboard\]"):
        assert tb_writer(tmp_path) is None
    assert not (tmp_path / "tb").exists()

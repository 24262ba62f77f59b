"""Sharded extraction: two processes under torchrun (gloo on CPU) write the EMB folder one
process writes, and an interrupted sharded run resumes shard by shard."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from tests.conftest import tiny_overrides

from tunespace.embed import read_embeddings
from tunespace.embed.extract import embed_dataset, load_encoder
from tunespace.train import resolve_config, train

WORKER = Path(__file__).with_name("shard_worker.py")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _torchrun(*args: str, nproc: int = 2) -> subprocess.CompletedProcess:
    src = str(Path(__file__).resolve().parents[2] / "src")
    env = {**os.environ, "PYTHONPATH": src, "OMP_NUM_THREADS": "1"}
    for key in ("RANK", "WORLD_SIZE", "LOCAL_RANK", "MASTER_ADDR", "MASTER_PORT"):
        env.pop(key, None)
    cmd = [sys.executable, "-m", "torch.distributed.run", "--nproc_per_node", str(nproc)]
    cmd += ["--master_addr", "127.0.0.1", "--master_port", str(_free_port()), *args]
    return subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=300)


@pytest.fixture(scope="module")
def run_dir(train_corpus, tmp_path_factory):
    out = tmp_path_factory.mktemp("run")
    train(out, resolve_config(None, tiny_overrides(steps=2), **{"data.path": str(train_corpus)}))
    return out


@pytest.fixture(scope="module")
def one(run_dir, train_corpus, tmp_path_factory):
    """The EMB folder of one process."""
    out = tmp_path_factory.mktemp("one") / "emb"
    return embed_dataset(load_encoder(run_dir), train_corpus, out, workers=0, progress=False)


#: The most a rank may receive from another in one agreement (bytes pickled): an ok/error
#: value, a digest; never the embeddings (catalogue scale: gigabytes to every rank).
AGREED_BYTES = 512


def _report(folder: Path) -> list[dict]:
    """What each rank embedded anew and returned; checks that the ranks exchanged only small values."""
    reports = [json.loads((folder / f"rank{r}.json").read_text()) for r in (0, 1)]
    for r in reports:
        assert "EmbeddingSet" not in r["gathered_types"] and 0 < r["gathered_bytes"] <= AGREED_BYTES, r
    return [{"new": r["new"], "returned": r["returned"]} for r in reports]


def test_two_shards_write_what_one_process_writes_and_resume_by_shard(run_dir, train_corpus, one, tmp_path):
    out, rep = tmp_path / "two", tmp_path / "rep"
    rep.mkdir()
    # rank 1 stops after 3 of its 8 tracks: no rank merges, rank 0's shard is finished
    first = _torchrun(str(WORKER), str(run_dir), str(train_corpus), str(out), str(rep), "3")
    assert first.returncode == 0, first.stderr[-3000:]
    assert _report(rep) == [{"new": 8, "returned": None}, {"new": 3, "returned": None}]
    assert not (out / "embeddings.npy").exists()
    assert len(list((out / ".parts").glob("*.npz"))) == 11
    # the rerun embeds only what rank 1 left, then rank 0 merges
    second = _torchrun(str(WORKER), str(run_dir), str(train_corpus), str(out), str(rep), "-1")
    assert second.returncode == 0, second.stderr[-3000:]
    assert _report(rep) == [{"new": 0, "returned": 16}, {"new": 5, "returned": 16}]
    two = read_embeddings(out)
    assert two.ids == one.ids
    np.testing.assert_allclose(np.asarray(two.vectors), np.asarray(one.vectors), atol=1e-6, rtol=0)
    assert two.errors == one.errors
    m1, m2 = ({k: v for k, v in e.meta.items() if k != "files"} for e in (one, two))
    assert m1 == m2 and m2["n_embedded"] == 16
    assert not (out / ".parts").exists() and not (out / ".tunespace.lock").exists()


def test_torchrun_embed_cli_matches_one_process(run_dir, train_corpus, one, tmp_path):
    """``torchrun --nproc_per_node 2 -m tunespace embed``: one EMB folder, reported once."""
    out = tmp_path / "two"
    res = _torchrun(
        "-m",
        "tunespace",
        "embed",
        "--model",
        str(run_dir),
        "--data",
        str(train_corpus),
        "--out",
        str(out),
        "--workers",
        "0",
        "--device",
        "cpu",
        "--no-progress",
    )
    assert res.returncode == 0, res.stderr[-3000:]
    assert res.stdout.count("embedded 16 tracks") == 1
    two = read_embeddings(out)
    assert two.ids == one.ids
    np.testing.assert_allclose(np.asarray(two.vectors), np.asarray(one.vectors), atol=1e-6, rtol=0)

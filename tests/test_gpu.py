"""What runs on a CUDA device, checked on one: training (fp32, bf16 and fp16 autocast with its
gradient scaler), resuming a CPU run on the GPU, embedding, and torchrun asking for more GPUs than
the machine has.

Skipped where torch sees no CUDA device (CI's machines); run them where there is one with
``python -m pytest tests/test_gpu.py``. With ``TUNESPACE_GPU_TESTS=cpu`` they run on the CPU
instead: a dry run of the test code itself, in which the CPU-vs-GPU comparisons are trivial.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from tests.conftest import tiny_overrides

from tunespace import load_model
from tunespace.embed import read_embeddings
from tunespace.embed.extract import embed_dataset
from tunespace.models.checkpoint import latest_checkpoint
from tunespace.train import load_checkpoint, resolve_config, train

DRY_RUN = os.environ.get("TUNESPACE_GPU_TESTS") == "cpu"
GPU = "cpu" if DRY_RUN else "cuda"

pytestmark = pytest.mark.skipif(
    not DRY_RUN and not torch.cuda.is_available(), reason="no CUDA device here (TUNESPACE_GPU_TESTS=cpu: dry run)"
)


@pytest.fixture(autouse=True)
def _exact_fp32():
    """cuDNN's convolutions may use TF32 (a 10-bit mantissa) by default: off, so that ``amp=off``
    is float32 and comparable with the CPU."""
    before = torch.backends.cudnn.allow_tf32, torch.backends.cuda.matmul.allow_tf32
    torch.backends.cudnn.allow_tf32 = torch.backends.cuda.matmul.allow_tf32 = False
    yield
    torch.backends.cudnn.allow_tf32, torch.backends.cuda.matmul.allow_tf32 = before


def _train(
    corpus: Path,
    out: Path,
    device: str,
    amp: str,
    steps: int = 4,
    every: int = 2,
    resume: bool = False,
    policy: str = "none",
    backend: str = "spectral",
) -> list[dict]:
    over = [*tiny_overrides(steps=steps, batch=8, every=every), f"train.device={device}", f"train.amp={amp}"]
    fields = {"data.path": str(corpus), "augment.policy": policy, "augment.backend": backend}
    train(out, resolve_config(None, over, **fields), resume=resume)
    return [json.loads(line) for line in (out / "metrics.jsonl").read_text().splitlines()]


def _losses(rows: list[dict]) -> np.ndarray:
    return np.array([r["loss"] for r in rows])


@pytest.fixture(scope="module")
def cpu_run(train_corpus, tmp_path_factory):
    out = tmp_path_factory.mktemp("cpu_run")
    return out, _losses(_train(train_corpus, out, "cpu", "off"))


def test_fp32_training_on_the_gpu_matches_the_cpu(train_corpus, tmp_path, cpu_run):
    """Same seed, same pairs: the GPU's losses and weights are the CPU's up to float32 rounding
    (Adam's normalised steps keep differences of the order of the learning rate)."""
    rows = _train(train_corpus, tmp_path / "gpu", GPU, "off")
    np.testing.assert_allclose(_losses(rows), cpu_run[1], rtol=1e-4)
    a = load_checkpoint(latest_checkpoint(cpu_run[0]))["model"]
    b = load_checkpoint(latest_checkpoint(tmp_path / "gpu"))["model"]
    assert all(v.device.type == "cpu" for v in b.values())  # checkpoints load anywhere
    for k in a:
        if a[k].is_floating_point():
            assert (a[k] - b[k]).abs().max() <= 1e-2, k


@pytest.mark.parametrize("backend", ["spectral", "waveform"])
def test_augmented_training_on_the_gpu_draws_what_the_cpu_draws(train_corpus, tmp_path, backend):
    """``ts+ps`` on either back end: the device stage runs on the GPU (STFT, spectral
    augmentation, log-mel) with the CPU's augmentation parameters, so the losses are the CPU's."""
    cpu = _train(train_corpus, tmp_path / "cpu", "cpu", "off", policy="ts+ps", backend=backend)
    gpu = _train(train_corpus, tmp_path / "gpu", GPU, "off", policy="ts+ps", backend=backend)
    np.testing.assert_allclose(_losses(gpu), _losses(cpu), rtol=1e-4)


@pytest.mark.parametrize("amp", ["bf16", "fp16", "auto"])
def test_mixed_precision_training_tracks_fp32(train_corpus, tmp_path, cpu_run, amp):
    """bf16 / fp16 autocast (fp16 through a GradScaler) give finite losses within a few per cent
    of float32's, and checkpoints in float32."""
    rows = _train(train_corpus, tmp_path / amp, GPU, amp)
    losses = _losses(rows)
    assert np.isfinite(losses).all()
    np.testing.assert_allclose(losses, cpu_run[1], rtol=0.05)
    state = load_checkpoint(latest_checkpoint(tmp_path / amp))["model"]
    assert all(v.dtype == torch.float32 for v in state.values() if v.is_floating_point())


def test_a_cpu_run_resumes_on_the_gpu(train_corpus, tmp_path, cpu_run):
    """The device may change on resumption: steps 3-4 of a CPU run finished on the GPU give the
    CPU's own losses."""
    out = tmp_path / "moved"
    _train(train_corpus, out, "cpu", "off", steps=4, every=2)
    latest_checkpoint(out).unlink()  # step 4's: the run resumes from step 2's
    rows = _train(train_corpus, out, GPU, "off", steps=4, every=2, resume=True)
    np.testing.assert_allclose(_losses(rows), cpu_run[1], rtol=1e-4)


def test_embedding_on_the_gpu_matches_the_cpu(train_corpus, tmp_path):
    cpu = load_model("pretrained:ts", device="cpu")
    gpu = load_model("pretrained:ts", device=GPU)
    assert gpu.device.type == GPU
    rng = np.random.default_rng(0)
    audio = rng.standard_normal(22050 * 9).astype(np.float32) * 0.1
    np.testing.assert_allclose(gpu.embed(audio, 22050), cpu.embed(audio, 22050), rtol=1e-3, atol=1e-4)
    a = embed_dataset(cpu, train_corpus, tmp_path / "cpu", workers=0, device="cpu", progress=False)
    b = embed_dataset(gpu, train_corpus, tmp_path / "gpu", workers=0, device=GPU, progress=False)
    assert a.ids == b.ids and len(a.ids) == 16
    ea, eb = read_embeddings(tmp_path / "cpu").vectors, read_embeddings(tmp_path / "gpu").vectors
    cos = (ea * eb).sum(1) / np.linalg.norm(ea, axis=1) / np.linalg.norm(eb, axis=1)
    assert cos.min() > 0.9999


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.mark.skipif(DRY_RUN, reason="needs CUDA")
def test_torchrun_with_more_processes_than_gpus_is_a_one_line_error(train_corpus, tmp_path):
    n = torch.cuda.device_count() + 1
    src = str(Path(__file__).resolve().parents[1] / "src")
    env = {**os.environ, "PYTHONPATH": src + os.pathsep + os.environ.get("PYTHONPATH", ""), "OMP_NUM_THREADS": "1"}
    over = [*tiny_overrides(steps=2, batch=2, every=2), "train.device=cuda"]
    proc = subprocess.run(
        [sys.executable, "-m", "torch.distributed.run", f"--nproc_per_node={n}", "--master_addr=127.0.0.1"]
        + [f"--master_port={_free_port()}", "-m", "tunespace", "train", "--out", str(tmp_path / "run")]
        + ["--data", str(train_corpus), "--augment", "none", *over],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert proc.returncode != 0
    assert f"local rank {n - 1}, but this machine has {n - 1} CUDA device(s)" in proc.stderr
    assert "Traceback" not in proc.stderr.split("local rank")[0][-2000:]

"""One training step: its random draws come from (seed, step, rank) only; shapes of its output."""

from __future__ import annotations

import copy

import pytest
import torch
from tests.conftest import tiny_overrides

from tunespace.errors import ConfigError
from tunespace.train import resolve_config
from tunespace.train.run import PreparedRun
from tunespace.train.step import autocast, check_amp, train_step


def _one_step(run, cfg, batch, amp: str, step: int = 0):
    """Global step ``step`` of ``run`` on ``batch`` under ``amp``."""
    return train_step(
        batch,
        step=step,
        seed=cfg["seed"],
        rank=0,
        device=run.dist.device,
        transform=run.transform,
        model=run.ddp_model,
        loss_fn=run.loss_fn,
        optimizer=run.optimizer,
        scaler=None,
        amp=amp,
    )


def test_a_step_replays_exactly_and_another_step_draws_other_views(train_corpus, tmp_path):
    cfg = resolve_config(None, tiny_overrides(steps=2), **{"data.path": str(train_corpus), "augment.policy": "ts+ps"})
    run = PreparedRun.open(tmp_path / "run", cfg, resume=False)
    batch = next(iter(run.loader))
    start = copy.deepcopy((run.model.state_dict(), run.optimizer.state_dict()))

    def step(s: int):
        run.model.load_state_dict(start[0])
        run.optimizer.load_state_dict(start[1])
        run.set_lr(s)
        out = _one_step(run, cfg, batch, "off", s)
        return out, copy.deepcopy(run.model.state_dict())

    a, wa = step(0)
    b, wb = step(0)
    c, _ = step(1)
    assert a.n == 4 and a.embeddings.shape == (8, 16)
    assert a.loss == b.loss and all(torch.equal(wa[k], wb[k]) for k in wa)
    assert any(not torch.equal(wa[k], start[0][k]) for k in wa)  # the weights moved
    assert a.loss != c.loss and str(a.device_params) != str(c.device_params)
    geo = a.geometry()
    assert 0.0 <= geo["alignment"] <= 4.0 and geo["uniformity"] <= 0.0


def test_loader_workers_share_the_caches_by_fork_on_linux(train_corpus, tmp_path):
    """Loader workers are forked on Linux whatever Python's default start method (forkserver from
    Python 3.14 would pickle the decoded-audio and spectrogram caches into every worker)."""
    import sys

    over = [*tiny_overrides(steps=2), "train.num_workers=2"]
    cfg = resolve_config(None, over, **{"data.path": str(train_corpus), "augment.backend": "waveform"})
    run = PreparedRun.open(tmp_path / "run", cfg, resume=False)
    ctx = run.loader.multiprocessing_context
    if sys.platform.startswith("linux"):
        assert ctx is not None and ctx.get_start_method() == "fork"
    assert next(iter(run.loader))["index"].shape[0] == 4
    plain = resolve_config(None, tiny_overrides(steps=2), **{"data.path": str(train_corpus)})
    none = PreparedRun.open(tmp_path / "run0", plain, resume=False)
    assert none.loader.num_workers == 0 and none.loader.multiprocessing_context is None


def test_bf16_on_the_cpu_runs_the_forward_pass_in_bfloat16_and_keeps_float32_weights(train_corpus, tmp_path):
    cfg = resolve_config(None, tiny_overrides(steps=2), **{"data.path": str(train_corpus), "augment.policy": "ts+ps"})
    run = PreparedRun.open(tmp_path / "run", cfg, resume=False)
    batch = next(iter(run.loader))
    start = copy.deepcopy((run.model.state_dict(), run.optimizer.state_dict()))
    results = {}
    for amp in ("off", "bf16", "bf16"):
        run.model.load_state_dict(start[0])
        run.optimizer.load_state_dict(start[1])
        run.set_lr(0)
        out = _one_step(run, cfg, batch, amp)
        results.setdefault(amp, []).append((out, copy.deepcopy(run.model.state_dict())))
    ((f32, w32),) = results["off"]
    (b1, wb1), (b2, wb2) = results["bf16"]
    assert b1.loss == b2.loss and all(torch.equal(wb1[k], wb2[k]) for k in wb1)  # deterministic
    assert b1.loss != f32.loss  # the forward pass did run in bfloat16 ...
    assert abs(b1.loss - f32.loss) < 0.05 * abs(f32.loss)  # ... and computed the same loss to its precision
    assert all(v.dtype == torch.float32 for v in wb1.values() if v.is_floating_point())
    assert b1.embeddings.dtype == torch.float32


def test_autocast_on_the_cpu():
    cpu = torch.device("cpu")
    x = torch.randn(4, 8)
    w = torch.randn(8, 3)
    with autocast(cpu, "bf16"):
        assert (x @ w).dtype == torch.bfloat16
    for amp in ("off", "auto"):
        with autocast(cpu, amp):
            assert (x @ w).dtype == torch.float32
    with pytest.raises(ConfigError, match="train.amp fp16 needs a CUDA device; this run is on cpu"):
        check_amp(cpu, "fp16")
    with pytest.raises(ConfigError, match="train.amp bf16 needs a CUDA device; this run is on mps"):
        check_amp(torch.device("mps"), "bf16")

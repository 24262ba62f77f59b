"""One training step: its random draws come from (seed, step, rank) only; shapes of its output."""

from __future__ import annotations

import copy

import torch
from tests.conftest import tiny_overrides

from tunespace.train import resolve_config
from tunespace.train.run import PreparedRun
from tunespace.train.step import train_step


def test_a_step_replays_exactly_and_another_step_draws_other_views(train_corpus, tmp_path):
    cfg = resolve_config(None, tiny_overrides(steps=2), **{"data.path": str(train_corpus), "augment.policy": "ts+ps"})
    run = PreparedRun.open(tmp_path / "run", cfg, resume=False)
    batch = next(iter(run.loader))
    start = copy.deepcopy((run.model.state_dict(), run.optimizer.state_dict()))

    def step(s: int):
        run.model.load_state_dict(start[0])
        run.optimizer.load_state_dict(start[1])
        run.set_lr(s)
        out = train_step(
            batch,
            step=s,
            seed=cfg["seed"],
            rank=0,
            device=run.dist.device,
            transform=run.transform,
            model=run.ddp_model,
            loss_fn=run.loss_fn,
            optimizer=run.optimizer,
            scaler=None,
            amp="off",
        )
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

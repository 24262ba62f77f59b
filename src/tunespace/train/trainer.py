"""The contrastive trainer (plain PyTorch, optionally DistributedDataParallel); written by hand.

One step: a batch of positive pairs of distinct tracks -> the augmentation policy's CPU stage
(in data-loader workers) -> the device stage (STFT, spectral augmentation, log-mel,
standardisation) -> encoder -> projector -> NT-Xent over the global batch -> AdamW.

The parts: :mod:`.run` (:func:`prepare` checks the inputs; :class:`~.run.PreparedRun` holds the
model, optimiser, loader and resumed state and writes checkpoints), :mod:`.step` (one training
step, :func:`~.step.train_step`), :mod:`.runlog` (:class:`~.runlog.RunLog`: metrics, TensorBoard,
views, skipped files, progress bar). :func:`train` here is the loop that ties them.

Reproducibility: the model is initialised from ``seed``; the pairs of step ``s`` come from a
permutation seeded by ``(seed, epoch)`` and per-track generators seeded by
``(seed, epoch, track)``; the device-stage generator and the global torch RNG (dropout,
stochastic depth) are reseeded from ``(seed, step)`` at every step; the learning rate is a pure
function of the step. A run killed after checkpoint ``s`` and resumed from it therefore
replays exactly the steps an uninterrupted run takes, and on CPU ends with the same weights.

Run folder::

    RUN/config.json        the fully resolved config
    RUN/run.json           version, world size, track counts, batch size, digest of the track ids
    RUN/metrics.jsonl      one JSON object per logged step
    RUN/tb/                TensorBoard scalars (loss, lr, pairs_per_s, alignment, uniformity, skipped)
    RUN/checkpoints/       step_NNNNNNN.pt (atomic), latest.txt
    RUN/skipped.csv        tracks left out: file, reason, count (failed reads during training;
                           0 for a track left out before training: unreadable or too short)
    RUN/views.jsonl        optional: each view's augmentation parameters

One process writes a run folder at a time (:class:`tunespace.lock.FolderLock`, held by rank 0
under torchrun): a second ``tunespace train`` on the same ``--out`` is refused with a one-line
error naming the first. On resumption from checkpoint ``s`` (and on a fresh start in a folder
that a killed run left without checkpoints), ``metrics.jsonl`` and ``views.jsonl`` are cut
back to the steps up to ``s`` and TensorBoard events after ``s`` are purged, so the replayed
steps are logged once. A checkpoint records its step's loss, so resuming a run that is
already finished reports that loss.

Stopping early: ``train(..., should_stop=f)`` calls ``f(step)`` after every completed step; when
it returns True the run is checkpointed at that step and :func:`train` returns with
``stopped=True``. ``train(..., resume=True)`` later continues it to the same weights.
"""

from __future__ import annotations

import gc
import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from ..lock import FolderLock
from ..models import ContrastiveModel, build_model
from ..models.checkpoint import latest_checkpoint
from . import distributed
from .config import resolve_config
from .run import PreparedRun, prepare
from .runlog import RunLog
from .step import StepOutput, train_step

#: The trained model (kept under its former name for existing imports).
ContrastiveNet = ContrastiveModel


@dataclass
class TrainResult:
    """What :func:`train` did.

    Attributes:
        run: the run folder.
        steps: global steps done (counting steps spent without two readable pairs).
        final_loss: the loss of the last step trained (nan if none was).
        checkpoint: the newest checkpoint.
        skipped: the tracks left out, path -> reason.
        stopped: True when ``should_stop`` ended the run before ``train.steps``.
    """

    run: Path
    steps: int
    final_loss: float
    checkpoint: Path
    skipped: dict[str, str]
    stopped: bool = False


def train(
    out: str | Path,
    config: dict[str, Any] | None = None,
    *,
    resume: bool = False,
    should_stop: Callable[[int], bool] | None = None,
) -> TrainResult:
    """Train a contrastive model; the run folder ``out`` receives config, logs and checkpoints.

    Args:
        out: run folder.
        config: a resolved config (:func:`resolve_config`); with ``resume`` it may be None,
            in which case ``out/config.json`` is used.
        resume: continue from the newest checkpoint in ``out``.
        should_stop: called with the global step number (1-based: steps done) after each
            completed step and any checkpoint due at it, for example to stop before a cluster's
            time limit. When it returns True before the last step, the run is checkpointed at that
            step (its metrics logged) and ``train`` returns normally with ``stopped=True``; resume
            it with ``resume=True``. After the last step its answer changes nothing. The
            learning-rate schedule still follows ``train.steps``. Under torchrun the main
            process's answer is used by every process.
    Raises:
        UsageError, ConfigError: bad input, found before anything is trained.
    """
    out = Path(out)
    main_process = int(os.environ.get("RANK", "0")) == 0
    lock = FolderLock(out, "tunespace train") if main_process else None
    if lock is not None:
        lock.acquire()
    run: PreparedRun | None = None
    threads = torch.get_num_threads()  # train.threads holds for this run only
    try:
        run = PreparedRun.open(out, config, resume=resume)
        return _loop(run, resume=resume, should_stop=should_stop)
    finally:
        # However the run ends (an error, Ctrl-C, SIGTERM): drop DistributedDataParallel (its
        # reducer holds the process group and gloo's pending work) before the process group, so
        # that nothing of it is left for interpreter shutdown, where gloo's threads releasing
        # tensors can abort the process (SIGABRT, seen once in a 2-process test).
        if run is not None and run.dist.enabled:
            run.ddp_model, run = run.model, None
            gc.collect()
        distributed.teardown()
        torch.set_num_threads(threads)
        if lock is not None:
            lock.release()


def _loop(run: PreparedRun, *, resume: bool, should_stop: Callable[[int], bool] | None) -> TrainResult:
    """Train ``run`` from its start step to ``train.steps`` (or until ``should_stop``)."""
    tcfg, dist, total = run.cfg["train"], run.dist, run.total_steps
    log = RunLog(
        run.out,
        start_step=run.start_step,
        total_steps=total,
        main=dist.is_main,
        resume=resume,
        skipped_before=run.prep["skipped"],
        log_views=bool(tcfg.get("log_views")),
        progress=tcfg.get("progress", True),
    )
    step, last_loss, stopped = run.start_step, run.start_loss, False
    checkpointed = run.start_step

    def save(step: int) -> None:
        nonlocal checkpointed
        run.checkpoint(step, last_loss)
        log.write_skipped()
        checkpointed = step
        if dist.enabled:
            torch.distributed.barrier()

    run.model.train()
    try:
        for batch in run.loader:
            log.failed_reads(batch["errors"])
            lr = run.set_lr(step)  # also for an unused step: the checkpoint's optimiser state records it
            out: StepOutput | None = None
            if batch["index"] is not None and batch["index"].shape[0] >= 2:
                out = train_step(
                    batch,
                    step=step,
                    seed=run.cfg["seed"],
                    rank=dist.rank,
                    device=dist.device,
                    transform=run.transform,
                    model=run.ddp_model,
                    loss_fn=run.loss_fn,
                    optimizer=run.optimizer,
                    scaler=run.scaler,
                    amp=tcfg["amp"],
                )
                last_loss = out.loss
                log.pairs_done(out.n * dist.world_size)
                log.views(step, batch["index"].tolist(), batch["params"], out.device_params)
            # else: too few readable pairs for a contrastive step; the step is spent unused
            step += 1
            if out is not None and (step % tcfg["log_every"] == 0 or step == total):
                log.metrics(step, last_loss, lr, out.geometry)
            log.advance()
            if run.checkpoint_due(step):
                save(step)
            if should_stop is not None and distributed.agree(bool(should_stop(step)), dist) and step < total:
                if out is not None and log.last_logged != step:
                    log.metrics(step, last_loss, lr, out.geometry)
                if checkpointed != step:
                    save(step)
                stopped = True
                break
    finally:
        log.close()
    log.write_skipped()
    ckpt = latest_checkpoint(run.out)
    return TrainResult(run.out, step, last_loss, ckpt, log.reasons(), stopped)


__all__ = ["ContrastiveNet", "TrainResult", "build_model", "prepare", "resolve_config", "train"]

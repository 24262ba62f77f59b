"""A training run made ready to train (written by hand).

:func:`prepare` does everything that can fail on bad input (the dataset, its unusable tracks,
the transform, the caches, the batch size) before anything is written. :meth:`PreparedRun.open`
then writes ``config.json`` and ``run.json``, builds the model (initialised from ``seed``), the
optimiser and the loss, loads the newest checkpoint when resuming, and makes the data loader of
the steps still to run. :meth:`PreparedRun.checkpoint` writes a checkpoint of the run.

The order of the random draws here is part of the run's reproducibility: the global torch RNG
is seeded with ``seed`` just before the model is built, and nothing else draws from it before
the first step (which reseeds it; see :mod:`tunespace.train.step`).
"""

from __future__ import annotations

import dataclasses
import functools
import hashlib
import os
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from .. import __version__
from ..augment.pipeline import PairTransform, make_pair_transform
from ..datasets import open_dataset
from ..errors import ConfigError, UsageError
from ..features import FrontEnd
from ..features.logmel import input_bands
from ..files import read_json, write_json
from ..losses import NTXentLoss
from ..models import build_encoder, build_model
from ..models.checkpoint import first_lines, latest_checkpoint, load_checkpoint, save_checkpoint
from ..pairs import (
    AudioCache,
    DistinctTrackBatches,
    PairDataset,
    SpectrogramCache,
    collate_pairs,
    estimate_cache_bytes,
    estimate_spectrogram_bytes,
    track_durations,
)
from . import distributed
from .config import fill_later_keys, lr_at
from .runlog import logged_loss
from .step import check_amp, cpu_has_native_bf16

#: ``train`` keys that may differ between a run and its resumption.
RESUMABLE_CHANGES = ("steps", "progress", "num_workers", "threads", "device")


def prepare(cfg: dict[str, Any], world_size: int = 1) -> dict[str, Any]:
    """Everything that can fail on bad input, done before any training.

    Tracks that cannot be read (missing, empty, corrupt, not audio) or are shorter than the pair
    window are left out and returned in ``skipped`` (path -> reason), as are tracks the audio
    cache cannot decode. When fewer tracks remain than the global batch, the batch shrinks to
    fit (``batch_size`` in the result; a warning is printed).

    Returns the dataset (usable tracks only), durations (seconds), transform, caches, sample
    rate (Hz), ``skipped``, ``batch_size`` (pairs per process) and ``n_tracks_listed``. Raises
    ConfigError/UsageError: unknown encoder/policy, parameter out of range, fewer than two usable
    tracks, or a share of unusable tracks above ``data.max_unreadable_share``.
    """
    if cfg["data"]["path"] is None:
        raise UsageError("no dataset given (--data DIR)")
    ds = open_dataset(cfg["data"]["path"], kind=cfg["data"].get("kind", "auto"))
    fe = FrontEnd.from_dict(cfg["frontend"])
    transform = make_pair_transform(
        cfg["augment"]["policy"],
        cfg["augment"]["backend"],
        fe,
        cfg["pairs"]["excerpt_seconds"],
        cfg["augment"].get("overrides") or None,
    )
    build_encoder(
        cfg["model"]["encoder"], n_mels=input_bands(cfg["frontend"]), **cfg["model"].get("encoder_args", {})
    )  # validates name/args
    window_s = transform.input_seconds()
    skipped: dict[str, str] = {}
    usable, durations = [], []
    for t, d in zip(ds.tracks, track_durations(ds.tracks, errors=skipped)):
        if d is None:
            continue
        if d + 1e-6 < window_s:
            skipped[str(t.path)] = f"too short: {d:.2f} s, shorter than the pair window of {window_s:.2f} s"
            continue
        usable.append(t)
        durations.append(d)
    sr = transform.frontend.config.sample_rate
    budget = cfg["data"]["cache_max_gb"] * 2**30
    mode = cfg["data"].get("cache_audio", "auto")
    audio_fits = mode is True or (mode == "auto" and estimate_cache_bytes(durations, sr) < budget)
    spec_mode = cfg["data"].get("cache_spectrograms", "auto")
    spec_dtype = getattr(torch, cfg["data"].get("cache_dtype", "float32"))
    spec_bytes = estimate_spectrogram_bytes(durations, sr, fe.hop_length, fe.n_freqs, spec_dtype.itemsize)
    spec_fits = spec_mode is True or (spec_mode == "auto" and spec_bytes < budget)
    cache, spectrograms = None, None
    usable_ds = dataclasses.replace(ds, tracks=usable)
    if audio_fits and cfg["augment"]["backend"] == "spectral" and spec_fits:
        spectrograms = _spectrogram_cache(usable_ds, sr, transform, fe, spec_dtype)  # the audio is then not kept
    elif audio_fits:
        cache = AudioCache(usable, sr)
    for c in (cache, spectrograms):
        if c is not None and c.errors:  # decodable header, undecodable samples: leave them out too
            skipped.update(c.errors)
            keep = [i for i, t in enumerate(usable) if str(t.path) not in c.errors]
            usable, durations = [usable[i] for i in keep], [durations[i] for i in keep]
    where = cfg["data"]["path"]
    n_all, n_ok = len(ds), len(usable)
    first = "; first: {}: {}".format(*next(iter(skipped.items()))) if skipped else ""
    if n_ok < 2:
        raise ConfigError(f"{where}: only {n_ok} of {n_all} tracks can be used for training, need at least 2{first}")
    share = cfg["data"].get("max_unreadable_share", 0.5)
    if (n_all - n_ok) / n_all > share:
        raise ConfigError(
            f"{where}: {n_all - n_ok} of {n_all} tracks cannot be used, more than "
            f"data.max_unreadable_share={share:g}{first}"
        )
    batch, per_track = cfg["train"]["batch_size"], cfg["pairs"]["per_track"]
    if n_ok * per_track < batch * world_size:  # a batch holds batch / per_track distinct tracks
        batch = (n_ok // world_size) * per_track
        if batch < 1:
            raise ConfigError(f"{where}: {n_ok} usable tracks cannot give each of {world_size} processes a pair")
        print(
            f"tunespace train: warning: {n_ok} usable tracks, fewer than the "
            f"{cfg['train']['batch_size'] * world_size // per_track} a batch of "
            f"{cfg['train']['batch_size'] * world_size} pairs needs; using batches of {batch * world_size}",
            file=sys.stderr,
        )
    return {
        "dataset": dataclasses.replace(ds, tracks=usable),
        "durations": durations,
        "transform": transform,
        "cache": cache,
        "sample_rate": sr,
        "spectrograms": spectrograms,
        "skipped": skipped,
        "batch_size": batch,
        "n_tracks_listed": n_all,
    }


_SPEC_MEMO: dict[tuple, SpectrogramCache] = {}


def _spectrogram_cache(
    ds: Any, sample_rate: int, transform: Any, fe: FrontEnd, dtype: torch.dtype = torch.float32
) -> SpectrogramCache:
    """The spectrogram cache of a dataset, reused by later runs in the same process (a study
    trains many models on one corpus): on a hit the audio is not decoded again. Keyed by the
    files (path, size, mtime) and the front end; only the most recent one is kept."""
    key = (tuple((str(t.path), *_stat(t.path)) for t in ds.tracks), fe, dtype)
    if key not in _SPEC_MEMO:
        _SPEC_MEMO.clear()
        _SPEC_MEMO[key] = SpectrogramCache(
            AudioCache(ds.tracks, sample_rate),
            transform.frontend.power,
            fe.hop_length,
            frames=transform.frontend.frames,
            dtype=dtype,
        )
    return _SPEC_MEMO[key]


def _stat(path: Path) -> tuple[int, int]:
    try:
        st = Path(path).stat()
    except OSError:
        return (-1, -1)
    return (st.st_size, st.st_mtime_ns)


@dataclass
class PreparedRun:
    """A run ready for its first (or next) step.

    Attributes:
        out: run folder.
        cfg: the resolved config (a nested dict).
        dist: this process's place in a distributed run and its device.
        prep: what :func:`prepare` returned.
        model: the model itself (what checkpoints hold).
        ddp_model: ``model``, wrapped in DistributedDataParallel under torchrun.
        optimizer: AdamW over the model's parameters.
        scaler: a GradScaler for fp16 on CUDA, else None.
        loss_fn: NT-Xent at ``loss.temperature``.
        loader: yields the collated batches of steps ``start_step .. total_steps - 1``.
        start_step: steps already done (0, or the resumed checkpoint's step).
        start_loss: the loss of step ``start_step`` (nan on a fresh start).
    """

    out: Path
    cfg: dict[str, Any]
    dist: distributed.DistInfo
    prep: dict[str, Any]
    model: nn.Module
    ddp_model: nn.Module
    optimizer: torch.optim.Optimizer
    scaler: torch.amp.GradScaler | None
    loss_fn: NTXentLoss
    loader: torch.utils.data.DataLoader
    start_step: int
    start_loss: float

    @property
    def transform(self) -> PairTransform:
        """The pair transform with its front end on the training device (the device stage's)."""
        return self.prep["device_transform"]

    @property
    def total_steps(self) -> int:
        return int(self.cfg["train"]["steps"])

    @classmethod
    def open(cls, out: Path, config: dict[str, Any] | None, *, resume: bool) -> PreparedRun:
        """Check the inputs, write ``config.json`` and ``run.json`` (main process), build the
        model and optimiser, restore the newest checkpoint when resuming, make the loader.

        Raises:
            UsageError: no config; checkpoints in ``out`` without ``resume``; with ``resume``, no
                ``config.json`` or one that differs from ``config`` (beyond the keys in
                :data:`RESUMABLE_CHANGES`), or a checkpoint that does not fit the model.
            ConfigError: see :func:`prepare`.
        """
        cfg = resume_config(out, config) if resume else config
        if cfg is None:
            raise UsageError("no config given")
        if not resume and latest_checkpoint(out) is not None:
            raise UsageError(f"{out}: this run folder already holds checkpoints; use --resume or another --out")
        dist = distributed.setup(cfg["train"]["device"])
        tcfg = cfg["train"]
        check_amp(dist.device, tcfg["amp"])
        if dist.is_main and dist.device.type == "cpu" and tcfg["amp"] == "bf16" and not cpu_has_native_bf16():
            print(
                "tunespace train: warning: train.amp bf16 on a CPU without bfloat16 instructions: torch emulates "
                "it, which is slower than train.amp off",
                file=sys.stderr,
            )
        if tcfg.get("threads"):
            torch.set_num_threads(int(tcfg["threads"]))
        prep = prepare(cfg, dist.world_size)
        prep["device_transform"] = prep["transform"].to(dist.device)
        ds = prep["dataset"]
        if dist.is_main:
            out.mkdir(parents=True, exist_ok=True)
            write_json(out / "config.json", cfg)
            write_json(
                out / "run.json",
                {
                    "tunespace_version": __version__,
                    "world_size": dist.world_size,
                    "n_tracks": len(ds),
                    "n_tracks_listed": prep["n_tracks_listed"],
                    "n_skipped_before_training": len(prep["skipped"]),
                    "batch_size": prep["batch_size"],
                    "track_ids_sha": _ids_digest(ds.ids),
                },
            )

        torch.manual_seed(cfg["seed"])
        model = build_model(cfg).to(dist.device)
        opt = torch.optim.AdamW(model.parameters(), lr=tcfg["lr"], weight_decay=tcfg["weight_decay"])
        start_step, start_loss = _restore(out, model, opt, dist.device) if resume else (0, float("nan"))
        ddp_model: nn.Module = model
        if dist.enabled:
            ddp_model = nn.parallel.DistributedDataParallel(
                model, device_ids=[dist.device.index] if dist.device.type == "cuda" else None
            )
        scaler = torch.amp.GradScaler("cuda") if (tcfg["amp"] == "fp16" and dist.device.type == "cuda") else None
        return cls(
            out=out,
            cfg=cfg,
            dist=dist,
            prep=prep,
            model=model,
            ddp_model=ddp_model,
            optimizer=opt,
            scaler=scaler,
            loss_fn=NTXentLoss(cfg["loss"]["temperature"], by_track=cfg["pairs"]["per_track"] > 1),
            loader=_loader(cfg, prep, dist, start_step),
            start_step=start_step,
            start_loss=start_loss,
        )

    def set_lr(self, step: int) -> float:
        """Set and return the learning rate of 0-based ``step`` (:func:`~tunespace.train.config.lr_at`)."""
        t = self.cfg["train"]
        lr = lr_at(step, t["lr"], t["warmup_steps"], self.total_steps)
        for g in self.optimizer.param_groups:
            g["lr"] = lr
        return lr

    def checkpoint_due(self, step: int) -> bool:
        """Whether completed ``step`` (1-based) is checkpointed: every ``checkpoint_every`` and the last."""
        return step % self.cfg["train"]["checkpoint_every"] == 0 or step == self.total_steps

    def checkpoint(self, step: int, loss: float) -> Path | None:
        """Write the checkpoint of completed ``step`` with its ``loss`` (main process; returns its
        path, None elsewhere); older ones beyond ``train.keep_checkpoints`` are removed."""
        if not self.dist.is_main:
            return None
        state = {
            "step": step,
            "model": self.model.state_dict(),
            "optimizer": self.optimizer.state_dict(),
            "config": self.cfg,
            "version": __version__,
            "loss": float(loss),
        }
        return save_checkpoint(self.out, step, state, keep=self.cfg["train"]["keep_checkpoints"])


def _restore(out: Path, model: nn.Module, opt: torch.optim.Optimizer, device: torch.device) -> tuple[int, float]:
    """Load the newest checkpoint of ``out`` into ``model`` and ``opt``; its step and loss
    (``(0, nan)`` when there is none)."""
    ckpt_path = latest_checkpoint(out)
    if ckpt_path is None:
        return 0, float("nan")
    state = load_checkpoint(ckpt_path, map_location=device, training=True)
    try:
        model.load_state_dict(state["model"])
        opt.load_state_dict(state["optimizer"])
    except (RuntimeError, ValueError, KeyError) as e:
        raise UsageError(
            f"{ckpt_path}: does not fit the model and optimiser of this run's config ({first_lines(e)})"
        ) from None
    step = int(state["step"])
    loss = float(state.get("loss", float("nan")))
    if not np.isfinite(loss):
        loss = logged_loss(out, step)
    return step, loss


def _loader(
    cfg: dict[str, Any], prep: dict[str, Any], dist: distributed.DistInfo, start_step: int
) -> torch.utils.data.DataLoader:
    """The loader of this process's batches of steps ``start_step .. train.steps - 1``."""
    tcfg, transform, ds = cfg["train"], prep["transform"], prep["dataset"]
    sampler = DistinctTrackBatches(
        len(ds),
        prep["batch_size"],
        cfg["seed"],
        tcfg["steps"],
        start_step,
        dist.rank,
        dist.world_size,
        cfg["pairs"]["per_track"],
    )
    pair_ds = PairDataset(
        ds.tracks,
        prep["durations"],
        prep["sample_rate"],
        transform.input_seconds(),
        cfg["pairs"]["max_centre_distance_s"],
        transform.cpu_stage,
        cfg["seed"],
        prep["cache"],
        prep["spectrograms"],
        transform.input_frames(),
        cfg["pairs"]["min_rms_db"],
    )
    workers = tcfg["num_workers"]
    if workers == "auto":
        workers = 0 if cfg["augment"]["backend"] == "spectral" else min(4, os.cpu_count() or 1)
    return torch.utils.data.DataLoader(
        pair_ds,
        batch_sampler=sampler,
        num_workers=workers,
        # without workers, each batch is consumed before the next is drawn: its buffers are reused
        collate_fn=functools.partial(collate_pairs, buffers={} if workers == 0 else None),
        persistent_workers=False,
        pin_memory=dist.device.type == "cuda",
        # fork where the platform has it safely (Linux): the workers share the caches (GBs) copy-on-write;
        # forkserver, Python 3.14's default there, would pickle them into every worker
        multiprocessing_context="fork" if workers and sys.platform.startswith("linux") else None,
    )


def resume_config(out: Path, config: dict[str, Any] | None) -> dict[str, Any]:
    """The config to resume ``out`` with: its ``config.json``, or ``config`` when that agrees
    with it except for the ``train`` keys in :data:`RESUMABLE_CHANGES`.

    Raises:
        UsageError: no ``config.json``, or ``config`` differs from it elsewhere.
    """
    stored_path = out / "config.json"
    if not stored_path.is_file():
        raise UsageError(f"{out}: nothing to resume (no config.json)")
    stored = fill_later_keys(read_json(stored_path))  # a run made before a key existed resumes as it was trained
    if config is not None:
        a = {k: v for k, v in config.items() if k != "train"}
        b = {k: v for k, v in stored.items() if k != "train"}
        ta = {k: v for k, v in config["train"].items() if k not in RESUMABLE_CHANGES}
        tb = {k: v for k, v in stored["train"].items() if k not in RESUMABLE_CHANGES}
        if a != b or ta != tb:
            raise UsageError(
                f"{out}: the given settings differ from the run's config.json; resume with the same settings"
            )
        stored = config
    return stored


def _ids_digest(ids: list[str]) -> str:
    """The first 16 hex digits of the SHA-256 of the track ids, one per line."""
    return hashlib.sha256("\n".join(ids).encode()).hexdigest()[:16]

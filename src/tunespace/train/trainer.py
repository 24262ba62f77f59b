"""The contrastive trainer (plain PyTorch, optionally DistributedDataParallel).

One step: a batch of positive pairs of distinct tracks -> the augmentation policy's CPU stage
(in data-loader workers) -> the device stage (STFT, spectral augmentation, log-mel,
standardisation) -> encoder -> projector -> NT-Xent over the global batch -> AdamW.

Reproducibility: the model is initialised from ``seed``; the pairs of step ``s`` come from a
permutation seeded by ``(seed, epoch)`` and per-track generators seeded by
``(seed, epoch, track)``; the device-stage generator and the global torch RNG (dropout,
stochastic depth) are reseeded from ``(seed, step)`` at every step; the learning rate is a pure
function of the step. A run killed after checkpoint ``s`` and resumed from it therefore
replays exactly the steps an uninterrupted run takes, and on CPU ends with the same weights.

Run folder::

    RUN/config.json        the fully resolved config
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
"""

from __future__ import annotations

import contextlib
import csv
import io
import json
import os
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from .. import __version__
from ..augment.pipeline import make_pair_transform, params_to_json
from ..datasets import open_dataset
from ..errors import ConfigError, UsageError
from ..features import FrontEnd
from ..files import read_json, write_json, write_text
from ..lock import FolderLock
from ..losses import NTXentLoss, alignment, uniformity
from ..models import ContrastiveModel, build_encoder, build_model
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
from ..progress import progress_bar
from . import distributed
from .checkpoint import first_lines, latest_checkpoint, load_checkpoint, save_checkpoint
from .config import lr_at, resolve_config

#: The trained model (kept under its former name for existing imports).
ContrastiveNet = ContrastiveModel


def step_seed(seed: int, step: int, salt: int = 0) -> int:
    """A 63-bit seed for ``step`` (stable across runs and resumption)."""
    return int(
        np.random.SeedSequence([int(seed), int(step), int(salt)]).generate_state(2, np.uint64)[0] >> np.uint64(1)
    )


@dataclass
class TrainResult:
    """What :func:`train` did: run folder, steps reached, last loss, newest checkpoint and the
    tracks left out (path -> reason)."""

    run: Path
    steps: int
    final_loss: float
    checkpoint: Path
    skipped: dict[str, str]


def _autocast(device: torch.device, amp: str) -> contextlib.AbstractContextManager:
    if device.type != "cuda" or amp == "off":
        return contextlib.nullcontext()
    if amp == "fp16":
        return torch.autocast("cuda", dtype=torch.float16)
    return torch.autocast("cuda", dtype=torch.bfloat16)


def prepare(cfg: dict[str, Any], world_size: int = 1) -> dict[str, Any]:
    """Everything that can fail on bad input, done before any training.

    Tracks that cannot be read (missing, empty, corrupt, not audio) or are shorter than the pair
    window are left out and returned in ``skipped`` (path -> reason), as are tracks the audio
    cache cannot decode. When fewer tracks remain than the global batch, the batch shrinks to
    fit (``batch_size`` in the result; a warning is printed).

    Returns the dataset (usable tracks only), durations, transform, caches, ``skipped`` and
    ``batch_size`` (pairs per process). Raises ConfigError/UsageError: unknown encoder/policy,
    parameter out of range, fewer than two usable tracks, or a share of unusable tracks above
    ``data.max_unreadable_share``.
    """
    import dataclasses
    import sys

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
        cfg["model"]["encoder"], n_mels=int(cfg["frontend"].get("n_mels", 96)), **cfg["model"].get("encoder_args", {})
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
    spec_fits = spec_mode is True or (
        spec_mode == "auto" and estimate_spectrogram_bytes(durations, sr, fe.hop_length, fe.n_freqs) < budget
    )
    cache, spectrograms = None, None
    usable_ds = dataclasses.replace(ds, tracks=usable)
    if audio_fits and cfg["augment"]["backend"] == "spectral" and spec_fits:
        spectrograms = _spectrogram_cache(usable_ds, sr, transform, fe)  # the audio itself is then not kept
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
    batch = cfg["train"]["batch_size"]
    if n_ok < batch * world_size:
        batch = n_ok // world_size
        if batch < 1:
            raise ConfigError(f"{where}: {n_ok} usable tracks cannot give each of {world_size} processes a pair")
        print(
            f"tunespace train: warning: {n_ok} usable tracks, fewer than the batch of "
            f"{cfg['train']['batch_size'] * world_size} pairs; using batches of {batch * world_size}",
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


def _spectrogram_cache(ds: Any, sample_rate: int, transform: Any, fe: FrontEnd) -> SpectrogramCache:
    """The spectrogram cache of a dataset, reused by later runs in the same process (a study
    trains many models on one corpus): on a hit the audio is not decoded again. Keyed by the
    files (path, size, mtime) and the front end; only the most recent one is kept."""
    key = (tuple((str(t.path), *_stat(t.path)) for t in ds.tracks), fe)
    if key not in _SPEC_MEMO:
        _SPEC_MEMO.clear()
        _SPEC_MEMO[key] = SpectrogramCache(AudioCache(ds.tracks, sample_rate), transform.frontend.power, fe.hop_length)
    return _SPEC_MEMO[key]


def _stat(path: Path) -> tuple[int, int]:
    try:
        st = Path(path).stat()
    except OSError:
        return (-1, -1)
    return (st.st_size, st.st_mtime_ns)


def train(
    out: str | Path,
    config: dict[str, Any] | None = None,
    *,
    resume: bool = False,
    stop_after: int | None = None,
) -> TrainResult:
    """Train a contrastive model; the run folder ``out`` receives config, logs and checkpoints.

    Args:
        out: run folder.
        config: a resolved config (:func:`resolve_config`); with ``resume`` it may be None,
            in which case ``out/config.json`` is used.
        resume: continue from the newest checkpoint in ``out``.
        stop_after: stop (after checkpointing) once this global step is reached; used to test
            interruption. The schedule still follows ``train.steps``.
    """
    out = Path(out)
    main_process = int(os.environ.get("RANK", "0")) == 0
    lock = FolderLock(out, "tunespace train") if main_process else None
    if lock is not None:
        lock.acquire()
    try:
        return _train(out, config, resume=resume, stop_after=stop_after)
    finally:
        if lock is not None:
            lock.release()


def _train(out: Path, config: dict[str, Any] | None, *, resume: bool, stop_after: int | None) -> TrainResult:
    cfg = _resume_config(out, config) if resume else config
    if cfg is None:
        raise UsageError("no config given")
    if not resume and latest_checkpoint(out) is not None:
        raise UsageError(f"{out}: this run folder already holds checkpoints; use --resume or another --out")
    dist_info = distributed.setup(cfg["train"]["device"])
    tcfg = cfg["train"]
    if tcfg.get("threads"):
        torch.set_num_threads(int(tcfg["threads"]))
    prep = prepare(cfg, dist_info.world_size)
    ds, transform = prep["dataset"], prep["transform"]
    if dist_info.is_main:
        out.mkdir(parents=True, exist_ok=True)
        write_json(out / "config.json", cfg)
        write_json(
            out / "run.json",
            {
                "tunespace_version": __version__,
                "world_size": dist_info.world_size,
                "n_tracks": len(ds),
                "n_tracks_listed": prep["n_tracks_listed"],
                "n_skipped_before_training": len(prep["skipped"]),
                "batch_size": prep["batch_size"],
                "track_ids_sha": _ids_digest(ds.ids),
            },
        )

    torch.manual_seed(cfg["seed"])
    model = build_model(cfg).to(dist_info.device)
    opt = torch.optim.AdamW(model.parameters(), lr=tcfg["lr"], weight_decay=tcfg["weight_decay"])
    start_step = 0
    last_loss = float("nan")
    if resume:
        ckpt_path = latest_checkpoint(out)
        if ckpt_path is not None:
            state = load_checkpoint(ckpt_path, map_location=dist_info.device, training=True)
            try:
                model.load_state_dict(state["model"])
                opt.load_state_dict(state["optimizer"])
            except (RuntimeError, ValueError, KeyError) as e:
                raise UsageError(
                    f"{ckpt_path}: does not fit the model and optimiser of this run's config ({first_lines(e)})"
                ) from None
            start_step = int(state["step"])
            last_loss = float(state.get("loss", float("nan")))
            if not np.isfinite(last_loss):
                last_loss = _logged_loss(out, start_step)
    if dist_info.is_main:
        _truncate_log(out / "metrics.jsonl", lambda r: r.get("step", 0) <= start_step)
        _truncate_log(out / "views.jsonl", lambda r: r.get("step", 0) < start_step)
    ddp_model: nn.Module = model
    if dist_info.enabled:
        ddp_model = nn.parallel.DistributedDataParallel(
            model, device_ids=[dist_info.device.index] if dist_info.device.type == "cuda" else None
        )
    loss_fn = NTXentLoss(cfg["loss"]["temperature"])
    amp = tcfg["amp"]
    scaler = torch.amp.GradScaler("cuda") if (amp == "fp16" and dist_info.device.type == "cuda") else None

    total = tcfg["steps"]
    end = min(total, stop_after) if stop_after is not None else total
    sampler = DistinctTrackBatches(
        len(ds), prep["batch_size"], cfg["seed"], end, start_step, dist_info.rank, dist_info.world_size
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
    )
    workers = tcfg["num_workers"]
    if workers == "auto":
        workers = 0 if cfg["augment"]["backend"] == "spectral" else min(4, os.cpu_count() or 1)
    loader = torch.utils.data.DataLoader(
        pair_ds,
        batch_sampler=sampler,
        num_workers=workers,
        collate_fn=collate_pairs,
        persistent_workers=False,
        pin_memory=dist_info.device.type == "cuda",
    )
    skipped: dict[str, tuple[str, int]] = _read_skipped(out) if resume else {}
    for path, reason in prep["skipped"].items():
        skipped[path] = (reason, skipped.get(path, (reason, 0))[1])
    writer = _tb_writer(out, purge_step=start_step + 1) if dist_info.is_main else None
    metrics_f = open(out / "metrics.jsonl", "a", encoding="utf-8") if dist_info.is_main else None
    views_f = (
        open(out / "views.jsonl", "a", encoding="utf-8") if (dist_info.is_main and tcfg.get("log_views")) else None
    )
    bar = progress_bar(total, start_step, "train", "step", dist_info.is_main and tcfg.get("progress", True))
    step = start_step
    t_last, pairs_since = time.perf_counter(), 0
    model.train()

    def checkpoint_if_due(step: int) -> None:
        if step % tcfg["checkpoint_every"] == 0 or step == end:
            if dist_info.is_main:
                _checkpoint(out, step, model, opt, cfg, tcfg["keep_checkpoints"], last_loss)
                _write_skipped(out, skipped)
            if dist_info.enabled:
                torch.distributed.barrier()

    try:
        for batch in loader:
            for path, reason in batch["errors"]:
                skipped[path] = (reason, skipped.get(path, (reason, 0))[1] + 1)
            lr = lr_at(step, tcfg["lr"], tcfg["warmup_steps"], total)
            for g in opt.param_groups:
                g["lr"] = lr
            n_items = batch["index"].shape[0] if batch["index"] is not None else 0
            if n_items < 2:  # too few readable pairs for a contrastive step: the step is spent unused
                step += 1
                bar.update(1)
                checkpoint_if_due(step)
                continue
            torch.manual_seed(step_seed(cfg["seed"], step, 1))
            gen = torch.Generator(device=dist_info.device)
            gen.manual_seed(step_seed(cfg["seed"], step, 2 + dist_info.rank))
            with torch.no_grad():
                if batch["wave_a"] is None:
                    pa = batch["power_a"].to(dist_info.device, non_blocking=True)
                    pb = batch["power_b"].to(dist_info.device, non_blocking=True)
                    xa, xb, dparams = transform.device_stage_power(pa, pb, gen)
                else:
                    wa = batch["wave_a"].to(dist_info.device, non_blocking=True)
                    wb = batch["wave_b"].to(dist_info.device, non_blocking=True)
                    xa, xb, dparams = transform.device_stage(wa, wb, gen)
            with _autocast(dist_info.device, amp):
                x = torch.cat([xa, xb], dim=0)
                h, z = ddp_model(x)
                n = xa.shape[0]
                loss = loss_fn(z[:n].float(), z[n:].float())
            opt.zero_grad(set_to_none=True)
            if scaler is not None:
                scaler.scale(loss).backward()
                scaler.step(opt)
                scaler.update()
            else:
                loss.backward()
                opt.step()
            last_loss = float(loss.detach())
            step += 1
            pairs_since += n * dist_info.world_size
            if views_f is not None:
                views_f.write(
                    json.dumps(
                        {
                            "step": step - 1,
                            "index": batch["index"].tolist(),
                            "cpu": params_to_json(batch["params"]),
                            "device": params_to_json(dparams),
                        }
                    )
                    + "\n"
                )
            if dist_info.is_main and (step % tcfg["log_every"] == 0 or step == end):
                now = time.perf_counter()
                with torch.no_grad():
                    ha, hb = (
                        torch.nn.functional.normalize(h[:n].float(), dim=1),
                        torch.nn.functional.normalize(h[n:].float(), dim=1),
                    )
                    rec = {
                        "step": step,
                        "loss": last_loss,
                        "lr": lr,
                        "pairs_per_s": pairs_since / max(1e-9, now - t_last),
                        "alignment": float(alignment(ha, hb)),
                        "uniformity": float(uniformity(torch.cat([ha, hb]))),
                        "skipped": len(skipped),
                    }
                t_last, pairs_since = now, 0
                metrics_f.write(json.dumps(rec) + "\n")
                metrics_f.flush()
                if writer is not None:
                    for k, v in rec.items():
                        if k != "step":
                            writer.add_scalar(f"train/{k}", v, step)
                bar.set_postfix(loss=f"{last_loss:.3f}", pairs_s=f"{rec['pairs_per_s']:.1f}")
            bar.update(1)
            checkpoint_if_due(step)
    finally:
        bar.close()
        for f in (metrics_f, views_f):
            if f is not None:
                f.close()
        if writer is not None:
            writer.close()
    if dist_info.is_main:
        _write_skipped(out, skipped)
    ckpt = latest_checkpoint(out)
    distributed.teardown()
    return TrainResult(out, step, last_loss, ckpt, {p: r for p, (r, _) in skipped.items()})


def _checkpoint(
    out: Path, step: int, model: nn.Module, opt: torch.optim.Optimizer, cfg: dict, keep: int, loss: float = float("nan")
) -> Path:
    state = {
        "step": step,
        "model": model.state_dict(),
        "optimizer": opt.state_dict(),
        "config": cfg,
        "version": __version__,
        "loss": float(loss),
    }
    return save_checkpoint(out, step, state, keep=keep)


def _resume_config(out: Path, config: dict[str, Any] | None) -> dict[str, Any]:
    stored_path = out / "config.json"
    if not stored_path.is_file():
        raise UsageError(f"{out}: nothing to resume (no config.json)")
    stored = read_json(stored_path)
    if config is not None:
        a = {k: v for k, v in config.items() if k != "train"}
        b = {k: v for k, v in stored.items() if k != "train"}
        ta = {
            k: v
            for k, v in config["train"].items()
            if k not in ("steps", "progress", "num_workers", "threads", "device")
        }
        tb = {
            k: v
            for k, v in stored["train"].items()
            if k not in ("steps", "progress", "num_workers", "threads", "device")
        }
        if a != b or ta != tb:
            raise UsageError(
                f"{out}: the given settings differ from the run's config.json; resume with the same settings"
            )
        stored = config
    return stored


def _ids_digest(ids: list[str]) -> str:
    import hashlib

    return hashlib.sha256("\n".join(ids).encode()).hexdigest()[:16]


def _read_log(path: Path) -> list[dict[str, Any]]:
    """The JSON records of a ``.jsonl`` log; a line cut short by a kill is dropped."""
    if not path.is_file():
        return []
    rows = []
    for line in path.read_text(encoding="utf-8").splitlines():
        try:
            r = json.loads(line)
        except ValueError:
            continue
        if isinstance(r, dict):
            rows.append(r)
    return rows


def _truncate_log(path: Path, keep: Any) -> None:
    """Rewrite a ``.jsonl`` log (atomically) with the records ``keep`` accepts, if any are dropped."""
    if not path.is_file():
        return
    text = path.read_text(encoding="utf-8")
    rows = _read_log(path)
    kept = [r for r in rows if keep(r)]
    new = "".join(json.dumps(r) + "\n" for r in kept)
    if new != text:
        write_text(path, new)


def _logged_loss(out: Path, step: int) -> float:
    """The loss logged at ``step`` (checkpoints written before they recorded it)."""
    for r in reversed(_read_log(out / "metrics.jsonl")):
        if r.get("step") == step and isinstance(r.get("loss"), (int, float)):
            return float(r["loss"])
    return float("nan")


def _read_skipped(out: Path) -> dict[str, tuple[str, int]]:
    p = out / "skipped.csv"
    if not p.is_file():
        return {}
    with open(p, newline="", encoding="utf-8") as f:
        rows = list(csv.DictReader(f))
    skipped = {}
    for r in rows:
        try:
            skipped[r["file"]] = (r.get("reason") or "unknown", int(r.get("count") or 0))
        except (KeyError, TypeError, ValueError):  # a hand-edited or foreign file: keep what parses
            continue
    return skipped


def _write_skipped(out: Path, skipped: dict[str, tuple[str, int]]) -> None:
    """``skipped.csv``: file, reason, count (failed reads during training; 0 = left out before)."""
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(["file", "reason", "count"])
    for k in sorted(skipped):
        w.writerow([k, skipped[k][0], skipped[k][1]])
    write_text(out / "skipped.csv", buf.getvalue())


def _tb_writer(out: Path, purge_step: int | None = None) -> Any:
    """TensorBoard writer; events at ``purge_step`` and later, left by a killed run, are purged."""
    try:
        from torch.utils.tensorboard import SummaryWriter
    except Exception:  # noqa: BLE001 - tensorboard is a declared dependency; be robust anyway
        return None
    return SummaryWriter(log_dir=str(out / "tb"), purge_step=purge_step)


__all__ = ["ContrastiveNet", "TrainResult", "build_model", "prepare", "resolve_config", "train"]

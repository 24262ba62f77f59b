"""``tunespace embed``: embed every track of a dataset with a trained (or random) encoder.

For each track, slices of ``slice_seconds`` (3 s) every ``hop_seconds`` (2 s) are cut, each is
turned into a log-mel and standardised as in the base model, and embedded; the track
embedding is the mean over slices and the slice embeddings form its timeline. A track shorter
than one slice is zero-padded to one slice; a track shorter than ``min_seconds`` (1 s) is a bad
item (``errors.csv``: "too short"). The slicing and the embedding of slices are those of
:class:`tunespace.embed.model.Model` (``tunespace.load_model``), so the Python API and this
command give the same vectors.

Scaling: decoding runs in DataLoader worker processes; every track is streamed in chunks of
``chunk_slices`` slices read with offset/duration, so memory stays constant whatever the file
lengths (a 2-hour file is never decoded whole). Each track is computed on its own (batches
never mix tracks), so its result does not depend on what else is in the run.

Resumption: every finished track is written atomically to ``EMB/.parts/`` together with a
manifest of the settings; running the same command again finishes the missing tracks and
assembles the same files an uninterrupted run writes. Unreadable files are recorded in
``EMB/errors.csv`` and never stop the batch; a non-finite embedding is never written.
"""

from __future__ import annotations

import hashlib
import math
import shutil
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from .. import __version__
from ..audio import info, load
from ..config import config_hash
from ..datasets import open_dataset
from ..datasets.base import Dataset, Track
from ..errors import AudioError, UsageError
from ..progress import progress_bar
from ..files import read_json, save_npy, write_json, write_text
from .format import EmbeddingSet, write_embeddings
from .model import Model, cut_slices, slice_starts, track_embedding

#: Shortest track (s) that is embedded; shorter ones are reported as bad items.
MIN_SECONDS = 1.0

PARTS = ".parts"


@dataclass
class EncoderBundle:
    """An encoder with the front end it expects.

    Attributes:
        encoder: module mapping ``(B, 1, n_mels, T)`` to ``(B, D)``.
        frontend: front-end settings dict (see :class:`tunespace.features.FrontEnd`).
        meta: what it is (checkpoint path, step, training config), for ``meta.json``.
    """

    encoder: nn.Module
    frontend: dict[str, Any]
    meta: dict[str, Any]


def load_encoder(model: str | Path, device: torch.device | str = "cpu") -> EncoderBundle:
    """The encoder of a run folder or checkpoint file (trained weights, eval mode)."""
    from ..models import build_model
    from ..train.checkpoint import load_checkpoint, resolve_checkpoint

    path = resolve_checkpoint(model)
    state = load_checkpoint(path)
    cfg = state["config"]
    net = build_model(cfg)
    net.load_state_dict(state["model"])
    enc = net.encoder.to(device).eval()
    meta = {"kind": "checkpoint", "checkpoint": str(Path(path).resolve()), "step": int(state["step"]),
            "encoder": cfg["model"]["encoder"], "augment": cfg["augment"], "seed": cfg["seed"], "train_config": cfg}
    return EncoderBundle(enc, dict(cfg.get("frontend", {})), meta)


def random_encoder(name: str = "small", seed: int = 0, frontend: dict[str, Any] | None = None,
                   device: torch.device | str = "cpu", **encoder_args: Any) -> EncoderBundle:
    """A randomly initialised encoder (a reference point: what structure alone gives)."""
    from ..models import build_encoder

    fe = dict(frontend or {})
    torch.manual_seed(seed)
    enc = build_encoder(name, n_mels=int(fe.get("n_mels", 96)), **encoder_args).to(device).eval()
    return EncoderBundle(enc, fe, {"kind": "random", "encoder": name, "seed": seed, "encoder_args": encoder_args})


class _SliceStream(torch.utils.data.IterableDataset):
    """Yields ``(track index, chunk number, n_chunks, slices (n, samples) float32)`` or errors."""

    def __init__(self, tracks: list[tuple[int, Track]], sr: int, slice_s: float, hop_s: float, chunk_slices: int,
                 min_s: float = MIN_SECONDS) -> None:
        self.tracks, self.sr, self.slice_s, self.hop_s, self.chunk = tracks, sr, slice_s, hop_s, chunk_slices
        self.min_s = min_s

    def __iter__(self) -> Iterator[tuple]:
        wi = torch.utils.data.get_worker_info()
        mine = self.tracks if wi is None else self.tracks[wi.id :: wi.num_workers]
        for idx, track in mine:
            try:
                duration = info(track.path).duration_s
                if duration < self.min_s:
                    raise AudioError(track.path, f"too short: {duration:.3g} s, need at least {self.min_s:g} s")
                starts = slice_starts(duration, self.slice_s, self.hop_s)
                chunks = [starts[i : i + self.chunk] for i in range(0, len(starts), self.chunk)]
                for ci, ch in enumerate(chunks):
                    off = ch[0]
                    span = min(duration - off, ch[-1] - off + self.slice_s)
                    x = load(track.path, sr=self.sr, offset_s=off, duration_s=span)
                    sl = cut_slices(x, ch, self.sr, self.slice_s, origin_s=off)
                    yield ("ok", idx, ci, len(chunks), sl, len(ch) * self.slice_s)
            except (AudioError, UsageError) as e:
                yield ("error", idx, str(track.path), getattr(e, "reason", str(e)))


def _part_name(track_id: str) -> str:
    return hashlib.sha1(track_id.encode()).hexdigest()


def _safe_name(track_id: str) -> str:
    return track_id.replace("/", "__").replace("\\", "__")


def embed_dataset(
    encoder: EncoderBundle | Model,
    data: str | Path | Dataset,
    out: str | Path,
    *,
    slice_seconds: float = 3.0,
    hop_seconds: float = 2.0,
    chunk_slices: int = 32,
    timelines: bool = False,
    min_seconds: float = MIN_SECONDS,
    workers: int = 2,
    device: torch.device | str = "cpu",
    progress: bool = True,
    stop_after: int | None = None,
) -> EmbeddingSet | None:
    """Embed every track of ``data`` into the EMB folder ``out`` (see :mod:`tunespace.embed.format`).

    Args:
        encoder: what to embed with (:func:`load_encoder`, :func:`random_encoder` or a
            :class:`~tunespace.embed.model.Model`, whose own slicing is then replaced by
            ``slice_seconds`` / ``hop_seconds``).
        data: dataset (folder, CSV, audio file or list file: see
            :func:`tunespace.datasets.open_dataset`) or a :class:`Dataset`.
        out: EMB folder.
        slice_seconds, hop_seconds: slice length and hop in seconds (3 s every 2 s).
        chunk_slices: slices decoded and embedded together (bounds memory).
        timelines: also write ``timelines/<id>.npy`` (n_slices, D).
        min_seconds: tracks shorter than this (s) are reported in ``errors.csv``, not embedded.
        workers: decoding worker processes (0 = in this process).
        device: where the front end and encoder run.
        stop_after: stop after this many newly embedded tracks (tests interruption); returns None.
    Returns:
        the written :class:`EmbeddingSet`, or None when stopped early.
    """
    bundle = encoder.bundle if isinstance(encoder, Model) else encoder
    model = Model(bundle, slice_seconds, hop_seconds, device)  # validates the slicing
    if not (math.isfinite(min_seconds) and min_seconds >= 0):
        raise UsageError(f"min_seconds must be a finite number of seconds >= 0, got {min_seconds!r}")
    ds = data if isinstance(data, Dataset) else open_dataset(data)
    out = Path(out)
    encoder = bundle
    settings = {"model": {k: v for k, v in encoder.meta.items() if k != "train_config"}, "frontend": encoder.frontend,
                "slice_seconds": slice_seconds, "hop_seconds": hop_seconds, "timelines": timelines,
                "min_seconds": min_seconds,
                "dataset": str(getattr(ds, "root", "")), "n_tracks": len(ds)}
    digest = config_hash(settings)
    parts = out / PARTS
    manifest = parts / "manifest.json"
    if manifest.is_file() and read_json(manifest).get("digest") != digest:
        raise UsageError(f"{out}: holds an unfinished run with other settings; choose another --out or delete it")
    parts.mkdir(parents=True, exist_ok=True)
    write_json(manifest, {"digest": digest, "settings": settings})

    todo = [(i, t) for i, t in enumerate(ds.tracks)
            if not (parts / f"{_part_name(t.id)}.npz").is_file() and not (parts / f"{_part_name(t.id)}.err").is_file()]
    stream = _SliceStream(todo, model.sample_rate, slice_seconds, hop_seconds, chunk_slices, min_seconds)
    loader = torch.utils.data.DataLoader(stream, batch_size=None, num_workers=min(workers, len(todo)) if todo else 0)
    pending: dict[int, list[np.ndarray]] = {}
    bar = progress_bar(len(ds), len(ds) - len(todo), "embed", "track", progress)
    t0, done_new, audio_s = time.perf_counter(), 0, 0.0
    with torch.inference_mode():
        for item in loader:
            if item[0] == "error":
                _, idx, path, reason = item
                write_text(parts / f"{_part_name(ds.tracks[idx].id)}.err", f"{path}\t{reason}\n")
                done_new += 1
                bar.update(1)
            else:
                _, idx, ci, n_chunks, slices, secs = item
                emb = model.embed_slices(slices)
                pending.setdefault(idx, []).append(emb)
                audio_s += secs
                if ci == n_chunks - 1:
                    tl = np.concatenate(pending.pop(idx), axis=0)
                    track = ds.tracks[idx]
                    if not np.isfinite(tl).all():
                        write_text(parts / f"{_part_name(track.id)}.err", f"{track.path}\tnon-finite embedding\n")
                    else:
                        _save_part(parts / f"{_part_name(track.id)}.npz", tl)
                    done_new += 1
                    bar.update(1)
                    el = time.perf_counter() - t0
                    bar.set_postfix(tracks_s=f"{done_new / el:.2f}", audio_h_s=f"{audio_s / 3600 / el:.4f}")
            if stop_after is not None and done_new >= stop_after:
                bar.close()
                return None
    bar.close()
    return _assemble(ds, out, parts, encoder, settings, timelines)


def _save_part(path: Path, timeline: np.ndarray) -> None:
    from ..files import atomic_path

    with atomic_path(path) as tmp:
        with open(tmp, "wb") as f:
            np.savez(f, timeline=timeline)


def _assemble(ds: Dataset, out: Path, parts: Path, encoder: EncoderBundle, settings: dict, timelines: bool) -> EmbeddingSet:
    ids, rows, errors, tls = [], [], [], {}
    for t in ds.tracks:
        p = parts / f"{_part_name(t.id)}.npz"
        if p.is_file():
            with np.load(p) as z:
                tl = z["timeline"]
            ids.append(t.id)
            rows.append(track_embedding(tl))
            if timelines:
                tls[t.id] = tl
        else:
            e = parts / f"{_part_name(t.id)}.err"
            line = e.read_text().rstrip("\n").split("\t", 1) if e.is_file() else [str(t.path), "not embedded"]
            errors.append((line[0], line[1] if len(line) > 1 else "unknown"))
    dim = rows[0].shape[0] if rows else 0
    vectors = np.stack(rows) if rows else np.zeros((0, dim), np.float32)
    meta = {"tunespace_version": __version__, **settings, "dim": int(dim), "n_embedded": len(ids), "n_errors": len(errors),
            "track_embedding": "mean of slice embeddings", "slice_standardisation": "zero mean, unit variance per slice"}
    emb = EmbeddingSet(ids=ids, vectors=vectors, meta=meta, errors=errors, name=out.name)
    write_embeddings(out, emb)
    if timelines:
        for tid, tl in tls.items():
            save_npy(out / "timelines" / f"{_safe_name(tid)}.npy", tl)
    shutil.rmtree(parts, ignore_errors=True)
    return emb

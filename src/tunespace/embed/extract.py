"""``tunespace embed``: embed every track of a dataset with a trained (or random) encoder.

For each track, slices of ``slice_seconds`` (by default the excerpt length the encoder was
trained on: 3 s for MULE's setting) every ``hop_seconds`` (2 s) are cut, each is
turned into a log-mel and standardised as in the base model, and embedded; the track
embedding is the mean over its loud slices and the slice embeddings form its timeline. A track shorter
than one slice is zero-padded to one slice; a track shorter than ``min_seconds`` (1 s), or too
short to give one sample at the model's rate, is a bad item (``errors.csv``: "too short"); a
file holding 0 frames is "no samples". The slicing and the embedding of slices are those of
:class:`tunespace.embed.model.Model` (``tunespace.load_model``), so the Python API and this
command give the same vectors.

Scaling: decoding runs in DataLoader worker processes; every track is streamed in chunks of
``chunk_slices`` slices read with offset/duration, so memory stays constant whatever the file
lengths (a 2-hour file is never decoded whole). Each track is computed on its own (batches
never mix tracks), so its result does not depend on what else is in the run.

Silence: a track none of whose samples reaches ``silence_db`` (-60 dBFS, the threshold of
ffmpeg's ``silencedetect``) is not embedded but listed in ``errors.csv`` as "silent". Silent
tracks would otherwise all get one and the same embedding (each slice is standardised, so
digital silence becomes a constant input) and be each other's nearest neighbours in any
search. Silent *slices* of a loud track stay in its timeline but not in its mean (as
:class:`~tunespace.embed.model.Model` does). ``silence_db=None`` (``tunespace embed
--keep-silent``) embeds silent tracks and averages every slice.

Every listed track ends up in exactly one of ``ids.txt`` and ``errors.csv``; what the dataset
reader left out (``Dataset.problems``: a folder named ``x.wav``, a hidden file, an annotation
without audio...) is added to ``errors.csv`` as well, with the reason "left out by the reader".

Resumption: every finished track is written atomically to ``EMB/.parts/`` together with a
manifest of the settings; running the same command again finishes the missing tracks and
assembles the same files an uninterrupted run writes. Unreadable files are recorded in
``EMB/errors.csv`` and never stop the batch; a non-finite embedding is never written.
One process at a time writes an EMB folder (:class:`tunespace.lock.FolderLock`): a second
``tunespace embed`` on the same ``--out`` is refused with a one-line error naming the first.

Sharding: under ``torchrun --nproc_per_node N -m tunespace embed ...`` (or in a job of the
study's slurm launcher: any process group given by ``RANK`` / ``WORLD_SIZE``), rank r embeds
the tracks ``r, r + N, r + 2N ...`` of the dataset into the shared ``EMB/.parts/`` (so a rerun,
with any number of processes, finishes only what is missing); the ranks wait for each other
through torch.distributed (gloo, on CPU, whatever the device) and rank 0 alone, holding the
folder's lock, assembles the EMB folder: the same ids, order and values as one process writes.
An error on any rank stops every rank with that error. Each process embeds on its own GPU
(``cuda:LOCAL_RANK``) when the device is ``cuda``.
Every setting is checked (:func:`check_embed_settings`) and the model is tried on one slice
before anything is written, so a bad value never leaves a manifest behind.
"""

from __future__ import annotations

import hashlib
import math
import numbers
import os
import shutil
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, fields, replace
from datetime import timedelta
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from .. import __version__, devices
from ..audio import info, load
from ..config import config_hash
from ..datasets import open_dataset
from ..datasets.base import Dataset, Track
from ..errors import AudioError, UsageError
from ..features.logmel import input_bands
from ..files import read_json, save_npy, write_json, write_text
from ..lock import FolderLock
from ..progress import progress_bar
from .format import (
    LOUD,
    PLAIN_MEAN,
    TIMELINES,
    TRACK_MEAN,
    EmbeddingSet,
    read_embeddings,
    timeline_name,
    write_embeddings,
)
from .model import SILENCE_DB, Model, cut_slices, loud_slices, slice_starts, track_embedding

#: Shortest track (s) that is embedded; shorter ones are reported as bad items.
MIN_SECONDS = 1.0
#: Bounds of the settings (beyond them a run cannot be useful or would exhaust memory).
MAX_SLICE_SECONDS = 60.0
MIN_HOP_SECONDS = 0.01
MAX_HOP_SECONDS = 3600.0
MAX_WORKERS = 64
MAX_CHUNK_SLICES = 1024

PARTS = ".parts"
#: How long the processes of a sharded run wait for each other (the slowest shard, the merge).
SHARD_TIMEOUT = timedelta(hours=48)


class _Shards:
    """This process's share of a sharded run: ``rank`` of ``world`` (1 of 1 without torchrun)."""

    def __init__(self) -> None:
        self.world = int(os.environ.get("WORLD_SIZE", "1"))
        self.rank = int(os.environ.get("RANK", "0"))
        self.group: Any = None
        self._created = False
        if self.world > 1:
            import torch.distributed as dist

            if not dist.is_initialized():
                dist.init_process_group("gloo", timeout=SHARD_TIMEOUT)
                self._created = True
            elif dist.get_backend() != "gloo":
                self.group = dist.new_group(backend="gloo", timeout=SHARD_TIMEOUT)

    def mine(self, index: int) -> bool:
        return index % self.world == self.rank

    def agree(self, fn: Callable[[], Any]) -> list[Any]:
        """Run ``fn`` here, then wait for every rank; the values of all ranks. If ``fn`` raised
        on any rank, every rank raises (this one its own exception, the others its message)."""
        try:
            value, error = fn(), None
        except Exception as e:
            if self.world == 1:
                raise
            value, error = None, e
        if self.world == 1:
            return [value]
        import torch.distributed as dist

        got: list[Any] = [None] * self.world
        dist.all_gather_object(got, (value, None if error is None else str(error) or type(error).__name__), self.group)
        if error is not None:
            raise error
        for r, (_, msg) in enumerate(got):
            if msg is not None:
                raise UsageError(f"rank {r} of {self.world} failed: {msg}")
        return [v for v, _ in got]

    def close(self) -> None:
        if self._created:
            import torch.distributed as dist

            dist.destroy_process_group()


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
    from ..models.checkpoint import first_lines, load_checkpoint, resolve_checkpoint

    path = resolve_checkpoint(model)
    state = load_checkpoint(path)
    cfg = state["config"]
    try:
        net = build_model(cfg)
        net.load_state_dict(state["model"])
    except (RuntimeError, KeyError, TypeError, ValueError) as e:
        raise UsageError(f"{path}: its weights do not fit the model its config describes ({first_lines(e)})") from None
    enc = net.encoder.to(device).eval()
    meta = {
        "kind": "checkpoint",
        "checkpoint": str(Path(path).resolve()),
        "step": int(state["step"]),
        "encoder": cfg["model"]["encoder"],
        "augment": cfg["augment"],
        "seed": cfg.get("seed"),
        "train_config": cfg,
    }
    return EncoderBundle(enc, dict(cfg.get("frontend", {})), meta)


def random_encoder(
    name: str = "small",
    seed: int = 0,
    frontend: dict[str, Any] | None = None,
    device: torch.device | str = "cpu",
    **encoder_args: Any,
) -> EncoderBundle:
    """A randomly initialised encoder (a reference point: what structure alone gives)."""
    from ..models import build_encoder

    fe = dict(frontend or {})
    torch.manual_seed(seed)
    enc = build_encoder(name, n_mels=input_bands(fe), **encoder_args).to(device).eval()
    return EncoderBundle(enc, fe, {"kind": "random", "encoder": name, "seed": seed, "encoder_args": encoder_args})


class _SliceStream(torch.utils.data.IterableDataset):
    """Yields ``(track index, chunk number, n_chunks, slices (n, samples) float32)`` or errors."""

    def __init__(
        self,
        tracks: list[tuple[int, Track]],
        sr: int,
        slice_s: float,
        hop_s: float,
        chunk_slices: int,
        min_s: float = MIN_SECONDS,
    ) -> None:
        self.tracks, self.sr, self.slice_s, self.hop_s, self.chunk = tracks, sr, slice_s, hop_s, chunk_slices
        self.min_s = min_s

    def __iter__(self) -> Iterator[tuple]:
        wi = torch.utils.data.get_worker_info()
        mine = self.tracks if wi is None else self.tracks[wi.id :: wi.num_workers]
        for idx, track in mine:
            try:
                meta = info(track.path)
                duration = meta.duration_s
                if meta.frames <= 0:
                    raise AudioError(track.path, "no samples (the file holds 0 frames)")
                if duration < self.min_s:
                    raise AudioError(track.path, f"too short: {duration:.3g} s, need at least {self.min_s:g} s")
                if int(round(duration * self.sr)) < 1:
                    raise AudioError(
                        track.path,
                        f"too short: {meta.frames} frame(s) at {meta.sample_rate} Hz give "
                        f"no sample at the model's {self.sr} Hz",
                    )
                starts = slice_starts(duration, self.slice_s, self.hop_s)
                chunks = [starts[i : i + self.chunk] for i in range(0, len(starts), self.chunk)]
                for ci, ch in enumerate(chunks):
                    off = ch[0]
                    span = min(duration - off, ch[-1] - off + self.slice_s)
                    x = load(track.path, sr=self.sr, offset_s=off, duration_s=span)
                    peak = float(np.max(np.abs(x))) if x.size else 0.0
                    sl = cut_slices(x, ch, self.sr, self.slice_s, origin_s=off)
                    yield ("ok", idx, ci, len(chunks), sl, len(ch) * self.slice_s, peak)
            except (AudioError, UsageError) as e:
                yield ("error", idx, str(track.path), getattr(e, "reason", str(e)))
            except OSError as e:  # e.g. permission denied, I/O error: this file, not the run
                yield ("error", idx, str(track.path), f"not readable: {e.strerror or e}")


def _part_name(track_id: str) -> str:
    return hashlib.sha1(track_id.encode()).hexdigest()


def _number(x: Any) -> bool:
    return isinstance(x, numbers.Real) and not isinstance(x, bool)


def _integer(x: Any) -> bool:
    return isinstance(x, numbers.Integral) and not isinstance(x, bool)


def check_embed_settings(
    slice_seconds: Any = None,
    hop_seconds: Any = 2.0,
    min_seconds: Any = MIN_SECONDS,
    chunk_slices: Any = 32,
    workers: Any = 2,
    silence_db: Any = SILENCE_DB,
    timelines: Any = False,
) -> None:
    """Check the settings of :func:`embed_dataset` (types and ranges) without a model or data.

    Raises:
        UsageError: naming the setting, its value and what it must be.
    """

    def need(ok: bool, what: str, value: Any, rule: str) -> None:
        if not ok:
            raise UsageError(f"{what} must be {rule}, got {value!r}")

    need(
        slice_seconds is None
        or (_number(slice_seconds) and math.isfinite(slice_seconds) and 0 < slice_seconds <= MAX_SLICE_SECONDS),
        "slice_seconds",
        slice_seconds,
        f"a number of seconds in (0, {MAX_SLICE_SECONDS:g}] (or None: the model's training excerpt length)",
    )
    need(
        _number(hop_seconds) and math.isfinite(hop_seconds) and MIN_HOP_SECONDS <= hop_seconds <= MAX_HOP_SECONDS,
        "hop_seconds",
        hop_seconds,
        f"a number of seconds in [{MIN_HOP_SECONDS:g}, {MAX_HOP_SECONDS:g}]",
    )
    need(
        _number(min_seconds) and math.isfinite(min_seconds) and min_seconds >= 0,
        "min_seconds",
        min_seconds,
        "a finite number of seconds >= 0",
    )
    need(
        _integer(chunk_slices) and 1 <= chunk_slices <= MAX_CHUNK_SLICES,
        "chunk_slices",
        chunk_slices,
        f"an integer in [1, {MAX_CHUNK_SLICES}]",
    )
    need(_integer(workers) and 0 <= workers <= MAX_WORKERS, "workers", workers, f"an integer in [0, {MAX_WORKERS}]")
    need(
        silence_db is None or (_number(silence_db) and math.isfinite(silence_db) and silence_db <= 0),
        "silence_db",
        silence_db,
        "None or a finite level in dBFS <= 0",
    )
    need(isinstance(timelines, bool), "timelines", timelines, "true or false")


@dataclass(frozen=True)
class EmbedSettings:
    """The settings of one :func:`embed_dataset` run (meanings, units and defaults there), checked
    on construction by :func:`check_embed_settings`: the one list of them that the run's stages
    are given.

    Raises:
        UsageError: naming the setting, its value and what it must be.
    """

    slice_seconds: float | None = None
    hop_seconds: float = 2.0
    chunk_slices: int = 32
    timelines: bool = False
    min_seconds: float = MIN_SECONDS
    silence_db: float | None = SILENCE_DB
    workers: int = 2

    def __post_init__(self) -> None:
        check_embed_settings(**{f.name: getattr(self, f.name) for f in fields(self)})


def _try_model(model: Model, slice_seconds: float) -> None:
    """Embed one slice of silence: a slicing the model cannot take fails here, before any output."""
    try:
        out = model.embed_slices(np.zeros((1, model.slice_samples), np.float32))
    except (UsageError, RuntimeError, ValueError) as e:
        first = str(e).splitlines()[0] if str(e) else type(e).__name__
        raise UsageError(f"slice_seconds={slice_seconds:g} does not suit this model ({first})") from None
    if out.ndim != 2 or out.shape[0] != 1:
        raise UsageError(f"the encoder returned shape {tuple(out.shape)} for one slice, expected (1, D)")


def embed_dataset(
    encoder: EncoderBundle | Model,
    data: str | Path | Dataset,
    out: str | Path,
    *,
    slice_seconds: float | None = None,
    hop_seconds: float = 2.0,
    chunk_slices: int = 32,
    timelines: bool = False,
    min_seconds: float = MIN_SECONDS,
    silence_db: float | None = SILENCE_DB,
    workers: int = 2,
    device: torch.device | str = "cpu",
    progress: bool = True,
    should_stop: Callable[[int], bool] | None = None,
) -> EmbeddingSet | None:
    """Embed every track of ``data`` into the EMB folder ``out`` (see :mod:`tunespace.embed.format`).

    Args:
        encoder: what to embed with (:func:`load_encoder`, :func:`random_encoder` or a
            :class:`~tunespace.embed.model.Model`, whose own slicing is then replaced by
            ``slice_seconds`` (when given) / ``hop_seconds``).
        data: dataset (folder, CSV, audio file or list file: see
            :func:`tunespace.datasets.open_dataset`) or a :class:`Dataset`.
        out: EMB folder.
        slice_seconds, hop_seconds: slice length and hop in seconds (None: a :class:`Model`'s
            own slice length, else the excerpt length the encoder was trained on,
            :func:`~tunespace.embed.model.trained_slice_seconds`; every 2 s).
        chunk_slices: slices decoded and embedded together (bounds memory).
        timelines: also write ``timelines/<id>.npy`` (n_slices, D).
        min_seconds: tracks shorter than this (s) are reported in ``errors.csv``, not embedded.
        silence_db: tracks whose peak stays below this level (dBFS) are reported as "silent",
            not embedded, and slices below it are left out of a track's mean; None embeds
            silent tracks and averages every slice.
        workers: decoding worker processes (0 = in this process).
        device: where the front end and encoder run (``cuda``: this process's GPU when sharded).
        should_stop: called after each newly embedded (or failed) track with the number of them
            so far (in this process); True stops there, as an interruption would; returns None.
    Returns:
        the written :class:`EmbeddingSet` (on every rank of a sharded run), or None when stopped
        early (on any rank).
    Raises:
        UsageError: a setting out of range (:func:`check_embed_settings`), a slicing the model
            cannot take, ``out`` is a file, another process is writing ``out``, or ``out``
            holds an unfinished run with other settings.
        OSError: ``out`` cannot be written (read-only, full); what was finished is kept.
    """
    settings = EmbedSettings(
        slice_seconds=slice_seconds,
        hop_seconds=hop_seconds,
        chunk_slices=chunk_slices,
        timelines=timelines,
        min_seconds=min_seconds,
        silence_db=silence_db,
        workers=workers,
    )
    device = devices.resolve(device)
    bundle = encoder.bundle if isinstance(encoder, Model) else encoder
    if slice_seconds is None and isinstance(encoder, Model):
        slice_seconds = encoder.slice_seconds
    model = Model(bundle, slice_seconds, hop_seconds, device)  # validates the slicing
    settings = replace(settings, slice_seconds=model.slice_seconds)  # what the run records
    _try_model(model, model.slice_seconds)
    ds = data if isinstance(data, Dataset) else open_dataset(data)
    out = Path(out)
    shards = _Shards()
    try:
        lock = FolderLock(out, "tunespace embed") if shards.rank == 0 else None
        shards.agree(lambda: lock.acquire() if lock is not None else None)
        try:
            return _embed(model, bundle, ds, out, shards, settings, progress=progress, should_stop=should_stop)
        finally:
            if lock is not None:
                lock.release()
    finally:
        shards.close()


def _embed(
    model: Model,
    encoder: EncoderBundle,
    ds: Dataset,
    out: Path,
    shards: _Shards,
    settings: EmbedSettings,
    *,
    progress: bool,
    should_stop: Callable[[int], bool] | None,
) -> EmbeddingSet | None:
    recorded = {  # the manifest: what a resumed run must share (not chunk_slices, workers)
        "model": {k: v for k, v in encoder.meta.items() if k != "train_config"},
        "frontend": encoder.frontend,
        "slice_seconds": settings.slice_seconds,
        "hop_seconds": settings.hop_seconds,
        "timelines": settings.timelines,
        "min_seconds": settings.min_seconds,
        "silence_db": settings.silence_db,
        "track_mean": "loud slices",  # parts of older runs (every slice averaged) are not mixed in
        "dataset": str(getattr(ds, "root", "")),
        "n_tracks": len(ds),
    }
    digest = config_hash(recorded)
    parts = out / PARTS
    manifest = parts / "manifest.json"

    def start() -> str:
        if shards.rank == 0:
            stored = _read_manifest(manifest) if manifest.is_file() else None
            if stored is not None and stored.get("digest") != digest and _finished_parts(parts):
                older = {k: v for k, v in recorded.items() if k != "track_mean"}
                if isinstance(stored.get("settings"), dict) and config_hash(stored["settings"]) == config_hash(older):
                    raise UsageError(
                        f"{out}: holds an unfinished run of an older tunespace, which averaged silent slices into "
                        f"the track mean; delete {parts} to embed it again, or choose another --out"
                    )
                raise UsageError(
                    f"{out}: holds an unfinished run with other settings; choose another --out or delete it"
                )
            parts.mkdir(parents=True, exist_ok=True)
            write_json(manifest, {"digest": digest, "settings": recorded})
        return config_hash({"settings": digest, "ids": ds.ids})

    if len(set(shards.agree(start))) > 1:
        raise UsageError(f"{out}: the processes of this run see different data or settings; give them the same")
    mine = [(i, t) for i, t in enumerate(ds.tracks) if shards.mine(i)]
    todo = [
        (i, t)
        for i, t in mine
        if not (parts / f"{_part_name(t.id)}.npz").is_file() and not (parts / f"{_part_name(t.id)}.err").is_file()
    ]
    stopped = shards.agree(
        lambda: _embed_tracks(
            model,
            ds,
            todo,
            parts,
            settings,
            total=len(mine),
            progress=progress and shards.rank == 0,
            should_stop=should_stop,
        )
    )
    if any(stopped):
        return None
    # Rank 0 keeps the set it assembled; the ranks agree only on whether that worked (passing
    # the set itself would send every rank a pickled copy of the whole matrix), and the others
    # then read the folder.
    merged: list[EmbeddingSet] = []

    def assemble() -> None:
        if shards.rank == 0:
            merged.append(_assemble(ds, out, parts, encoder, recorded, settings.timelines))

    shards.agree(assemble)
    return merged[0] if shards.rank == 0 else read_embeddings(out, verify=False)


def _embed_tracks(
    model: Model,
    ds: Dataset,
    todo: list[tuple[int, Track]],
    parts: Path,
    settings: EmbedSettings,
    *,
    total: int,
    progress: bool,
    should_stop: Callable[[int], bool] | None,
) -> bool:
    """Embed ``todo`` into ``parts``; whether ``should_stop`` stopped it."""
    s = settings
    stream = _SliceStream(todo, model.sample_rate, s.slice_seconds, s.hop_seconds, s.chunk_slices, s.min_seconds)
    loader = torch.utils.data.DataLoader(stream, batch_size=None, num_workers=min(s.workers, len(todo)) if todo else 0)
    pending: dict[int, list[tuple[np.ndarray, np.ndarray]]] = {}  # track -> (embeddings, loud) of its chunks
    peaks: dict[int, float] = {}
    bar = progress_bar(total, total - len(todo), "embed", "track", progress)
    t0, done_new, audio_s = time.perf_counter(), 0, 0.0
    with torch.inference_mode():
        for item in loader:
            if item[0] == "error":
                _, idx, path, reason = item
                write_text(parts / f"{_part_name(ds.tracks[idx].id)}.err", f"{path}\t{reason}\n")
                done_new += 1
                bar.update(1)
            else:
                _, idx, ci, n_chunks, slices, secs, peak = item
                emb = model.embed_slices(slices)
                pending.setdefault(idx, []).append((emb, loud_slices(slices, s.silence_db)))
                peaks[idx] = max(peaks.get(idx, 0.0), peak)
                audio_s += secs
                if ci == n_chunks - 1:
                    chunks = pending.pop(idx)
                    tl = np.concatenate([e for e, _ in chunks], axis=0)
                    loud = np.concatenate([m for _, m in chunks])
                    track = ds.tracks[idx]
                    peak = peaks.pop(idx, 0.0)
                    peak_db = 20 * math.log10(peak) if peak > 0 else -math.inf
                    if s.silence_db is not None and peak_db < s.silence_db:
                        write_text(
                            parts / f"{_part_name(track.id)}.err",
                            f"{track.path}\tsilent: peak {peak_db:.1f} dBFS, below {s.silence_db:g} dBFS "
                            "(embed it anyway with --keep-silent)\n",
                        )
                    elif not np.isfinite(tl).all():
                        write_text(parts / f"{_part_name(track.id)}.err", f"{track.path}\tnon-finite embedding\n")
                    else:
                        _save_part(parts / f"{_part_name(track.id)}.npz", tl, loud)
                    done_new += 1
                    bar.update(1)
                    el = time.perf_counter() - t0
                    bar.set_postfix(tracks_s=f"{done_new / el:.2f}", audio_h_s=f"{audio_s / 3600 / el:.4f}")
                else:
                    continue  # more chunks of this track to come: no track finished
            if should_stop is not None and should_stop(done_new):  # once per finished track
                bar.close()
                return True
    bar.close()
    return False


def _read_manifest(path: Path) -> dict[str, Any]:
    """A run's manifest (empty when unreadable: written by no tunespace, writes are atomic)."""
    try:
        m = read_json(path)
    except ValueError:
        return {}
    return m if isinstance(m, dict) else {}


def _finished_parts(parts: Path) -> bool:
    """Whether any track of an unfinished run is done (else its manifest can be replaced)."""
    return any(p.suffix in (".npz", ".err") for p in parts.iterdir())


def _problem_rows(ds: Dataset) -> list[tuple[str, str]]:
    """``errors.csv`` rows for what the reader left out (``Dataset.problems``)."""
    rows = []
    root = Path(getattr(ds, "root", "") or ".")
    for line in getattr(ds, "problems", []) or []:
        head, sep, tail = line.partition(": ")
        if sep and ((root / head).exists() or (root / head).is_symlink()):
            rows.append((str(root / head), f"left out by the reader: {tail}"))
        elif sep:
            rows.append((head, f"left out by the reader: {tail}"))
        else:
            rows.append((str(root), f"left out by the reader: {line}"))
    return rows


def _save_part(path: Path, timeline: np.ndarray, loud: np.ndarray) -> None:
    from ..files import atomic_path

    with atomic_path(path) as tmp:
        with open(tmp, "wb") as f:
            np.savez(f, timeline=timeline, loud=loud)


def _assemble(
    ds: Dataset, out: Path, parts: Path, encoder: EncoderBundle, settings: dict, timelines: bool
) -> EmbeddingSet:
    ids, rows, errors, tls = [], [], [], {}
    for t in ds.tracks:
        p = parts / f"{_part_name(t.id)}.npz"
        if p.is_file():
            with np.load(p) as z:
                tl, loud = z["timeline"], z["loud"]
            ids.append(t.id)
            rows.append(track_embedding(tl, loud))
            if timelines:
                tls[t.id] = (tl, loud)
        else:
            e = parts / f"{_part_name(t.id)}.err"
            line = e.read_text().rstrip("\n").split("\t", 1) if e.is_file() else [str(t.path), "not embedded"]
            errors.append((line[0], line[1] if len(line) > 1 else "unknown"))
    errors += _problem_rows(ds)
    dim = rows[0].shape[0] if rows else 0
    vectors = np.stack(rows) if rows else np.zeros((0, dim), np.float32)
    meta = {
        "tunespace_version": __version__,
        **settings,
        "dim": int(dim),
        "n_embedded": len(ids),
        "n_errors": len(errors),
        "track_embedding": PLAIN_MEAN if settings["silence_db"] is None else TRACK_MEAN,
        "slice_standardisation": "zero mean, unit variance per slice",
    }
    emb = EmbeddingSet(ids=ids, vectors=vectors, meta=meta, errors=errors, name=out.name)
    write_embeddings(out, emb)
    # Timelines: written aside, then swapped in whole, so that the folder never holds the
    # timelines of another set beside these files for longer than two renames.
    new, old = out / f".{TIMELINES}.new", out / f".{TIMELINES}.old"
    for d in (new, old):
        shutil.rmtree(d, ignore_errors=True)
    if timelines:
        for tid, (tl, loud) in tls.items():
            save_npy(new / f"{timeline_name(tid)}.npy", tl)
            save_npy(new / LOUD / f"{timeline_name(tid)}.npy", np.asarray(loud, dtype=bool))
        new.mkdir(exist_ok=True)
    if (out / TIMELINES).exists():
        (out / TIMELINES).rename(old)
    if timelines:
        new.rename(out / TIMELINES)
    shutil.rmtree(old, ignore_errors=True)
    shutil.rmtree(parts, ignore_errors=True)
    return emb

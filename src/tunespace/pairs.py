"""Positive pairs: two excerpts of one track whose centres lie within a set distance.

A *pair* is two raw audio windows of one track. Their centres are drawn uniformly such that
both windows fit inside the track and ``|centre_a - centre_b| <= max_centre_distance_s``
(MULE: 3 s excerpts within about +-5 s). Every other track in a batch is a negative, so a batch
never holds one track twice: :class:`DistinctTrackBatches` deals batches from a seeded
permutation of the tracks.

Several pairs per track (``pairs.per_track = m``): a batch then holds ``batch_size / m`` tracks,
each with ``m`` independently drawn pairs (each pair within ``max_centre_distance_s``, the pairs
anywhere in the track), and the loss counts every view of a track as a positive of the others
(multi-positive NT-Xent): ``2m - 1`` positives per view instead of one, at the same number of
views per step.

Raw windows are ``input_seconds`` long (longer than the 3 s model excerpt when time-stretch
needs room); :class:`tunespace.augment.pipeline.PairTransform` turns them into model inputs.

Silent excerpts: a pair of two silent windows (a track's silent intro or ending, a gap) is
trivially "positive" and teaches nothing, so with ``min_rms_db`` a pair with a window quieter
than that is drawn again, up to :data:`SILENCE_DRAWS` times; a track with no pair loud enough
in those draws is reported as :class:`Unreadable` for that step (and listed in the run's
``skipped.csv``). The first draw is kept whenever it is loud enough, so on audio without
silence the pairs are exactly those drawn without the check.

Randomness: every draw comes from a generator seeded by ``(seed, epoch, track index)`` (and the
copy number with ``per_track`` above 1), so the pairs of a step do not depend on worker
scheduling or on whether a run was resumed. With several pairs per track each pair is its own
item: a failing one (unreadable, too quiet) drops only that pair from the step, and
``skipped.csv`` lists the track once per failing pair.

Window source (:mod:`tunespace.caches`): for small corpora the decoded audio of every track
(:class:`~tunespace.caches.AudioCache`) or its power spectrogram
(:class:`~tunespace.caches.SpectrogramCache`) is kept in memory; for large ones only the
needed windows are read from disk (:class:`~tunespace.caches.DiskAudio`).

Dataset items are typed: :class:`WavePair` (two audio windows after the transform's CPU
stage), :class:`PowerPair` (two spectrogram windows) or :class:`Unreadable` (a track that
could not give its pair); :func:`collate_pairs` batches them.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
from torch.utils.data import Dataset as TorchDataset
from torch.utils.data import Sampler

from .audio import info
from .caches import (
    AudioCache,
    DiskAudio,
    SpectrogramCache,
    WindowSource,
    estimate_cache_bytes,
    estimate_spectrogram_bytes,
    rms_db,
)
from .datasets.base import Track
from .errors import AudioError, ConfigError

__all__ = [  # the cache names are re-exported from tunespace.caches for existing imports
    "AudioCache",
    "DistinctTrackBatches",
    "PairDataset",
    "PairWindows",
    "PowerPair",
    "SpectrogramCache",
    "Unreadable",
    "WavePair",
    "check_per_track",
    "collate_pairs",
    "estimate_cache_bytes",
    "estimate_spectrogram_bytes",
    "item_rng",
    "sample_pair_windows",
    "track_durations",
]

#: Draws of a pair's windows before a track whose windows are all too quiet is reported.
SILENCE_DRAWS = 8


@dataclass(frozen=True)
class PairWindows:
    """Where the two raw windows of a pair start.

    Attributes:
        start_a_s, start_b_s: window start times in seconds.
        length_s: window length in seconds (the same for both).
    """

    start_a_s: float
    start_b_s: float
    length_s: float


def sample_pair_windows(
    duration_s: float,
    length_s: float,
    max_centre_distance_s: float,
    rng: np.random.Generator,
) -> PairWindows:
    """Draw two windows of ``length_s`` seconds inside a track of ``duration_s`` seconds.

    The first centre is uniform over all valid centres; the second is uniform over the valid
    centres within ``max_centre_distance_s`` of the first.

    Raises:
        ConfigError: the track is shorter than one window.
    """
    if duration_s + 1e-9 < length_s:
        raise ConfigError(f"track of {duration_s:.2f} s is shorter than the pair window of {length_s:.2f} s")
    lo, hi = length_s / 2.0, max(length_s / 2.0, duration_s - length_s / 2.0)
    c_a = rng.uniform(lo, hi) if hi > lo else lo
    lo_b, hi_b = max(lo, c_a - max_centre_distance_s), min(hi, c_a + max_centre_distance_s)
    c_b = rng.uniform(lo_b, hi_b) if hi_b > lo_b else lo_b
    return PairWindows(c_a - length_s / 2.0, c_b - length_s / 2.0, length_s)


def item_rng(seed: int, epoch: int, index: int, copy: int = 0) -> np.random.Generator:
    """The generator of one (epoch, track, copy) draw: independent of workers and resumption.

    ``copy`` numbers the pairs drawn from one track in one batch (``pairs.per_track``); copy 0
    draws exactly what a run with one pair per track draws.
    """
    entropy = [int(seed), int(epoch), int(index)] + ([int(copy)] if copy else [])
    return np.random.default_rng(np.random.SeedSequence(entropy))


def track_durations(tracks: Sequence[Track], errors: dict[str, str] | None = None) -> list[float | None]:
    """Duration of each track in seconds, from the dataset or from the file header.

    Args:
        tracks: the tracks.
        errors: if given, a track whose header cannot be read gets ``None`` and its path ->
            reason is recorded here; otherwise the :class:`AudioError` propagates.
    """
    out: list[float | None] = []
    for t in tracks:
        if t.duration_s is not None:
            out.append(float(t.duration_s))
            continue
        try:
            out.append(info(t.path).duration_s)
        except AudioError as e:
            if errors is None:
                raise
            errors[str(t.path)] = e.reason
            out.append(None)
    return out


@dataclass(frozen=True)
class WavePair:
    """A pair of audio windows after the transform's CPU stage.

    Attributes:
        wave_a, wave_b: float32 ``(samples,)`` arrays.
        index: the track's index in the dataset.
        params: the CPU stage's augmentation parameters (``{}`` for the spectral backend).
    """

    wave_a: np.ndarray
    wave_b: np.ndarray
    index: int
    params: dict


@dataclass(frozen=True)
class PowerPair:
    """A pair of power-spectrogram windows ``(F, frames)`` from a :class:`~tunespace.caches.SpectrogramCache`."""

    power_a: torch.Tensor
    power_b: torch.Tensor
    index: int


@dataclass(frozen=True)
class Unreadable:
    """A track that could not give a pair: its path and why."""

    path: str
    reason: str


PairItem = WavePair | PowerPair | Unreadable


class PairDataset(TorchDataset):
    """Map-style dataset of positive pairs: item ``(epoch, i)`` is a pair from track ``i``,
    item ``(epoch, i, c)`` the ``c``-th further pair from it in that batch (``pairs.per_track``).

    Items are :class:`WavePair` (audio windows after the transform's CPU stage),
    :class:`PowerPair` (with ``spectrograms``: spectrogram windows, augmented later on the
    device) or :class:`Unreadable` (the collate function counts it). The windows of
    ``(epoch, i)`` are drawn from :func:`item_rng` and do not depend on the order of reads; a
    plain index ``i`` means epoch 0.

    Args:
        tracks: the tracks (each at least one window long).
        durations_s: duration of each track in seconds.
        sample_rate: audio rate in Hz.
        window_s: raw window length in seconds (``PairTransform.input_seconds()``).
        max_centre_distance_s: largest distance between the two centres, in seconds.
        cpu_stage: ``(wave_a, wave_b, rng) -> (wave_a, wave_b, params)``.
        seed: base seed.
        cache: an :class:`~tunespace.caches.AudioCache`, or None to read windows from disk.
        spectrograms: a :class:`~tunespace.caches.SpectrogramCache` (wins over ``cache``).
        window_frames: frames per window with ``spectrograms`` (``PairTransform.input_frames()``).
        min_rms_db: a pair with a raw window quieter than this level (dBFS) is drawn again
            (module docstring); None: no check.
    """

    def __init__(
        self,
        tracks: Sequence[Track],
        durations_s: Sequence[float],
        sample_rate: int,
        window_s: float,
        max_centre_distance_s: float,
        cpu_stage: Callable[[np.ndarray, np.ndarray, np.random.Generator], tuple[np.ndarray, np.ndarray, dict]],
        seed: int = 0,
        cache: AudioCache | None = None,
        spectrograms: SpectrogramCache | None = None,
        window_frames: int | None = None,
        min_rms_db: float | None = None,
    ) -> None:
        self.tracks = list(tracks)
        self.min_rms_db = min_rms_db
        self.durations_s = list(durations_s)
        self.window_s = window_s
        self.max_centre_distance_s = max_centre_distance_s
        self.cpu_stage = cpu_stage
        self.seed = seed
        self.source: WindowSource
        if spectrograms is not None:
            if window_frames is None:
                raise ConfigError("PairDataset: spectrogram windows need window_frames")
            self.source, self.window_length = spectrograms, window_frames
        else:
            self.source, self.window_length = cache if cache is not None else DiskAudio(sample_rate), window_s

    def __len__(self) -> int:
        return len(self.tracks)

    def __getitem__(self, index: int | tuple[int, int] | tuple[int, int, int]) -> PairItem:
        epoch, i, copy = (*index, 0)[:3] if isinstance(index, tuple) else (0, index, 0)
        track = self.tracks[i]
        rng = item_rng(self.seed, epoch, i, copy)
        try:
            for _ in range(SILENCE_DRAWS):
                w = sample_pair_windows(self.durations_s[i], self.window_s, self.max_centre_distance_s, rng)
                a = self.source.window(track, w.start_a_s, self.window_length)
                b = self.source.window(track, w.start_b_s, self.window_length)
                if self._loud(track, w.start_a_s, a) and self._loud(track, w.start_b_s, b):
                    break
            else:
                return Unreadable(
                    str(track.path),
                    f"silent: no pair of excerpts above {self.min_rms_db:g} dBFS in {SILENCE_DRAWS} draws "
                    "(pairs.min_rms_db)",
                )
        except (AudioError, ConfigError) as e:
            return Unreadable(str(track.path), getattr(e, "reason", str(e)))
        if isinstance(self.source, SpectrogramCache):
            return PowerPair(a, b, i)
        a, b, params = self.cpu_stage(a, b, rng)
        return WavePair(a, b, i, params)

    def _loud(self, track: Track, start_s: float, window: np.ndarray | torch.Tensor) -> bool:
        """Whether a raw window is at least ``min_rms_db`` loud (always, without a threshold)."""
        if self.min_rms_db is None:
            return True
        if isinstance(self.source, SpectrogramCache):
            level = self.source.rms_db(track, start_s, self.window_length)
        else:
            level = rms_db(np.asarray(window))
        return level >= self.min_rms_db


def stack_float(tensors: Sequence[torch.Tensor], out: torch.Tensor | None = None) -> torch.Tensor:
    """``torch.stack(tensors).float()`` in one pass: each tensor (any float dtype, e.g. a
    bfloat16 cache view) is converted while it is copied into ``out`` (float32, reused when its
    shape fits, else a new tensor)."""
    shape = (len(tensors), *tensors[0].shape)
    if out is None or out.shape != shape or out.dtype != torch.float32:
        out = torch.empty(shape, dtype=torch.float32)
    for i, t in enumerate(tensors):
        out[i].copy_(t)
    return out


def collate_pairs(items: list[PairItem | None], buffers: dict[str, torch.Tensor] | None = None) -> dict[str, Any]:
    """Stack valid pairs into batches; report unreadable tracks.

    Args:
        items: one batch's pairs.
        buffers: where the spectrogram batches are written, reused from batch to batch (each
            batch then overwrites the previous one's ``power_a``/``power_b``: only for a loader
            without workers, whose consumer is done with a batch before it asks for the next). A
            new 100 MB tensor per view and step costs its page faults: reusing them made the data
            pipeline 1.19-1.47x faster (``bench/bench_train.py --recipe``, docs/benchmarks.md).
            None: new tensors.
    Returns:
        a dict with ``wave_a``, ``wave_b`` (float32 ``(B, samples)`` tensors; ``None`` for
        spectrogram windows, which come as float32 ``power_a``, ``power_b`` ``(B, F, T)``),
        ``index`` (long tensor; ``None`` if no pair was readable), ``params`` (list of per-item
        dicts) and ``errors`` (list of ``(path, reason)``).
    """
    errors = [(it.path, it.reason) for it in items if isinstance(it, Unreadable)]
    powers = [it for it in items if isinstance(it, PowerPair)]
    if powers:
        reuse = buffers if buffers is not None else {}
        stacked = {v: stack_float([getattr(it, v) for it in powers], reuse.get(v)) for v in ("power_a", "power_b")}
        reuse.update(stacked)
        return {
            **stacked,
            "wave_a": None,
            "wave_b": None,
            "index": torch.tensor([it.index for it in powers], dtype=torch.long),
            "params": [],
            "errors": errors,
        }
    good = [it for it in items if isinstance(it, WavePair)]
    if not good:
        return {"wave_a": None, "wave_b": None, "index": None, "params": [], "errors": errors}
    return {
        "wave_a": torch.from_numpy(np.stack([it.wave_a for it in good]).astype(np.float32, copy=False)),
        "wave_b": torch.from_numpy(np.stack([it.wave_b for it in good]).astype(np.float32, copy=False)),
        "index": torch.tensor([it.index for it in good], dtype=torch.long),
        "params": [it.params for it in good],
        "errors": errors,
    }


def check_per_track(batch_size: int, per_track: int, prefix: str = "") -> None:
    """ConfigError unless ``per_track >= 1`` divides ``batch_size`` (all pairs of a track must lie
    in one batch); ``prefix`` goes before the keys' names (e.g. ``train.`` in a study config)."""
    if per_track < 1:
        raise ConfigError(f"{prefix}pairs.per_track must be at least 1, got {per_track}")
    if batch_size % per_track:
        raise ConfigError(
            f"{prefix}train.batch_size {batch_size} is not a multiple of {prefix}pairs.per_track {per_track}: "
            "every track's pairs must lie in one batch"
        )


class DistinctTrackBatches(Sampler[list[tuple[int, ...]]]):
    """Batches of distinct tracks from a seeded permutation per epoch.

    Yields lists of ``(epoch, track index)``. Global batches of ``batch_size * world_size``
    tracks are dealt from the permutation (the last incomplete one is dropped) and each rank
    takes its contiguous slice of ``batch_size``, so no track appears twice in a global batch.

    With ``per_track = m > 1`` a global batch holds ``batch_size * world_size / m`` tracks, each
    ``m`` times in a row: ``(epoch, i)`` then ``(epoch, i, 1)`` ... ``(epoch, i, m - 1)``, drawn
    by :class:`PairDataset` as independent pairs of that track. ``batch_size`` is a multiple of
    ``m``, so all pairs of a track lie on one rank (the multi-positive loss relies on it:
    :func:`tunespace.losses.ntxent.nt_xent`).

    Args:
        n_tracks: number of tracks.
        batch_size: pairs per batch per rank.
        seed: base seed of the permutations.
        total_steps: number of steps to yield in all.
        start_step: global step to start from (for resumption); batches are numbered
            continuously across epochs.
        rank, world_size: this process's place in a distributed run.
        per_track: pairs of each track in a batch (``pairs.per_track``, >= 1).

    Raises:
        ConfigError: ``batch_size`` not a multiple of ``per_track``, or fewer tracks than one
            global batch needs.
    """

    def __init__(
        self,
        n_tracks: int,
        batch_size: int,
        seed: int,
        total_steps: int,
        start_step: int = 0,
        rank: int = 0,
        world_size: int = 1,
        per_track: int = 1,
    ) -> None:
        check_per_track(batch_size, per_track)
        self.per_track = per_track
        self.global_batch = batch_size * world_size
        self.global_tracks = self.global_batch // per_track
        if n_tracks < self.global_tracks:
            raise ConfigError(
                f"the dataset has {n_tracks} tracks, fewer than the {self.global_tracks} distinct tracks of the "
                f"global batch of {self.global_batch} pairs"
            )
        self.n_tracks = n_tracks
        self.batch_size = batch_size
        self.seed = seed
        self.rank = rank
        self.world_size = world_size
        self.total_steps = total_steps
        self.start_step = start_step
        self.steps_per_epoch = n_tracks // self.global_tracks

    def batch_at(self, step: int) -> list[tuple[int, ...]]:
        """The ``(epoch, index)`` / ``(epoch, index, copy)`` list of this rank at global ``step``."""
        epoch, j = divmod(step, self.steps_per_epoch)
        perm = np.random.default_rng(np.random.SeedSequence([int(self.seed), 7919, epoch])).permutation(self.n_tracks)
        g = perm[j * self.global_tracks : (j + 1) * self.global_tracks]
        items = [(epoch, int(i), c) if c else (epoch, int(i)) for i in g for c in range(self.per_track)]
        return items[self.rank * self.batch_size : (self.rank + 1) * self.batch_size]

    def __iter__(self) -> Iterator[list[tuple[int, ...]]]:
        for step in range(self.start_step, self.total_steps):
            yield self.batch_at(step)

    def __len__(self) -> int:
        return max(0, self.total_steps - self.start_step)

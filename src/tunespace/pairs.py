"""Positive pairs: two excerpts of one track whose centres lie within a set distance.

A *pair* is two raw audio windows of one track. Their centres are drawn uniformly such that
both windows fit inside the track and ``|centre_a - centre_b| <= max_centre_distance_s``
(MULE: 3 s excerpts within about +-5 s). Every other track in a batch is a negative, so a batch
never holds one track twice: :class:`DistinctTrackBatches` deals batches from a seeded
permutation of the tracks.

Raw windows are ``input_seconds`` long (longer than the 3 s model excerpt when time-stretch
needs room); :class:`tunespace.augment.pipeline.PairTransform` turns them into model inputs.

Randomness: every draw comes from a generator seeded by ``(seed, epoch, track index)``, so the
pairs of a step do not depend on worker scheduling or on whether a run was resumed.

Audio source: for small corpora the decoded audio of every track is cached in memory
(:class:`AudioCache`); for large ones only the needed windows are read from disk.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any, Callable

import numpy as np
import torch
from torch.utils.data import Dataset as TorchDataset
from torch.utils.data import Sampler

from .audio import info, load
from .datasets.base import Track
from .errors import AudioError, ConfigError


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


def item_rng(seed: int, epoch: int, index: int) -> np.random.Generator:
    """The generator of one (epoch, track) draw: independent of workers and resumption."""
    return np.random.default_rng(np.random.SeedSequence([int(seed), int(epoch), int(index)]))


class AudioCache:
    """Decoded audio of every track kept in memory (float32 mono at ``sample_rate``).

    Tracks that fail to load are recorded in :attr:`errors` (path -> reason) and left out.
    """

    def __init__(self, tracks: Sequence[Track], sample_rate: int) -> None:
        self.sample_rate = sample_rate
        self.audio: dict[str, np.ndarray] = {}
        self.errors: dict[str, str] = {}
        for t in tracks:
            try:
                self.audio[t.id] = load(t.path, sr=sample_rate)
            except AudioError as e:
                self.errors[str(t.path)] = e.reason

    def window(self, track: Track, start_s: float, length_s: float) -> np.ndarray:
        """``length_s`` seconds from ``start_s`` (exact length in samples)."""
        if track.id not in self.audio:
            raise AudioError(track.path, self.errors.get(str(track.path), "not loaded"))
        x = self.audio[track.id]
        n = int(round(length_s * self.sample_rate))
        i0 = int(round(start_s * self.sample_rate))
        i0 = max(0, min(i0, len(x) - n))
        if i0 < 0 or len(x) < n:
            raise AudioError(track.path, "too short for the requested window")
        return x[i0 : i0 + n]


class SpectrogramCache:
    """Linear power spectrogram of every track, computed once (spectral backend, small corpora).

    With the spectral backend the STFT is the largest cost of a training step; the frames of a
    window are (up to the zero padding of the first and last frame) the same frames as those of
    the whole track, so they are computed once per track and sliced. Window starts are then
    rounded to the hop (10 ms).

    Args:
        audio: decoded audio of the tracks (an :class:`AudioCache`).
        power: ``(B, samples) -> (B, F, T)`` power spectrogram function (``LogMel.power``).
        hop_length: STFT hop, samples.
    """

    def __init__(self, audio: AudioCache, power: Callable[[torch.Tensor], torch.Tensor], hop_length: int) -> None:
        self.hop_length = hop_length
        self.sample_rate = audio.sample_rate
        self.errors = dict(audio.errors)
        self.spec: dict[str, torch.Tensor] = {}
        with torch.no_grad():
            for tid, x in audio.audio.items():
                self.spec[tid] = power(torch.from_numpy(np.ascontiguousarray(x))[None])[0].contiguous()

    def window(self, track: Track, start_s: float, n_frames: int) -> torch.Tensor:
        """``(F, n_frames)`` frames of the window starting at ``start_s`` (rounded to the hop)."""
        if track.id not in self.spec:
            raise AudioError(track.path, self.errors.get(str(track.path), "not loaded"))
        s = self.spec[track.id]
        j = int(round(start_s * self.sample_rate / self.hop_length))
        j = max(0, min(j, s.shape[1] - n_frames))
        if s.shape[1] < n_frames:
            raise AudioError(track.path, "too short for the requested window")
        return s[:, j : j + n_frames]


def estimate_spectrogram_bytes(durations_s: Sequence[float], sample_rate: int, hop_length: int, n_freqs: int) -> int:
    """Bytes a :class:`SpectrogramCache` of tracks of ``durations_s`` would take (float32)."""
    return int(sum(int(d * sample_rate) // hop_length + 1 for d in durations_s) * n_freqs * 4)


def estimate_cache_bytes(durations_s: Sequence[float], sample_rate: int) -> int:
    """Bytes the decoded float32 audio of tracks of ``durations_s`` would take."""
    return int(sum(durations_s) * sample_rate * 4)


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


class PairDataset(TorchDataset):
    """Map-style dataset of positive pairs: item ``i`` is a pair from track ``i``.

    Each item is ``(wave_a, wave_b, index, params)`` where the waves are float32 ``(samples,)``
    arrays after the transform's CPU stage, or ``None`` when the track could not be read (the
    collate function drops it and counts it). Call :meth:`set_epoch` before each epoch.

    Args:
        tracks: the tracks (each at least one window long).
        durations_s: duration of each track in seconds.
        sample_rate: audio rate in Hz.
        window_s: raw window length in seconds (``PairTransform.input_seconds()``).
        max_centre_distance_s: largest distance between the two centres, in seconds.
        cpu_stage: ``(wave_a, wave_b, rng) -> (wave_a, wave_b, params)``.
        seed: base seed.
        cache: an :class:`AudioCache`, or None to read windows from disk.
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
    ) -> None:
        self.tracks = list(tracks)
        self.durations_s = list(durations_s)
        self.sample_rate = sample_rate
        self.window_s = window_s
        self.max_centre_distance_s = max_centre_distance_s
        self.cpu_stage = cpu_stage
        self.seed = seed
        self.cache = cache
        self.spectrograms = spectrograms
        self.window_frames = window_frames
        self.epoch = 0

    def set_epoch(self, epoch: int) -> None:
        self.epoch = int(epoch)

    def __len__(self) -> int:
        return len(self.tracks)

    def _read(self, track: Track, start_s: float) -> np.ndarray:
        if self.cache is not None:
            return self.cache.window(track, start_s, self.window_s)
        n = int(round(self.window_s * self.sample_rate))
        x = load(track.path, sr=self.sample_rate, offset_s=start_s, duration_s=self.window_s)
        if len(x) < n:
            raise AudioError(track.path, "too short for the requested window")
        return x[:n]

    def __getitem__(self, index: int) -> tuple[Any, ...] | None:
        epoch, i = (index if isinstance(index, tuple) else (self.epoch, index))
        track = self.tracks[i]
        rng = item_rng(self.seed, epoch, i)
        try:
            w = sample_pair_windows(self.durations_s[i], self.window_s, self.max_centre_distance_s, rng)
            if self.spectrograms is not None:
                assert self.window_frames is not None
                pa = self.spectrograms.window(track, w.start_a_s, self.window_frames)
                pb = self.spectrograms.window(track, w.start_b_s, self.window_frames)
                return ("power", pa, pb, i)
            a = self._read(track, w.start_a_s)
            b = self._read(track, w.start_b_s)
        except (AudioError, ConfigError) as e:
            return ("error", str(track.path), getattr(e, "reason", str(e)))
        a, b, params = self.cpu_stage(a, b, rng)
        return (a, b, i, params)


def _is_error(item: tuple[Any, ...]) -> bool:
    return isinstance(item[0], str) and item[0] == "error"


def collate_pairs(items: list[Any]) -> dict[str, Any]:
    """Stack valid pairs into ``(B, samples)`` tensors; report unreadable tracks.

    Returns a dict with ``wave_a``, ``wave_b`` (float32 tensors; or ``power_a``, ``power_b``
    ``(B, F, T)`` spectrogram windows from a :class:`SpectrogramCache`), ``index`` (long tensor),
    ``params`` (list of per-item dicts) and ``errors`` (list of (path, reason)).
    """
    errors = [(it[1], it[2]) for it in items if it is not None and _is_error(it)]
    powers = [it for it in items if it is not None and isinstance(it[0], str) and it[0] == "power"]
    if powers:
        return {
            "power_a": torch.stack([it[1] for it in powers]), "power_b": torch.stack([it[2] for it in powers]),
            "wave_a": None, "wave_b": None,
            "index": torch.tensor([it[3] for it in powers], dtype=torch.long), "params": [], "errors": errors,
        }
    good = [it for it in items if it is not None and not isinstance(it[0], str)]
    if not good:
        return {"wave_a": None, "wave_b": None, "index": None, "params": [], "errors": errors}
    return {
        "wave_a": torch.from_numpy(np.stack([it[0] for it in good]).astype(np.float32, copy=False)),
        "wave_b": torch.from_numpy(np.stack([it[1] for it in good]).astype(np.float32, copy=False)),
        "index": torch.tensor([it[2] for it in good], dtype=torch.long),
        "params": [it[3] for it in good],
        "errors": errors,
    }


class DistinctTrackBatches(Sampler[list[tuple[int, int]]]):
    """Batches of distinct tracks from a seeded permutation per epoch.

    Yields lists of ``(epoch, track index)``. Global batches of ``batch_size * world_size``
    tracks are dealt from the permutation (the last incomplete one is dropped) and each rank
    takes its contiguous slice of ``batch_size``, so no track appears twice in a global batch.

    Args:
        n_tracks: number of tracks.
        batch_size: pairs per batch per rank.
        seed: base seed of the permutations.
        rank, world_size: this process's place in a distributed run.
        start_step: global step to start from (for resumption); batches are numbered
            continuously across epochs.
        total_steps: number of steps to yield in all.
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
    ) -> None:
        self.global_batch = batch_size * world_size
        if n_tracks < self.global_batch:
            raise ConfigError(
                f"the dataset has {n_tracks} tracks, fewer than the global batch of {self.global_batch} pairs"
            )
        self.n_tracks = n_tracks
        self.batch_size = batch_size
        self.seed = seed
        self.rank = rank
        self.world_size = world_size
        self.total_steps = total_steps
        self.start_step = start_step
        self.steps_per_epoch = n_tracks // self.global_batch

    def batch_at(self, step: int) -> list[tuple[int, int]]:
        """The ``(epoch, index)`` list of this rank at global ``step``."""
        epoch, j = divmod(step, self.steps_per_epoch)
        perm = np.random.default_rng(np.random.SeedSequence([int(self.seed), 7919, epoch])).permutation(self.n_tracks)
        g = perm[j * self.global_batch : (j + 1) * self.global_batch]
        mine = g[self.rank * self.batch_size : (self.rank + 1) * self.batch_size]
        return [(epoch, int(i)) for i in mine]

    def __iter__(self) -> Iterator[list[tuple[int, int]]]:
        for step in range(self.start_step, self.total_steps):
            yield self.batch_at(step)

    def __len__(self) -> int:
        return max(0, self.total_steps - self.start_step)

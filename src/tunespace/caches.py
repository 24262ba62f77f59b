"""Where the raw windows of pairs come from: the disk, decoded audio in memory, or spectrograms in memory.

Three :class:`WindowSource` implementations, one protocol, so that
:class:`tunespace.pairs.PairDataset` reads a window the same way from any of them:

- :class:`DiskAudio`: decodes only the window from the file (large corpora);
- :class:`AudioCache`: every track decoded once, float32 mono (small corpora);
- :class:`SpectrogramCache`: every track's linear power spectrogram computed once (spectral
  backend, small corpora: the STFT is then no longer a per-step cost).

The ``estimate_*_bytes`` functions say beforehand whether a cache fits a memory budget.
:func:`rms_db` and :meth:`SpectrogramCache.rms_db` give a window's level, so that pairs can
avoid silent excerpts (:class:`tunespace.pairs.PairDataset`).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Protocol

import numpy as np
import torch

from .audio import load
from .datasets.base import Track
from .errors import AudioError


def rms_db(wave: np.ndarray) -> float:
    """Level of an audio window: ``20 log10`` of its RMS, in dB relative to full scale (dBFS).

    Args:
        wave: ``(samples,)`` float audio, full scale +-1.
    Returns:
        The level in dBFS; ``-inf`` for digital silence or an empty window.
    """
    return _mean_square_db(np.square(wave, dtype=np.float64))


def _mean_square_db(squares: np.ndarray) -> float:
    """``10 log10`` of the mean of ``squares`` (``-inf`` when it is 0 or there are none)."""
    ms = float(squares.mean()) if squares.size else 0.0
    return 10.0 * float(np.log10(ms)) if ms > 0 else float("-inf")


class WindowSource(Protocol):
    """Reads one raw window of a track.

    ``window(track, start_s, length)`` returns the window starting at ``start_s`` seconds:
    audio ``(samples,)`` float32 numpy for :class:`DiskAudio` and :class:`AudioCache`
    (``length`` in seconds), or ``(F, length)`` power frames, a torch tensor, for
    :class:`SpectrogramCache` (``length`` in frames). Raises :class:`AudioError` for a track
    that cannot give it.
    """

    def window(self, track: Track, start_s: float, length: float) -> np.ndarray | torch.Tensor: ...


class DiskAudio:
    """Windows decoded from the files on each read (float32 mono at ``sample_rate`` Hz)."""

    def __init__(self, sample_rate: int) -> None:
        self.sample_rate = sample_rate

    def window(self, track: Track, start_s: float, length: float) -> np.ndarray:
        """``length`` seconds from ``start_s`` (exact length in samples)."""
        n = int(round(length * self.sample_rate))
        x = load(track.path, sr=self.sample_rate, offset_s=start_s, duration_s=length)
        if len(x) < n:
            raise AudioError(track.path, "too short for the requested window")
        return x[:n]


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

    def window(self, track: Track, start_s: float, length: float) -> np.ndarray:
        """``length`` seconds from ``start_s`` (exact length in samples)."""
        if track.id not in self.audio:
            raise AudioError(track.path, self.errors.get(str(track.path), "not loaded"))
        x = self.audio[track.id]
        n = int(round(length * self.sample_rate))
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

    With ``frames`` (frames of a signal of n samples, e.g. :meth:`LogMel.frames`) every
    spectrogram is written into one block allocated up front, so that memory is the sum of the
    spectrograms: stored one allocation per track between the STFT's larger temporary buffers,
    glibc's heap fragmented to about twice that (the pretrained recipe's 645 tracks x 30 s: a
    15.4 GB process, against 8.4 GB when large allocations bypass the heap, for 7.9 GB of
    spectrograms). A track whose spectrogram does not have the predicted shape is stored on its
    own.

    ``dtype`` ``torch.bfloat16`` halves that memory (float32's range, 8 significant bits: each
    power value within 0.4 % of float32's); windows are returned in float32 either way.

    Args:
        audio: decoded audio of the tracks (an :class:`AudioCache`).
        power: ``(B, samples) -> (B, F, T)`` power spectrogram function (``LogMel.power``).
        hop_length: STFT hop, samples.
        frames: ``n_samples -> T`` of ``power``, or None (one allocation per track).
        dtype: storage type, ``torch.float32`` (default) or ``torch.bfloat16``.
    """

    def __init__(
        self,
        audio: AudioCache,
        power: Callable[[torch.Tensor], torch.Tensor],
        hop_length: int,
        frames: Callable[[int], int] | None = None,
        dtype: torch.dtype = torch.float32,
    ) -> None:
        self.hop_length = hop_length
        self.dtype = dtype
        self.sample_rate = audio.sample_rate
        self.errors = dict(audio.errors)
        self.spec: dict[str, torch.Tensor] = {}
        #: mean square of each hop-long block of every track's audio, ``(T,)`` float64: the level
        #: of a window of frames without the audio (:meth:`rms_db`)
        self.block_power: dict[str, np.ndarray] = {}
        offsets: dict[str, tuple[int, int]] = {}
        total = 0
        if frames is not None:
            for tid, x in audio.audio.items():
                offsets[tid] = (total, int(frames(len(x))))
                total += offsets[tid][1]
        block: torch.Tensor | None = None  # (F, total): allocated once F and dtype are known
        with torch.no_grad():
            for tid, x in audio.audio.items():
                p = power(torch.from_numpy(np.ascontiguousarray(x))[None])[0].to(dtype)
                if offsets and block is None:
                    if p.shape[1] != offsets[tid][1]:
                        offsets = {}  # ``frames`` does not describe ``power``: no block at all
                    else:
                        block = torch.empty((p.shape[0], total), dtype=p.dtype)
                if block is not None and p.shape == (block.shape[0], offsets[tid][1]) and p.dtype == block.dtype:
                    a, n = offsets[tid]
                    block[:, a : a + n] = p
                    self.spec[tid] = block[:, a : a + n]
                else:
                    self.spec[tid] = p.contiguous()
                del p
                n = len(x) // hop_length * hop_length
                self.block_power[tid] = np.mean(np.square(x[:n].reshape(-1, hop_length), dtype=np.float64), axis=1)

    def _first_frame(self, track: Track, start_s: float, n_frames: int) -> int:
        """Index of the first frame of the window starting at ``start_s`` (rounded to the hop)."""
        if track.id not in self.spec:
            raise AudioError(track.path, self.errors.get(str(track.path), "not loaded"))
        total = self.spec[track.id].shape[1]
        if total < n_frames:
            raise AudioError(track.path, "too short for the requested window")
        j = int(round(start_s * self.sample_rate / self.hop_length))
        return max(0, min(j, total - n_frames))

    def window(self, track: Track, start_s: float, length: float) -> torch.Tensor:
        """``(F, length)`` frames of the window starting at ``start_s`` (rounded to the hop): a
        read-only view of the cache, in its ``dtype`` (:func:`tunespace.pairs.collate_pairs`
        copies a batch of them into one float32 tensor)."""
        j = self._first_frame(track, start_s, int(length))
        return self.spec[track.id][:, j : j + int(length)]

    def rms_db(self, track: Track, start_s: float, length: float) -> float:
        """Level in dBFS of the audio under :meth:`window`'s frames (hop-long blocks; ``-inf``: silence)."""
        j = self._first_frame(track, start_s, int(length))
        return _mean_square_db(self.block_power[track.id][j : j + int(length)])


def estimate_spectrogram_bytes(
    durations_s: Sequence[float], sample_rate: int, hop_length: int, n_freqs: int, value_bytes: int = 4
) -> int:
    """Bytes a :class:`SpectrogramCache` of tracks of ``durations_s`` would take (``value_bytes``
    per value: 4 for float32, 2 for bfloat16)."""
    return int(sum(int(d * sample_rate) // hop_length + 1 for d in durations_s) * n_freqs * value_bytes)


def estimate_cache_bytes(durations_s: Sequence[float], sample_rate: int) -> int:
    """Bytes the decoded float32 audio of tracks of ``durations_s`` would take."""
    return int(sum(durations_s) * sample_rate * 4)

"""A trained model as a Python object: waveform in, embeddings out (``tunespace.load_model``).

This is *the* extraction of tunespace: ``tunespace embed`` (:func:`tunespace.embed.extract.embed_dataset`)
calls the same :meth:`Model.embed_slices` on the same slices, so an embedding computed here
equals the one in an EMB folder (tested).

The extraction of the base model (MULE):

1. audio mixed down to mono and resampled to the model's rate (16 kHz) with soxr;
2. slices of ``slice_seconds`` starting every ``hop_seconds`` (2 s) while they fit
   (:func:`slice_starts`); a track shorter than one slice gives one slice, zero-padded. The
   slice length defaults to the excerpt length the encoder was trained on
   (:func:`trained_slice_seconds`: the run's ``pairs.excerpt_seconds``, 3 s for MULE's
   setting and for untrained encoders), so a model embeds what it learned from;
3. each slice -> log-mel (:class:`tunespace.features.LogMel`) -> standardised to zero mean
   and unit variance -> encoder -> one ``(D,)`` vector;
4. the timeline is the ``(T, D)`` slice embeddings, their centre times are
   ``start + slice_seconds / 2`` in seconds; the track embedding is the mean over its loud
   slices (computed in float64, returned as float32).

Silent slices: a slice whose peak stays below ``silence_db`` (-60 dBFS, the threshold of
ffmpeg's ``silencedetect``) stays in the timeline but not in the track's mean (all slices are
averaged when none is loud, or with ``silence_db=None``). Each slice is standardised, so
silence becomes one and the same input (digital zeros) or amplified noise; averaged in, it
pulls every track with a silent stretch towards the others. Measured with ``pretrained:ts`` on
40 rendered pieces (``bench/silence_probe.py``): a tail of half the piece's length took the
mean cosine similarity between different pieces from 0.455 to 0.585 (digital silence) and
0.657 (noise at -80 dBFS) when averaged in, to 0.464 when left out.

:meth:`Model.embed_batch` puts the slices of several items through one forward pass; each
item's result does not depend on the others (the encoders keep no batch statistics in eval
mode; tested).
Only the slicing arithmetic is written here; resampling is soxr's, the front end is torch's
STFT with librosa's mel filter bank.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

from .. import devices
from ..errors import UsageError

#: What :meth:`Model.embed` and :meth:`Model.timeline` take: a waveform or an audio file's path.
Audio = np.ndarray | torch.Tensor | str | Path

#: Slice length (s) of an encoder with no training record (``random:``), and MULE's excerpt.
DEFAULT_SLICE_SECONDS = 3.0
#: Slices embedded per forward pass (bounds memory for long inputs).
CHUNK_SLICES = 32
#: Peak level (dBFS) below which a slice is silent (left out of the track's mean) and a whole
#: track is silent (``tunespace embed`` reports it instead of embedding it).
SILENCE_DB = -60.0


def slice_starts(duration_s: float, slice_s: float, hop_s: float) -> list[float]:
    """Start times (s) of the slices of a track: 0, hop, 2·hop, ... while the slice fits; at least one.

    Args:
        duration_s: track duration, seconds.
        slice_s: slice length, seconds.
        hop_s: hop between slice starts, seconds.
    """
    n = max(1, int(math.floor((duration_s - slice_s) / hop_s + 1e-9)) + 1) if duration_s >= slice_s else 1
    return [i * hop_s for i in range(n)]


def cut_slices(
    x: np.ndarray, starts_s: Sequence[float], sample_rate: int, slice_s: float, origin_s: float = 0.0
) -> np.ndarray:
    """The slices of ``x`` starting at ``starts_s``, zero-padded at the end where ``x`` is short.

    Args:
        x: float32 mono audio ``(samples,)`` that begins at ``origin_s`` seconds of the track.
        starts_s: slice start times, seconds from the start of the track.
        sample_rate: rate of ``x``, Hz.
        slice_s: slice length, seconds.
        origin_s: time of ``x[0]`` within the track, seconds.
    Returns:
        float32 ``(len(starts_s), round(slice_s * sample_rate))``.
    """
    n_slice = int(round(slice_s * sample_rate))
    offsets = [int(round((s - origin_s) * sample_rate)) for s in starts_s]
    need = (max(offsets) if offsets else 0) + n_slice
    if len(x) < need:
        x = np.pad(x, (0, need - len(x)))
    return np.stack([x[o : o + n_slice] for o in offsets]).astype(np.float32, copy=False)


def loud_slices(slices: np.ndarray, silence_db: float | None = SILENCE_DB) -> np.ndarray:
    """Which slices are loud: bool ``(n,)``, True where a slice's peak reaches ``silence_db``.

    Args:
        slices: float ``(n, samples)`` audio in [-1, 1].
        silence_db: threshold, dBFS (a peak of 1.0 is 0 dBFS); None: every slice is loud.
    """
    slices = np.asarray(slices)
    if silence_db is None:
        return np.ones(slices.shape[0], bool)
    if slices.shape[0] == 0 or slices.shape[1] == 0:
        return np.zeros(slices.shape[0], bool)
    return np.abs(slices).max(axis=1) >= 10.0 ** (float(silence_db) / 20.0)


@dataclass(frozen=True)
class Timeline:
    """Slice embeddings of one track.

    Attributes:
        times_s: float64 ``(T,)`` centre time of each slice, seconds from the start.
        embeddings: float32 ``(T, D)``.
        loud: bool ``(T,)``, whether each slice reaches the model's ``silence_db`` (the slices
            the track embedding averages; see :func:`track_embedding`); None: every slice.
    """

    times_s: np.ndarray
    embeddings: np.ndarray
    loud: np.ndarray | None = None

    @property
    def silent(self) -> bool:
        """True when no slice reaches the silence level (never when ``loud`` is None: every slice counts)."""
        return self.loud is not None and not bool(np.any(self.loud))


def trained_slice_seconds(bundle: Any) -> float:
    """The excerpt length (s) ``bundle``'s encoder was trained on: its training config's
    ``pairs.excerpt_seconds``, or :data:`DEFAULT_SLICE_SECONDS` when it records none (a random
    encoder, a config from before the setting existed)."""
    cfg = getattr(bundle, "meta", {}).get("train_config") or {}
    value = (cfg.get("pairs") or {}).get("excerpt_seconds")
    return float(value) if isinstance(value, (int, float)) and not isinstance(value, bool) else DEFAULT_SLICE_SECONDS


class Model:
    """An encoder with its front end and the base model's slicing, ready to embed audio.

    Build it with :func:`load_model`. Attributes: ``sample_rate`` (Hz, what the encoder
    expects; inputs at other rates are resampled), ``dim`` (embedding size D),
    ``slice_seconds``, ``hop_seconds``, ``device``, ``meta`` (what the model is).

    Args:
        bundle: a :class:`tunespace.embed.extract.EncoderBundle`.
        slice_seconds: slice length, seconds (None: the excerpt length the encoder was trained
            on, :func:`trained_slice_seconds`; 3 s for MULE's setting).
        hop_seconds: hop between slices, seconds (2).
        device: torch device for the front end and the encoder.
        silence_db: slices whose peak stays below it (dBFS) are left out of a track's mean
            (-60; None: every slice counts).
    """

    def __init__(
        self,
        bundle: Any,
        slice_seconds: float | None = None,
        hop_seconds: float = 2.0,
        device: torch.device | str = "cpu",
        silence_db: float | None = SILENCE_DB,
    ) -> None:
        from ..features import FrontEnd, LogMel

        if slice_seconds is None:
            slice_seconds = trained_slice_seconds(bundle)
        for name, v in (("slice_seconds", slice_seconds), ("hop_seconds", hop_seconds)):
            if not (isinstance(v, (int, float)) and math.isfinite(v) and v > 0):
                raise UsageError(f"{name} must be a finite number of seconds > 0, got {v!r}")
        self.bundle = bundle
        self.device = devices.resolve(device)
        self.frontend_config = FrontEnd.from_dict(bundle.frontend)
        self.frontend = LogMel(self.frontend_config).to(self.device)
        self.encoder = bundle.encoder.to(self.device).eval()
        if silence_db is not None and not (
            isinstance(silence_db, (int, float)) and not isinstance(silence_db, bool) and math.isfinite(silence_db)
        ):
            raise UsageError(f"silence_db must be a finite level in dBFS or None, got {silence_db!r}")
        self.slice_seconds = float(slice_seconds)
        self.hop_seconds = float(hop_seconds)
        self.silence_db = None if silence_db is None else float(silence_db)
        self.meta: dict[str, Any] = dict(bundle.meta)
        self._dim: int | None = getattr(self.encoder, "embedding_dim", None)

    def embedding_meta(self) -> dict[str, Any]:
        """What an EMB folder's ``meta.json`` records of how its vectors were made by this model
        (its ``model``, slicing and silence rule), so that an index of vectors from :meth:`embed`
        can embed audio queries the same way (:meth:`tunespace.Index.from_vectors`)."""
        from .format import PLAIN_MEAN, TRACK_MEAN

        return {
            "model": {k: v for k, v in self.meta.items() if k != "train_config"},
            "frontend": dict(self.bundle.frontend),
            "slice_seconds": self.slice_seconds,
            "hop_seconds": self.hop_seconds,
            "silence_db": self.silence_db,
            "track_embedding": PLAIN_MEAN if self.silence_db is None else TRACK_MEAN,
        }

    def __repr__(self) -> str:
        kind = self.meta.get("checkpoint") or self.meta.get("kind")
        return f"Model({kind!s}, dim={self.dim}, sample_rate={self.sample_rate})"

    @property
    def sample_rate(self) -> int:
        """Rate the model works at, Hz."""
        return int(self.frontend_config.sample_rate)

    @property
    def dim(self) -> int:
        """Embedding size D."""
        if self._dim is None:
            self._dim = int(self.embed_slices(np.zeros((1, self.slice_samples), np.float32)).shape[1])
        return int(self._dim)

    @property
    def slice_samples(self) -> int:
        """Samples per slice at :attr:`sample_rate`."""
        return int(round(self.slice_seconds * self.sample_rate))

    # ------------------------------------------------------------------ the one core
    def embed_slices(self, slices: np.ndarray | torch.Tensor) -> np.ndarray:
        """Embeddings of slices already at :attr:`sample_rate`.

        Args:
            slices: float32 ``(n, slice_samples)`` mono audio.
        Returns:
            float32 ``(n, D)``.
        """
        from ..features import standardise

        x = torch.as_tensor(np.asarray(slices, dtype=np.float32) if not torch.is_tensor(slices) else slices)
        out = []
        with torch.inference_mode():
            for s in range(0, x.shape[0], CHUNK_SLICES):
                mel = standardise(self.frontend(x[s : s + CHUNK_SLICES].to(self.device).float())).unsqueeze(1)
                out.append(self.encoder(mel).float().cpu().numpy())
        return np.concatenate(out, axis=0).astype(np.float32, copy=False)

    # ------------------------------------------------------------------ waveforms
    def prepare(
        self, audio: np.ndarray | torch.Tensor, sample_rate: int, channels_first: bool | None = None
    ) -> np.ndarray:
        """``audio`` as float32 mono at :attr:`sample_rate`.

        Args:
            audio: ``(samples,)``, or ``(channels, samples)`` / ``(samples, channels)``.
            sample_rate: rate of ``audio``, Hz.
            channels_first: layout of 2-D input; None guesses it (the shorter axis is the
                channel axis).
        Raises:
            UsageError: empty, non-finite, more than 2-D, or a bad sample rate.
        """
        if not (isinstance(sample_rate, (int, np.integer)) and not isinstance(sample_rate, bool) and sample_rate > 0):
            raise UsageError(f"sample_rate must be a positive integer number of Hz, got {sample_rate!r}")
        x = audio.detach().cpu().numpy() if torch.is_tensor(audio) else np.asarray(audio)
        if x.ndim == 2:
            first = channels_first if channels_first is not None else x.shape[0] <= x.shape[1]
            x = x.mean(axis=0 if first else 1)
        elif x.ndim != 1:
            raise UsageError(f"audio must be (samples,) or (channels, samples), got shape {x.shape}")
        x = np.asarray(x, dtype=np.float32)
        if x.size == 0:
            raise UsageError("audio holds no samples")
        if not np.isfinite(x).all():
            raise UsageError("audio holds non-finite samples (NaN or inf)")
        if int(sample_rate) != self.sample_rate:
            import soxr

            from ..audio import RESAMPLE_QUALITY

            x = soxr.resample(x, int(sample_rate), self.sample_rate, quality=RESAMPLE_QUALITY).astype(np.float32)
        return np.ascontiguousarray(x)

    def timeline(self, audio: Audio, sample_rate: int | None = None, channels_first: bool | None = None) -> Timeline:
        """Slice embeddings ``(T, D)`` of ``audio`` with their centre times (s).

        ``audio`` is a waveform at ``sample_rate`` Hz (as :meth:`prepare` takes it) or the path
        of an audio file (decoded by :func:`tunespace.audio.load`; ``sample_rate`` is then not
        needed)."""
        x = self._waveform(audio, sample_rate, channels_first)
        starts = slice_starts(len(x) / self.sample_rate, self.slice_seconds, self.hop_seconds)
        slices = cut_slices(x, starts, self.sample_rate, self.slice_seconds)
        times = np.asarray(starts, dtype=np.float64) + self.slice_seconds / 2
        return Timeline(times, self.embed_slices(slices), loud_slices(slices, self.silence_db))

    def embed(self, audio: Audio, sample_rate: int | None = None, channels_first: bool | None = None) -> np.ndarray:
        """The track embedding ``(D,)`` float32: the mean of the timeline's loud slices.

        ``audio``: a waveform at ``sample_rate`` Hz, or an audio file's path (see :meth:`timeline`)."""
        tl = self.timeline(audio, sample_rate, channels_first)
        return track_embedding(tl.embeddings, tl.loud)

    def embed_batch(
        self, audios: Sequence[Audio] | np.ndarray | torch.Tensor, sample_rate: int | None = None
    ) -> np.ndarray:
        """Track embeddings ``(B, D)`` of several waveforms or files (each as :meth:`embed` gives it).

        Args:
            audios: a ``(B, samples)`` array/tensor of mono audio, or a list of waveforms of
                any lengths (each 1-D or 2-D as in :meth:`prepare`) or of audio file paths.
            sample_rate: the waveforms' rate, Hz (not needed for paths).
        """
        if (torch.is_tensor(audios) or isinstance(audios, np.ndarray)) and audios.ndim == 2:
            items = [audios[i] for i in range(audios.shape[0])]
        else:
            items = list(audios)
        if not items:
            return np.zeros((0, self.dim), np.float32)
        slices, counts = [], []
        for a in items:
            x = self._waveform(a, sample_rate, None)
            starts = slice_starts(len(x) / self.sample_rate, self.slice_seconds, self.hop_seconds)
            slices.append(cut_slices(x, starts, self.sample_rate, self.slice_seconds))
            counts.append(len(starts))
        every = np.concatenate(slices)
        emb, loud = self.embed_slices(every), loud_slices(every, self.silence_db)
        bounds = np.cumsum([0, *counts])
        return np.stack([track_embedding(emb[a:b], loud[a:b]) for a, b in zip(bounds[:-1], bounds[1:])])

    def embed_file(self, path: str | Path) -> np.ndarray:
        """The track embedding ``(D,)`` of an audio file (decoded by :func:`tunespace.audio.load`).

        Raises:
            AudioError: the file cannot be decoded.
        """
        return self.embed(Path(path))

    def _waveform(self, audio: Audio, sample_rate: int | None, channels_first: bool | None) -> np.ndarray:
        """:meth:`prepare`'s mono float32 at :attr:`sample_rate`, decoding ``audio`` first if it is a path."""
        if isinstance(audio, (str, Path)):
            from ..audio import load

            return load(audio, sr=self.sample_rate)
        if sample_rate is None:
            raise UsageError("sample_rate (Hz) is needed with a waveform; pass a file path to decode one instead")
        return self.prepare(audio, sample_rate, channels_first)


def averaged(loud: np.ndarray | None, n: int) -> np.ndarray:
    """Which of a track's ``n`` slices stand for it (averaged into its embedding, indexed by
    ``index build --slices``): bool ``(n,)``, the loud ones (:func:`loud_slices`); every slice
    where ``loud`` is None or none is loud."""
    if loud is not None and np.any(loud):
        return np.asarray(loud, bool)
    return np.ones(int(n), dtype=bool)


def track_embedding(timeline: np.ndarray, loud: np.ndarray | None = None) -> np.ndarray:
    """Mean ``(D,)`` float32 of the loud rows of slice embeddings ``(T, D)``, summed in float64.

    Args:
        timeline: float32 ``(T, D)`` slice embeddings.
        loud: bool ``(T,)`` (:func:`loud_slices`); None, or no loud slice: every row (:func:`averaged`).
    """
    rows = timeline[averaged(loud, len(timeline))]
    return rows.astype(np.float64).mean(axis=0).astype(np.float32)


def load_model(
    path: str | Path,
    *,
    device: torch.device | str = "cpu",
    slice_seconds: float | None = None,
    hop_seconds: float = 2.0,
    silence_db: float | None = SILENCE_DB,
) -> Model:
    """Load a trained model to embed audio from Python.

    Args:
        path: a run folder (its newest checkpoint) or a checkpoint file (``.pt``);
            ``"pretrained:NAME"`` for a model shipped with tunespace (``"pretrained:ts"``, see
            ``tunespace.pretrained.available()``); or ``"random:ENCODER"`` (e.g.
            ``"random:small"``) for a randomly initialised encoder (seed 0), a reference point.
        device: where to run (``"cpu"``, ``"cuda"``, ``"cuda:1"``, ``"auto"``: CUDA when there is
            one; see :func:`tunespace.devices.resolve`).
        slice_seconds, hop_seconds: slicing, as ``tunespace embed``: slices of the excerpt
            length the model was trained on (None, the default: :func:`trained_slice_seconds`,
            3 s for the shipped models of MULE's setting) every 2 s.
        silence_db: slices whose peak stays below it (dBFS) are left out of a track's mean
            (-60, as ``tunespace embed``; None: every slice counts).
    Returns:
        a :class:`Model`.
    Raises:
        UsageError: no checkpoint there, or not a tunespace checkpoint; a device this machine lacks.

    Example::

        import soundfile as sf, tunespace
        model = tunespace.load_model("runs/ts")
        audio, sr = sf.read("song.ogg")          # any rate, mono or stereo
        v = model.embed(audio, sr)               # (D,)
        tl = model.timeline(audio, sr)           # tl.times_s (T,), tl.embeddings (T, D), tl.loud (T,)
    """
    from .. import pretrained
    from .extract import load_encoder, random_encoder

    device = devices.resolve(device)
    spec = str(path)
    if spec.startswith(pretrained.PREFIX):
        bundle = pretrained.load_bundle(spec, device)
    elif spec.startswith("random:"):
        bundle = random_encoder(spec.split(":", 1)[1] or "small", seed=0, device=device)
    else:
        bundle = load_encoder(path, device)
    return Model(bundle, slice_seconds=slice_seconds, hop_seconds=hop_seconds, device=device, silence_db=silence_db)

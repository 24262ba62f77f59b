"""The HEAR 2021 API (Turian et al., "HEAR: Holistic Evaluation of Audio Representations"), so
that tunespace models run in hear-eval-kit and MARBLE-style evaluations.

Use this module as the HEAR "module name" (``python -m heareval.embeddings.runner tunespace.hear
--model RUN_OR_CHECKPOINT``)::

    from tunespace import hear
    model = hear.load_model("runs/ts")                       # a torch.nn.Module
    scene = hear.get_scene_embeddings(audio, model)          # audio: (n_sounds, n_samples) float32 at 16 kHz
    # (n_sounds, n_timestamps, D) and (n_sounds, n_timestamps) in ms:
    emb, ts = hear.get_timestamp_embeddings(audio, model)

What the API requires, and what tunespace gives:

- ``load_model(model_file_path)`` returns a ``torch.nn.Module`` with the int attributes
  ``sample_rate`` (16000), ``scene_embedding_size`` and ``timestamp_embedding_size`` (D).
- ``get_scene_embeddings(audio, model)``: ``(n_sounds, D)`` float32, each sound's track
  embedding exactly as ``tunespace embed`` computes it (slices of the model's training excerpt
  length, 3 s for the shipped models, every 2 s, mean of the loud ones: see
  :mod:`tunespace.embed.model`).
- ``get_timestamp_embeddings(audio, model)``: ``(n_sounds, n_timestamps, D)`` float32 and
  ``(n_sounds, n_timestamps)`` float32 timestamps in **milliseconds**, regularly spaced every
  ``timestamp_hop_seconds`` (50 ms by default, HEAR's suggestion for event tasks) from 0 to
  the end of the audio. Each timestamp's embedding is that of a slice (3 s for the shipped
  models) *centred* on it,
  zero-padded beyond the ends of the audio.
- Every sound is embedded independently of the others in its batch (tested).

Audio must be at ``model.sample_rate`` (HEAR's contract); mono, values in [-1, 1]. Written
here by hand: only the centring and the shape bookkeeping; the extraction is
:class:`tunespace.embed.model.Model`'s.
"""

from __future__ import annotations

import numpy as np
import torch
from torch import nn

from .embed.model import Model, cut_slices
from .errors import UsageError

#: Spacing of timestamp embeddings (s) unless ``load_model`` is told otherwise.
TIMESTAMP_HOP_SECONDS = 0.05


class HearModel(nn.Module):
    """A tunespace :class:`~tunespace.embed.model.Model` dressed as a HEAR model.

    Attributes:
        sample_rate: input rate, Hz.
        scene_embedding_size, timestamp_embedding_size: D.
        timestamp_hop_seconds: spacing of timestamp embeddings, s.
        model: the wrapped :class:`Model`.
    """

    def __init__(self, model: Model, timestamp_hop_seconds: float = TIMESTAMP_HOP_SECONDS) -> None:
        super().__init__()
        if not (timestamp_hop_seconds > 0 and np.isfinite(timestamp_hop_seconds)):
            raise UsageError(f"timestamp_hop_seconds must be a finite number > 0, got {timestamp_hop_seconds!r}")
        self.model = model
        self.encoder = model.encoder  # registered, so .to(device) moves the weights
        self.sample_rate = int(model.sample_rate)
        self.scene_embedding_size = int(model.dim)
        self.timestamp_embedding_size = int(model.dim)
        self.timestamp_hop_seconds = float(timestamp_hop_seconds)

    def _apply(self, fn, *args, **kwargs):  # noqa: ANN001, ANN202 - keep the wrapped Model's device in step
        out = super()._apply(fn, *args, **kwargs)
        p = next(self.encoder.parameters(), None)
        if p is not None:
            self.model.device = p.device
            self.model.frontend = self.model.frontend.to(p.device)
        return out


def load_model(model_file_path: str = "", timestamp_hop_seconds: float = TIMESTAMP_HOP_SECONDS) -> HearModel:
    """HEAR's ``load_model``: a run folder or checkpoint (``""`` gives a random ``small`` encoder).

    Args:
        model_file_path: what :func:`tunespace.load_model` accepts.
        timestamp_hop_seconds: spacing of timestamp embeddings, s (0.05).
    """
    from .embed.model import load_model as _load

    return HearModel(_load(model_file_path or "random:small"), timestamp_hop_seconds)


def _batch(audio: torch.Tensor | np.ndarray, model: HearModel) -> np.ndarray:
    x = audio.detach().cpu().numpy() if torch.is_tensor(audio) else np.asarray(audio)
    if x.ndim != 2:
        raise UsageError(f"HEAR audio must be (n_sounds, n_samples), got shape {x.shape}")
    if x.shape[1] == 0:
        raise UsageError("HEAR audio holds no samples")
    return np.ascontiguousarray(x, dtype=np.float32)


def get_scene_embeddings(audio: torch.Tensor, model: HearModel) -> torch.Tensor:
    """``(n_sounds, D)`` float32: each sound's track embedding (as ``tunespace embed``)."""
    x = _batch(audio, model)
    out = model.model.embed_batch(x, model.sample_rate)
    return torch.from_numpy(out).to(_device(audio))


def get_timestamp_embeddings(audio: torch.Tensor, model: HearModel) -> tuple[torch.Tensor, torch.Tensor]:
    """Embeddings of the model's slices (``model.slice_seconds``) centred every
    ``model.timestamp_hop_seconds`` from 0 to the end.

    Returns:
        ``(n_sounds, n_timestamps, D)`` float32 embeddings and ``(n_sounds, n_timestamps)``
        float32 timestamps in milliseconds.
    """
    x = _batch(audio, model)
    m = model.model
    sr = m.sample_rate
    duration = x.shape[1] / sr
    n_ts = int(np.floor(duration / model.timestamp_hop_seconds + 1e-9)) + 1
    centres = np.arange(n_ts) * model.timestamp_hop_seconds
    half = m.slice_seconds / 2
    pad = int(round(half * sr))
    starts = [float(c) for c in centres]  # in the left-padded signal a slice centred at c starts at c
    out = np.empty((x.shape[0], n_ts, m.dim), np.float32)
    for i in range(x.shape[0]):
        padded = np.concatenate([np.zeros(pad, np.float32), x[i]])
        out[i] = m.embed_slices(cut_slices(padded, starts, sr, m.slice_seconds))
    ts = np.broadcast_to(centres * 1000.0, (x.shape[0], n_ts)).astype(np.float32)
    dev = _device(audio)
    return torch.from_numpy(out).to(dev), torch.from_numpy(np.ascontiguousarray(ts)).to(dev)


def _device(audio: torch.Tensor | np.ndarray) -> torch.device:
    return audio.device if torch.is_tensor(audio) else torch.device("cpu")


__all__ = ["HearModel", "get_scene_embeddings", "get_timestamp_embeddings", "load_model"]

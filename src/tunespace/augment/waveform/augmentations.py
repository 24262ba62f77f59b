"""The waveform backend's augmentations: each a spec of :mod:`tunespace.augment.base` bound to its function.

One base, :class:`WaveformAugmentation`, holds the sample rate and runs the function of
:mod:`.functional` on each item whose ``applied`` flag is set, with that item's parameters.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ..base import (
    Augmentation,
    EqualiserSpec,
    GainSpec,
    LowPassSpec,
    NoiseSpec,
    Params,
    PitchShiftSpec,
    ReverbSpec,
    TimeStretchSpec,
)
from . import functional as F


class WaveformAugmentation(Augmentation):
    """Base of the waveform backend: augments ``(samples,)`` or ``(B, samples)`` float32 audio item by item.

    Args:
        sample_rate: Hz.
        **spec: ranges and ``p`` of the augmentation's spec (e.g. ``min_rate=0.8``).
    """

    def __init__(self, sample_rate: int = 16000, **spec) -> None:
        super().__init__(**spec)
        self.sample_rate = int(sample_rate)
        self.check_sample_rate(self.sample_rate)

    def transform(self, x: np.ndarray, item: dict[str, Any]) -> np.ndarray:
        """One ``(samples,)`` signal augmented with one item's parameters (numpy scalars / ``(K,)`` arrays)."""
        raise NotImplementedError

    def apply(self, x: np.ndarray, params: Params) -> np.ndarray:
        """``x``: ``(samples,)`` (one item) or ``(B, samples)``; params with ``applied`` of length 1 or B.

        Returns float32 of ``x``'s shape; items not applied are copied unchanged.
        """
        x = np.asarray(x, dtype=np.float32)
        rows = x[None] if x.ndim == 1 else x
        applied = np.asarray(params["applied"], dtype=bool).reshape(-1)
        if applied.shape[0] != rows.shape[0]:
            raise ValueError(f"params for {applied.shape[0]} items, audio has {rows.shape[0]}")
        values = {k: np.asarray(v) for k, v in params.items() if k != "applied"}
        out = rows.copy()
        for i in np.flatnonzero(applied):
            out[i] = self.transform(rows[i], {k: v[i] if v.ndim else v[()] for k, v in values.items()})
        return out[0] if x.ndim == 1 else out


class TimeStretch(WaveformAugmentation, TimeStretchSpec):
    """Rubber Band time-stretch by ``rate``, length kept, centre aligned (:func:`.functional.time_stretch`)."""

    def transform(self, x: np.ndarray, item: dict[str, Any]) -> np.ndarray:
        return F.time_stretch(x, item["rate"], self.sample_rate)


class PitchShift(WaveformAugmentation, PitchShiftSpec):
    """Rubber Band pitch-shift by ``semitones`` (:func:`.functional.pitch_shift`)."""

    def transform(self, x: np.ndarray, item: dict[str, Any]) -> np.ndarray:
        return F.pitch_shift(x, item["semitones"], self.sample_rate)


class Equaliser(WaveformAugmentation, EqualiserSpec):
    """Peaking biquads and two shelves (:func:`.functional.eq`)."""

    def transform(self, x: np.ndarray, item: dict[str, Any]) -> np.ndarray:
        return F.eq(
            x,
            item["peak_freq_hz"],
            item["peak_gain_db"],
            item["peak_q"],
            item["low_shelf_freq_hz"],
            item["low_shelf_gain_db"],
            item["high_shelf_freq_hz"],
            item["high_shelf_gain_db"],
            sample_rate=self.sample_rate,
        )


class LowPass(WaveformAugmentation, LowPassSpec):
    """First-order low-pass at ``cutoff_hz`` (:func:`.functional.low_pass`)."""

    def transform(self, x: np.ndarray, item: dict[str, Any]) -> np.ndarray:
        return F.low_pass(x, item["cutoff_hz"], sample_rate=self.sample_rate)


class Gain(WaveformAugmentation, GainSpec):
    """Broadband gain of ``gain_db`` (:func:`.functional.gain`)."""

    def transform(self, x: np.ndarray, item: dict[str, Any]) -> np.ndarray:
        return F.gain(x, item["gain_db"])


class Noise(WaveformAugmentation, NoiseSpec):
    """White noise at ``snr_db``, drawn from ``noise_seed`` (:func:`.functional.noise`)."""

    def transform(self, x: np.ndarray, item: dict[str, Any]) -> np.ndarray:
        return F.noise(x, item["snr_db"], item["noise_seed"])


class Reverb(WaveformAugmentation, ReverbSpec):
    """Freeverb with ``room_size`` and ``wet_level`` (:func:`.functional.reverb`)."""

    def transform(self, x: np.ndarray, item: dict[str, Any]) -> np.ndarray:
        return F.reverb(x, item["room_size"], item["wet_level"], sample_rate=self.sample_rate)


#: The waveform backend's augmentations by type.
AUGMENTATIONS: dict[str, type[WaveformAugmentation]] = {
    cls.kind: cls for cls in (TimeStretch, PitchShift, Equaliser, LowPass, Gain, Noise, Reverb)
}

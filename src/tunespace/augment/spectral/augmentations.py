"""The spectral backend's augmentations: each a spec of :mod:`tunespace.augment.base` bound to its function.

One base, :class:`SpectralAugmentation`, holds the front end and the per-item ``applied``
mask; each augmentation only says which function of :mod:`.functional` it calls. The linear
ones also expose the linear map they apply, already masked (items not applied get the
identity), which is what the fused path (:mod:`.fused`) composes:
:meth:`TimeStretch.positions`, :meth:`PitchShift.positions` and
:meth:`FrequencyWeighting.weights` (EQ, low-pass, gain).
"""

from __future__ import annotations

from typing import ClassVar

import torch

from ...errors import ConfigError
from ...features.logmel import FrontEnd
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


class SpectralAugmentation(Augmentation):
    """Base of the spectral backend: per-item augmentation of ``(B, F, T)`` power spectrograms.

    Args:
        frontend: front-end settings (sample rate, n_fft, win_length, the magnitude exponent
            ``power``); default: the base model's.
        **spec: ranges and ``p`` of the augmentation's spec (e.g. ``min_rate=0.8``).
    """

    #: True where the function needs ``|X| ** 2`` power (``frontend.power == 2``).
    needs_squared_magnitude: ClassVar[bool] = False
    #: True where the training pipeline applies it to the cropped excerpt's mel power, after the
    #: others (:class:`Reverb`), instead of to the whole window's bins.
    on_excerpt: ClassVar[bool] = False

    def __init__(self, frontend: FrontEnd | None = None, **spec) -> None:
        super().__init__(**spec)
        self.frontend = frontend or FrontEnd()
        self.check_sample_rate(self.frontend.sample_rate)
        if self.needs_squared_magnitude and self.frontend.power != 2.0:
            raise ConfigError(f"augment.{self.kind}: the spectral backend needs frontend.power = 2")

    def transform(self, power: torch.Tensor, params: Params) -> torch.Tensor:
        """Every item of ``(B, F, T)`` ``power`` augmented with its parameters (``applied`` ignored)."""
        raise NotImplementedError

    def applied(self, params: Params, like: torch.Tensor) -> torch.Tensor:
        """``(B,)`` bool on ``like``'s device: the items to augment."""
        return F.per_item(params["applied"], like, torch.bool).reshape(-1)

    def apply(self, x: torch.Tensor, params: Params) -> torch.Tensor:
        """``x``: ``(B, F, T)`` power -> ``(B, F, T)``; items not ``applied`` are returned unchanged."""
        return torch.where(self.applied(params, x)[:, None, None], self.transform(x, params), x)


class TimeStretch(SpectralAugmentation, TimeStretchSpec):
    """Time-stretch by ``rate`` (:func:`.functional.time_stretch`)."""

    def transform(self, power: torch.Tensor, params: Params) -> torch.Tensor:
        return F.time_stretch(power, params["rate"])

    def positions(self, params: Params, like: torch.Tensor, n_in: int, frames: torch.Tensor) -> torch.Tensor:
        """``(B, len(frames))`` input frames read (rate 1 where not applied)."""
        rate = F.per_item(params["rate"], like)
        rate = torch.where(self.applied(params, like), rate, torch.ones_like(rate))
        return F.time_stretch_positions(rate, n_in, frames)


class PitchShift(SpectralAugmentation, PitchShiftSpec):
    """Pitch-shift by ``semitones`` (:func:`.functional.pitch_shift`)."""

    def transform(self, power: torch.Tensor, params: Params) -> torch.Tensor:
        return F.pitch_shift(power, params["semitones"])

    def positions(self, params: Params, like: torch.Tensor) -> torch.Tensor:
        """``(B, F)`` input bins read by each output bin (the bin itself where not applied)."""
        n_freqs = like.shape[1]
        pos = F.pitch_shift_positions(F.per_item(params["semitones"], like), n_freqs)
        k = torch.arange(n_freqs, device=like.device, dtype=torch.float32)
        return torch.where(self.applied(params, like)[:, None], pos, k[None].expand(like.shape[0], n_freqs))


class FrequencyWeighting(SpectralAugmentation):
    """An augmentation that multiplies each bin by a per-item factor (EQ, low-pass, gain)."""

    def response(self, params: Params, like: torch.Tensor) -> torch.Tensor:
        """``(B, F)`` power factors of every item (``like``: the ``(B, F, T)`` power)."""
        raise NotImplementedError

    def transform(self, power: torch.Tensor, params: Params) -> torch.Tensor:
        return power * self.response(params, power)[:, :, None]

    def weights(self, params: Params, like: torch.Tensor) -> torch.Tensor:
        """:meth:`response`, with 1 for items not applied."""
        g = self.response(params, like)
        return torch.where(self.applied(params, like)[:, None], g, torch.ones_like(g))


class Equaliser(FrequencyWeighting, EqualiserSpec):
    """Random EQ (:func:`.functional.eq`)."""

    def response(self, params: Params, like: torch.Tensor) -> torch.Tensor:
        fe = self.frontend
        return F.eq_response(
            like,
            params["peak_freq_hz"],
            params["peak_gain_db"],
            params["peak_q"],
            params["low_shelf_freq_hz"],
            params["low_shelf_gain_db"],
            params["high_shelf_freq_hz"],
            params["high_shelf_gain_db"],
            sample_rate=fe.sample_rate,
            n_fft=fe.n_fft,
            magnitude_power=fe.power,
        )


class LowPass(FrequencyWeighting, LowPassSpec):
    """First-order low-pass at ``cutoff_hz`` (:func:`.functional.low_pass`)."""

    def response(self, params: Params, like: torch.Tensor) -> torch.Tensor:
        fe = self.frontend
        return F.low_pass_response(
            like, params["cutoff_hz"], sample_rate=fe.sample_rate, n_fft=fe.n_fft, magnitude_power=fe.power
        )


class Gain(FrequencyWeighting, GainSpec):
    """Broadband gain of ``gain_db`` (:func:`.functional.gain`)."""

    def response(self, params: Params, like: torch.Tensor) -> torch.Tensor:
        return F.gain_response(params["gain_db"], like, self.frontend.power)


class Noise(SpectralAugmentation, NoiseSpec):
    """White noise at ``snr_db``, seeded by ``noise_seed`` (:func:`.functional.noise`)."""

    needs_squared_magnitude = True

    def transform(self, power: torch.Tensor, params: Params) -> torch.Tensor:
        return F.noise(
            power,
            params["snr_db"],
            params["noise_seed"],
            n_fft=self.frontend.n_fft,
            win_length=self.frontend.win_length,
        )


class Reverb(SpectralAugmentation, ReverbSpec):
    """Late reverberation, T60 from ``room_size`` (:func:`.functional.reverb_t60`), at ``wet_level``
    (:func:`.functional.reverb`).

    It acts on the excerpt itself: the training pipeline applies it after the centre crop, on
    the mel power (equal to applying it to the bins: its decay is the same in every band), in
    the fused and the unfused path alike, so the room hears only the excerpt, as a listener would
    hear the excerpt played in it."""

    needs_squared_magnitude = True
    on_excerpt = True

    def transform(self, power: torch.Tensor, params: Params) -> torch.Tensor:
        frame_s = self.frontend.hop_length / self.frontend.sample_rate
        t60 = F.reverb_t60(F.per_item(params["room_size"], power))
        return F.reverb(power, t60, params["wet_level"], frame_s=frame_s)


#: The spectral backend's augmentations by type.
AUGMENTATIONS: dict[str, type[SpectralAugmentation]] = {
    cls.kind: cls for cls in (TimeStretch, PitchShift, Equaliser, LowPass, Gain, Noise, Reverb)
}

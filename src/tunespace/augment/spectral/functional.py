"""Spectral augmentations as plain functions of a batch of power spectrograms (written here).

Every function takes a linear power spectrogram ``power`` of shape ``(B, F, T)``
(``|STFT| ** magnitude_power``, ``F = n_fft // 2 + 1`` bins, ``T`` frames; see
``LogMel.power``) and per-item parameters: a number (the same for every item), or a sequence /
numpy array / tensor of ``B`` values (``(B, K)`` for the EQ peaks). It returns a new
``(B, F, T)`` float32 tensor on ``power``'s device. A function's ``*_response`` (``(B, F)``
power factors) or ``*_positions`` (``(B, N)`` fractional indices) is the linear map it
applies. Units: rates are dimensionless (``> 1`` faster), pitch in semitones, gains in dB,
frequencies in Hz, SNR in dB.

No library does these on a batch of power spectrograms with per-item parameters (torchaudio's
``phase_vocoder`` stretches complex spectrograms at one rate per call; its pitch-shift and
biquads work on waveforms), so they are written here:

- :func:`time_stretch`: each item's frames read at ``c + (t - c) * rate`` (centre ``c`` fixed),
  linear interpolation, zero outside the input. Partials do not move, so pitch is unchanged;
  onsets smear by at most a frame.
- :func:`pitch_shift`: output bin ``k`` reads the input at bin ``k / 2 ** (semitones / 12)``,
  linear interpolation; above Nyquist reads zero. A partial at ``f`` moves to ``s * f`` and
  keeps its peak height; duration and onsets are unchanged.
- :func:`eq`, :func:`low_pass`: multiplication by the exact power response of the filters the
  waveform backend runs (:mod:`tunespace.augment.biquad`) at the STFT bin frequencies; equal
  to filtering where the response varies little within a bin (true for Q <= 4 at n_fft 2048).
- :func:`gain`: multiplication by ``10 ** (gain_db * magnitude_power / 20)``.
- :func:`noise`: adds exponentially distributed white-noise power (needs ``magnitude_power = 2``).
- :func:`reverb`: late reverberation in the power domain: each band's power convolved along
  time with an exponentially decaying kernel (the expected power of a signal convolved with
  exponentially decaying noise), mixed with the dry power; causal, frequency-independent decay.

The fused path (:mod:`.fused`) composes the ``*_positions`` and ``*_response`` maps into one
per-item mel matrix.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch

from .. import biquad


def per_item(values: Any, like: torch.Tensor, dtype: torch.dtype = torch.float32) -> torch.Tensor:
    """Per-item parameters as a tensor on ``like``'s device: ``(B, ...)``; a number becomes ``(B,)``."""
    if isinstance(values, torch.Tensor):
        v = values.to(device=like.device, dtype=dtype)
    else:
        np_dtype = np.float32 if dtype == torch.float32 else None
        v = torch.as_tensor(np.asarray(values, dtype=np_dtype), device=like.device).to(dtype)
    return v.expand(like.shape[0]) if v.dim() == 0 else v


def _float64(values: Any, n: int) -> np.ndarray:
    """Per-item parameters as float64 numpy (filter design runs in float64 on the CPU)."""
    v = np.asarray(values.cpu() if isinstance(values, torch.Tensor) else values, dtype=np.float64)
    return np.broadcast_to(v, (n,)) if v.ndim == 0 else v


def resample_axis(x: torch.Tensor, pos: torch.Tensor, dim: int) -> torch.Tensor:
    """Read ``x`` at fractional positions along ``dim`` with linear interpolation.

    Args:
        x: ``(B, F, T)``.
        pos: ``(B, N)`` fractional indices into axis ``dim`` (1 = frequency, 2 = time);
            positions outside ``[0, size - 1]`` read zero.
        dim: 1 or 2.
    Returns:
        ``(B, F, N)`` for ``dim=2``, ``(B, N, T)`` for ``dim=1``.
    """
    size = x.shape[dim]
    valid = (pos >= 0) & (pos <= size - 1)
    p = pos.clamp(0, size - 1)
    i0 = p.floor().long().clamp(max=size - 2) if size > 1 else p.floor().long()
    w = p - i0.to(p.dtype)
    i1 = (i0 + 1).clamp(max=size - 1)
    w = torch.where(valid, w, torch.zeros_like(w))
    if dim == 2:
        shape = (x.shape[0], x.shape[1], pos.shape[1])
        g0 = torch.gather(x, 2, i0[:, None, :].expand(shape))
        g1 = torch.gather(x, 2, i1[:, None, :].expand(shape))
        out = g0 + (g1 - g0) * w[:, None, :]
        return out * valid[:, None, :]
    shape = (x.shape[0], pos.shape[1], x.shape[2])
    g0 = torch.gather(x, 1, i0[:, :, None].expand(shape))
    g1 = torch.gather(x, 1, i1[:, :, None].expand(shape))
    out = g0 + (g1 - g0) * w[:, :, None]
    return out * valid[:, :, None]


def time_stretch_positions(rate: torch.Tensor, n_in: int, frames: torch.Tensor | None = None) -> torch.Tensor:
    """Input frame read by each output frame: ``c + (t - c) * rate``, ``c = (n_in - 1) / 2``.

    Args:
        rate: ``(B,)`` float32 rates.
        n_in: input frames.
        frames: output frame numbers ``t`` (float32, ``(N,)``); default all ``n_in``.
    Returns:
        ``(B, N)`` fractional input frames.
    """
    t = frames if frames is not None else torch.arange(n_in, device=rate.device, dtype=torch.float32)
    c = (n_in - 1) / 2.0
    return c + (t[None, :] - c) * rate[:, None]


def time_stretch(power: torch.Tensor, rate: Any) -> torch.Tensor:
    """Time-stretch each item by ``rate`` (``> 1`` faster), centre frame fixed. ``(B, F, T) -> (B, F, T)``."""
    return resample_axis(power, time_stretch_positions(per_item(rate, power), power.shape[2]), 2)


def pitch_shift_positions(semitones: torch.Tensor, n_freqs: int) -> torch.Tensor:
    """Input bin read by each output bin: ``k / 2 ** (semitones / 12)``; ``(B,) -> (B, n_freqs)``."""
    factor = torch.exp2(semitones / 12.0)
    k = torch.arange(n_freqs, device=semitones.device, dtype=torch.float32)
    return k[None, :] / factor[:, None]


def pitch_shift(power: torch.Tensor, semitones: Any) -> torch.Tensor:
    """Pitch-shift each item by ``semitones`` (positive = up), duration unchanged. ``(B, F, T) -> (B, F, T)``."""
    return resample_axis(power, pitch_shift_positions(per_item(semitones, power), power.shape[1]), 1)


def gain_response(gain_db: Any, like: torch.Tensor, magnitude_power: float = 2.0) -> torch.Tensor:
    """Power factor of a broadband gain at every bin: ``(B, F)`` of ``10 ** (gain_db * magnitude_power / 20)``."""
    factor = torch.pow(10.0, per_item(gain_db, like) * (magnitude_power / 20.0))
    return factor[:, None].expand(like.shape[0], like.shape[1])


def gain(power: torch.Tensor, gain_db: Any, magnitude_power: float = 2.0) -> torch.Tensor:
    """Broadband gain of ``gain_db`` dB per item. ``(B, F, T) -> (B, F, T)``."""
    return power * gain_response(gain_db, power, magnitude_power)[:, :, None]


def filter_response(
    sos: np.ndarray,
    n_freqs: int,
    sample_rate: float,
    n_fft: int,
    magnitude_power: float = 2.0,
    device: torch.device | str = "cpu",
) -> torch.Tensor:
    """Power factor of cascaded sections at the STFT bin frequencies ``k * sample_rate / n_fft``.

    Args:
        sos: ``(B, n_sections, 6)`` float64 sections (:mod:`tunespace.augment.biquad`).
        n_freqs: bins (``n_fft // 2 + 1``).
        sample_rate: Hz; n_fft: samples.
        magnitude_power: the spectrogram's exponent of ``|X|`` (the response is ``|H| ** magnitude_power``).
    Returns:
        ``(B, n_freqs)`` float32 on ``device``.
    """
    freqs = torch.arange(n_freqs, dtype=torch.float64) * (sample_rate / n_fft)
    curve = biquad.power_response(torch.from_numpy(sos), freqs, sample_rate).to(device=device, dtype=torch.float32)
    return curve.pow(magnitude_power / 2.0) if magnitude_power != 2.0 else curve


def eq_response(
    like: torch.Tensor,
    peak_freq_hz: Any,
    peak_gain_db: Any,
    peak_q: Any,
    low_shelf_freq_hz: Any,
    low_shelf_gain_db: Any,
    high_shelf_freq_hz: Any,
    high_shelf_gain_db: Any,
    *,
    sample_rate: float,
    n_fft: int,
    magnitude_power: float = 2.0,
) -> torch.Tensor:
    """Power factor ``(B, F)`` of the EQ of :func:`eq` (same arguments; ``like`` gives B, F and the device)."""
    n = like.shape[0]
    peaks = [
        np.asarray(v.cpu() if isinstance(v, torch.Tensor) else v, dtype=np.float64)
        for v in (peak_freq_hz, peak_gain_db, peak_q)
    ]
    peaks = [np.broadcast_to(v, (n, v.shape[0])) if v.ndim == 1 else v for v in peaks]
    shelves = [_float64(v, n) for v in (low_shelf_freq_hz, low_shelf_gain_db, high_shelf_freq_hz, high_shelf_gain_db)]
    sos = biquad.equaliser_sos(*peaks, *shelves, float(sample_rate))
    return filter_response(sos, like.shape[1], float(sample_rate), n_fft, magnitude_power, like.device)


def eq(
    power: torch.Tensor,
    peak_freq_hz: Any,
    peak_gain_db: Any,
    peak_q: Any,
    low_shelf_freq_hz: Any,
    low_shelf_gain_db: Any,
    high_shelf_freq_hz: Any,
    high_shelf_gain_db: Any,
    *,
    sample_rate: float,
    n_fft: int,
    magnitude_power: float = 2.0,
) -> torch.Tensor:
    """Equalise each item: peaking filters (Hz, dB, Q; ``(B, K)``, or ``(K,)`` for every item), a low and
    a high shelf (Hz, dB; ``(B,)`` or a number).

    The RBJ sections of :func:`tunespace.augment.biquad.equaliser_sos` (shelf Q 1/sqrt(2)),
    applied as their power response. ``sample_rate`` (Hz) and ``n_fft`` are the STFT's.
    ``(B, F, T) -> (B, F, T)``.
    """
    curve = eq_response(
        power,
        peak_freq_hz,
        peak_gain_db,
        peak_q,
        low_shelf_freq_hz,
        low_shelf_gain_db,
        high_shelf_freq_hz,
        high_shelf_gain_db,
        sample_rate=sample_rate,
        n_fft=n_fft,
        magnitude_power=magnitude_power,
    )
    return power * curve[:, :, None]


def low_pass_response(
    like: torch.Tensor, cutoff_hz: Any, *, sample_rate: float, n_fft: int, magnitude_power: float = 2.0
) -> torch.Tensor:
    """Power factor ``(B, F)`` of the first-order low-pass of :func:`low_pass`."""
    sos = biquad.first_order_low_pass(_float64(cutoff_hz, like.shape[0]), float(sample_rate))[:, None, :]
    return filter_response(sos, like.shape[1], float(sample_rate), n_fft, magnitude_power, like.device)


def low_pass(
    power: torch.Tensor, cutoff_hz: Any, *, sample_rate: float, n_fft: int, magnitude_power: float = 2.0
) -> torch.Tensor:
    """First-order low-pass (-3 dB at ``cutoff_hz`` Hz, 6 dB/octave) of each item. ``(B, F, T) -> (B, F, T)``."""
    curve = low_pass_response(power, cutoff_hz, sample_rate=sample_rate, n_fft=n_fft, magnitude_power=magnitude_power)
    return power * curve[:, :, None]


def noise(power: torch.Tensor, snr_db: Any, noise_seed: Any, *, n_fft: int, win_length: int) -> torch.Tensor:
    """Add white noise at ``snr_db`` dB below each item's mean signal power; ``(B, F, T) -> (B, F, T)``.

    White Gaussian noise of variance ``s2`` has, per STFT bin (periodic Hann window of
    ``win_length`` samples), power exponentially distributed with mean ``s2 * sum(window ** 2)``;
    the signal variance is estimated from ``power`` by Parseval (two-sided sum over bins /
    ``(n_fft * sum(window ** 2))``, averaged over frames). Adding powers is right in
    expectation (signal and noise are uncorrelated). Needs ``|X| ** 2`` power. ``noise_seed``
    (int, per item) seeds each item's noise, so a replay gives the same noise.
    """
    win_energy = float(torch.hann_window(win_length, periodic=True).square().sum())
    weights = torch.full((power.shape[1],), 2.0, device=power.device)
    weights[0] = 1.0
    if n_fft % 2 == 0:
        weights[-1] = 1.0
    signal_var = (power * weights[None, :, None]).sum(1).mean(1) / (n_fft * win_energy)
    noise_var = signal_var / torch.pow(10.0, per_item(snr_db, power) / 10.0)
    seeds = np.asarray(
        noise_seed.cpu() if isinstance(noise_seed, torch.Tensor) else noise_seed, dtype=np.int64
    ).reshape(-1)
    seeds = np.broadcast_to(seeds, (power.shape[0],))
    unit = torch.empty_like(power)
    for i, seed in enumerate(seeds):
        g = torch.Generator(device=power.device).manual_seed(int(seed))
        unit[i].exponential_(1.0, generator=g)
    return power + unit * (noise_var * win_energy)[:, None, None]


#: Power decay of 60 dB as a natural log: ``ln(10 ** 6)``.
_LN_60_DB = float(np.log(1e6))


def reverb_t60(room_size: Any) -> Any:
    """Decay time T60 (seconds) of the spectral reverb for a ``room_size`` in [0, 1]:
    ``0.3 + 2 * room_size`` (0.3 s, a small room, to 2.3 s, a hall). Freeverb's room size
    (the waveform backend) is a feedback gain, not a time; this maps the same range onto
    decay times of rooms."""
    return 0.3 + 2.0 * room_size


def reverb(power: torch.Tensor, t60_s: Any, wet_level: Any, *, frame_s: float) -> torch.Tensor:
    """Late reverberation of ``(B, C, T)`` power (``C`` bins or mel bands) -> ``(B, C, T)``.

    The wet part is each band's power convolved along time with the kernel
    ``exp(-ln(10**6) * tau / t60_s)`` over lags ``tau = 0, frame_s, ...`` (a 60 dB power decay
    after ``t60_s`` seconds), normalised to unit sum over the ``T`` frames (so a short sound
    keeps its energy, spread in time); the output is ``(1 - wet) ** 2 * power + wet ** 2 *
    wet_part`` (amplitude levels as powers; dry and wet add in power, being uncorrelated in
    expectation). Causal: nothing before a frame reaches it, and sound before the first frame
    is not there to reverberate. The decay is the same in every band, so the map is linear
    along time only: applying it to bins and then projecting to mel bands equals applying it
    to mel bands. Needs ``|X| ** 2`` power.

    Args:
        power: ``(B, C, T)`` non-negative power.
        t60_s: decay time per item, seconds (> 0).
        wet_level: wet amplitude level per item, in [0, 1].
        frame_s: time between frames, seconds (``hop_length / sample_rate``).
    """
    b, c, t = power.shape
    t60 = per_item(t60_s, power).reshape(-1)
    wet = per_item(wet_level, power).reshape(-1)
    lags = torch.arange(t, device=power.device, dtype=torch.float32) * float(frame_s)
    kernel = torch.exp(-_LN_60_DB * lags[None, :] / t60[:, None])  # (B, T)
    kernel = kernel / kernel.sum(1, keepdim=True)
    n = 2 * t  # no circular wrap-around for lags below T
    spectrum = torch.fft.rfft(power.float(), n=n) * torch.fft.rfft(kernel, n=n)[:, None, :]
    tail = torch.fft.irfft(spectrum, n=n)[..., :t].clamp_min(0.0)
    return (1 - wet)[:, None, None] ** 2 * power + wet[:, None, None] ** 2 * tail

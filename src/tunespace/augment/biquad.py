"""Filter designs shared by both backends: RBJ "Audio EQ Cookbook" biquads and a first-order low-pass.

Both backends use the same filter design: the ``waveform`` backend filters the signal with
these coefficients (``scipy.signal.sosfilt``; the low-pass with pedalboard, whose JUCE filter
has exactly the coefficients of :func:`first_order_low_pass`), the ``spectral`` backend
multiplies the power spectrogram by their exact squared magnitude response at the STFT bin
frequencies (:func:`power_response`). The coefficient formulas are the cookbook's
(R. Bristow-Johnson) and JUCE's ``makeFirstOrderLowPass``; scipy has no vectorised
peaking/shelf designer, so they are written here.

Sections are arrays ``(..., 6)``: ``[b0, b1, b2, 1, a1, a2]`` (normalised, ``a0 = 1``).
"""

from __future__ import annotations

import numpy as np
import torch

#: Q of the EQ's shelves (Butterworth-like, no overshoot).
SHELF_Q = 1.0 / np.sqrt(2.0)


def _common(freq_hz: np.ndarray, gain_db: np.ndarray, q: np.ndarray | float, sample_rate: float):
    a = 10.0 ** (np.asarray(gain_db, dtype=np.float64) / 40.0)
    w0 = 2.0 * np.pi * np.asarray(freq_hz, dtype=np.float64) / sample_rate
    alpha = np.sin(w0) / (2.0 * np.asarray(q, dtype=np.float64))
    return a, np.cos(w0), alpha


def peaking(freq_hz: np.ndarray, gain_db: np.ndarray, q: np.ndarray, sample_rate: float) -> np.ndarray:
    """Peaking-filter coefficients.

    Args:
        freq_hz: centre frequencies, Hz, any shape ``S``.
        gain_db: gain at the centre, dB, shape ``S``.
        q: quality factor, shape ``S``.
        sample_rate: Hz.
    Returns:
        ``S + (6,)`` normalised second-order sections ``[b0, b1, b2, 1, a1, a2]``.
    """
    a, cw, alpha = _common(freq_hz, gain_db, q, sample_rate)
    b = [1 + alpha * a, -2 * cw, 1 - alpha * a]
    den = [1 + alpha / a, -2 * cw, 1 - alpha / a]
    return _sos(b, den)


def low_shelf(freq_hz: np.ndarray, gain_db: np.ndarray, q: np.ndarray | float, sample_rate: float) -> np.ndarray:
    """Low-shelf coefficients (gain ``gain_db`` dB below ``freq_hz`` Hz); same shapes as :func:`peaking`."""
    a, cw, alpha = _common(freq_hz, gain_db, q, sample_rate)
    s = 2 * np.sqrt(a) * alpha
    b = [a * ((a + 1) - (a - 1) * cw + s), 2 * a * ((a - 1) - (a + 1) * cw), a * ((a + 1) - (a - 1) * cw - s)]
    den = [(a + 1) + (a - 1) * cw + s, -2 * ((a - 1) + (a + 1) * cw), (a + 1) + (a - 1) * cw - s]
    return _sos(b, den)


def high_shelf(freq_hz: np.ndarray, gain_db: np.ndarray, q: np.ndarray | float, sample_rate: float) -> np.ndarray:
    """High-shelf coefficients (gain ``gain_db`` dB above ``freq_hz`` Hz); same shapes as :func:`peaking`."""
    a, cw, alpha = _common(freq_hz, gain_db, q, sample_rate)
    s = 2 * np.sqrt(a) * alpha
    b = [a * ((a + 1) + (a - 1) * cw + s), -2 * a * ((a - 1) + (a + 1) * cw), a * ((a + 1) + (a - 1) * cw - s)]
    den = [(a + 1) - (a - 1) * cw + s, 2 * ((a - 1) - (a + 1) * cw), (a + 1) - (a - 1) * cw - s]
    return _sos(b, den)


def _sos(b: list, den: list) -> np.ndarray:
    b0, b1, b2 = (np.asarray(v, dtype=np.float64) for v in b)
    a0, a1, a2 = (np.asarray(v, dtype=np.float64) for v in den)
    return np.stack([b0 / a0, b1 / a0, b2 / a0, np.ones_like(a0), a1 / a0, a2 / a0], axis=-1)


def first_order_low_pass(cutoff_hz: np.ndarray, sample_rate: float) -> np.ndarray:
    """First-order low-pass (bilinear, pre-warped; -3 dB at ``cutoff_hz``, 6 dB/octave, zero at Nyquist).

    The coefficients of JUCE's ``IIR::Coefficients::makeFirstOrderLowPass``, which
    ``pedalboard.LowpassFilter`` runs. Args: ``cutoff_hz`` Hz, any shape ``S``; ``sample_rate``
    Hz. Returns ``S + (6,)`` sections (``b2 = a2 = 0``).
    """
    n = np.tan(np.pi * np.asarray(cutoff_hz, dtype=np.float64) / sample_rate)
    return _sos([n, n, 0.0 * n], [n + 1.0, n - 1.0, 0.0 * n])


def equaliser_sos(
    peak_freq_hz: np.ndarray,
    peak_gain_db: np.ndarray,
    peak_q: np.ndarray,
    low_shelf_freq_hz: np.ndarray,
    low_shelf_gain_db: np.ndarray,
    high_shelf_freq_hz: np.ndarray,
    high_shelf_gain_db: np.ndarray,
    sample_rate: float,
    shelf_q: float = SHELF_Q,
) -> np.ndarray:
    """The EQ's sections: peaking filters, then a low shelf, then a high shelf.

    Args:
        peak_freq_hz, peak_gain_db, peak_q: Hz, dB, Q of the peaks, shape ``S + (K,)``.
        low_shelf_freq_hz, low_shelf_gain_db, high_shelf_freq_hz, high_shelf_gain_db: Hz, dB, shape ``S``.
        sample_rate: Hz.
        shelf_q: Q of both shelves.
    Returns:
        ``S + (K + 2, 6)`` sections.
    """
    low = low_shelf(low_shelf_freq_hz, low_shelf_gain_db, shelf_q, sample_rate)[..., None, :]
    high = high_shelf(high_shelf_freq_hz, high_shelf_gain_db, shelf_q, sample_rate)[..., None, :]
    return np.concatenate([peaking(peak_freq_hz, peak_gain_db, peak_q, sample_rate), low, high], axis=-2)


def power_response(sos: torch.Tensor, freqs_hz: torch.Tensor, sample_rate: float) -> torch.Tensor:
    """Squared magnitude response of cascaded sections at given frequencies.

    Args:
        sos: ``(..., n_sections, 6)`` sections (``a0 = 1``).
        freqs_hz: ``(F,)`` frequencies, Hz.
        sample_rate: Hz.
    Returns:
        ``(..., F)`` product over sections of ``|H(e^{jw})|**2`` (linear power ratio).
    """
    w = 2.0 * torch.pi * freqs_hz.to(sos.dtype) / sample_rate
    c1, c2 = torch.cos(w), torch.cos(2.0 * w)

    def mag2(x0: torch.Tensor, x1: torch.Tensor, x2: torch.Tensor) -> torch.Tensor:
        x0, x1, x2 = x0[..., None], x1[..., None], x2[..., None]
        return x0 * x0 + x1 * x1 + x2 * x2 + 2 * (x0 * x1 + x1 * x2) * c1 + 2 * x0 * x2 * c2

    num = mag2(sos[..., 0], sos[..., 1], sos[..., 2])
    den = mag2(sos[..., 3], sos[..., 4], sos[..., 5])
    return (num / den).prod(dim=-2)

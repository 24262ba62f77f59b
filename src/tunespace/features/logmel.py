"""Log-mel front end of the base model (MULE, McCallum et al. 2022).

16 kHz audio; STFT with ``n_fft`` 2048, a 400-sample (25 ms) periodic Hann window zero-padded
to ``n_fft`` and centred (as ``torch.stft`` with ``win_length`` and ``librosa.stft`` do), hop
160 samples (10 ms); power 2; 96 HTK mel bands from 0 to 8000 Hz; compression
``log10(1 + 10000 * x)``.

The STFT runs in torch on the input's device (``torch.stft``); the mel filter bank is
``librosa.filters.mel(htk=True, norm=...)``. The filter-bank normalisation and the padding
mode of the released MULE front end are not documented in the paper; we use librosa's
defaults (``norm="slaney"``, ``pad_mode="constant"``), both configurable in :class:`FrontEnd`.

The steps are public and separate (:meth:`LogMel.power`, :meth:`LogMel.mel`,
:meth:`LogMel.compress`) because the ``spectral`` augmentation backend acts on the linear
power spectrogram between them.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

from ..config import Section, check_keys, setting
from ..errors import ConfigError
from .banded import banded_matmul, row_groups


@dataclass(frozen=True)
class FrontEnd:
    """Settings of the log-mel front end (the trainer config's ``frontend`` section).

    Each field is a config setting (:func:`tunespace.config.setting`): its default, unit and
    documentation are here, its type the annotation; :data:`FRONTEND` is the section made of
    them, and ``docs/config.md`` lists them. Out-of-range values raise ConfigError naming
    ``frontend.<field>``.
    """

    sample_rate: int = setting(16000, "input sample rate; audio is resampled to it", unit="Hz", min=1)
    n_fft: int = setting(2048, "FFT size; the spectrogram has n_fft // 2 + 1 bins", unit="samples", min=1)
    win_length: int = setting(
        400, "Hann window length, zero-padded to n_fft and centred; at most n_fft", unit="samples", min=1
    )
    hop_length: int = setting(160, "hop between frames", unit="samples", min=1)
    n_mels: int = setting(96, "number of mel bands", unit="bands", min=1)
    f_min: float = setting(0.0, "lowest mel band edge; below f_max", unit="Hz", min=0)
    f_max: float = setting(8000.0, "highest mel band edge; at most sample_rate / 2", unit="Hz", min=0, min_open=True)
    power: float = setting(2.0, "exponent of the magnitude (2: power spectrogram)", min=0, min_open=True)
    htk: bool = setting(True, "HTK mel scale (true) or Slaney's (false)")
    mel_norm: str | None = setting(
        "slaney", "filter normalisation passed to librosa.filters.mel (slaney, or null: none)", choices=("slaney",)
    )
    log_scale: float = setting(10000.0, "c in the compression log10(1 + c * x)", min=0, min_open=True)
    center: bool = setting(True, "pad the signal so that frame t is centred at sample t * hop_length")
    pad_mode: str = setting("constant", "padding mode when centring", choices=("constant", "reflect"))
    chroma_bins: int = setting(
        0,
        "pitch-class bands appended below the mel bands (librosa.filters.chroma up to f_max, compressed like them; "
        "0: none, 12: one per semitone). The input height becomes n_mels + chroma_bins",
        unit="bands",
        min=0,
    )

    mel_product: str = setting(
        "banded",
        "how the filter bank multiplies the power spectrogram on the CPU: banded (only the bins each group of "
        "bands reads; faster) or dense (the whole product, whose float32 rounding the models trained before "
        "2026-11-28 have, the shipped ones among them). The sums are the same; a training's weights differ "
        "as another seed's would",
        choices=("banded", "dense"),
    )

    def __post_init__(self) -> None:
        FrontEnd.check(dataclasses.asdict(self))

    @staticmethod
    def check(cfg: dict[str, Any], where: str = "frontend") -> None:
        """Check a (partial) dict of settings: unknown keys, types, ranges, and the settings'
        relations; ConfigError naming ``where.<key>``."""
        check_keys(cfg, FRONTEND, where)
        c = {**FRONTEND.defaults(), **cfg}
        if c["win_length"] > c["n_fft"]:
            raise ConfigError(f"{where}.win_length must not exceed n_fft ({c['n_fft']}), got {c['win_length']}")
        if not c["f_min"] < c["f_max"] <= c["sample_rate"] / 2:
            raise ConfigError(
                f"{where}.f_min/f_max: need f_min < f_max <= sample_rate / 2, got f_min={c['f_min']:g}, "
                f"f_max={c['f_max']:g}, sample_rate={c['sample_rate']}"
            )

    @property
    def n_bands(self) -> int:
        """Rows of the front end's output: ``n_mels + chroma_bins`` (the encoder's input height)."""
        return self.n_mels + self.chroma_bins

    @property
    def n_freqs(self) -> int:
        """Number of linear-frequency bins, ``n_fft // 2 + 1``."""
        return self.n_fft // 2 + 1

    @classmethod
    def from_dict(cls, cfg: dict[str, Any] | None, where: str = "frontend") -> FrontEnd:
        """Build from a (partial) dict of field values; unknown keys (with a did-you-mean) and
        bad values raise ConfigError naming ``where.<key>``."""
        cfg = dict(cfg or {})
        cls.check(cfg, where)
        return cls(**cfg)


#: The front end's settings as a config section (the trainer's ``frontend``), from :class:`FrontEnd`.
FRONTEND = Section.from_dataclass(
    FrontEnd,
    "Log-mel front end (MULE's by default: 16 kHz, 25 ms Hann window, 10 ms hop, 96 HTK mel bands up "
    "to 8 kHz, log10(1 + 10000 x)). The defaults are applied where the front end is built; a trained "
    "model keeps the front end it was trained with.",
)


def input_bands(frontend: dict[str, Any] | None) -> int:
    """Input height an encoder needs for a (partial) front-end config dict: :attr:`FrontEnd.n_bands`
    (``n_mels + chroma_bins``); bad settings raise ConfigError as :meth:`FrontEnd.from_dict` does."""
    return FrontEnd.from_dict(frontend).n_bands


def chroma_filterbank(config: FrontEnd, like: np.ndarray) -> np.ndarray:
    """Pitch-class filter bank ``(chroma_bins, n_fft // 2 + 1)``, float32.

    ``librosa.filters.chroma`` with its Gaussian octave weighting centred one octave above
    ``f_res``, the lowest frequency at which the analysis window separates neighbouring
    semitones (a semitone, ``0.0595 f``, equals the Hann main lobe's half-width
    ``2 sample_rate / win_length``: 1346 Hz for MULE's 25 ms window), so the pitch classes are
    read mostly from partials the window resolves; bins below ``f_min`` (and DC) or above
    ``f_max`` are zeroed. Each row is then scaled to the mean row sum of ``like`` (the mel
    filter bank) so that a pitch-class band reads, like a mel band, as an average power
    density and the two compress alike.
    """
    import librosa

    c = config
    f_res = 2.0 * c.sample_rate / c.win_length / (2.0 ** (1.0 / 12.0) - 1.0)
    centre_octave = float(np.log2(2.0 * f_res / 27.5))  # librosa counts octaves from A0 = 27.5 Hz
    fb = librosa.filters.chroma(
        sr=c.sample_rate, n_fft=c.n_fft, n_chroma=c.chroma_bins, ctroct=centre_octave, octwidth=2.0, dtype=np.float32
    )
    freqs = np.arange(c.n_freqs) * (c.sample_rate / c.n_fft)
    fb[:, (freqs > c.f_max) | (freqs < max(c.f_min, 1.0))] = 0.0
    sums = fb.sum(axis=1, keepdims=True)
    fb = fb / np.where(sums > 0, sums, 1.0) * float(like.sum(axis=1).mean())
    return fb.astype(np.float32)


class LogMel(torch.nn.Module):
    """Waveform ``(B, samples)`` -> log-mel ``(B, n_bands, T)``, in separate public steps.

    ``n_bands = n_mels + chroma_bins``: with ``chroma_bins`` > 0 the filter bank has pitch-class
    rows after the mel rows, so every step below (and the spectral augmentations, which act on
    the power spectrogram before the filter bank) treats them alike.

    Args:
        config: a :class:`FrontEnd` (default: the base model's settings).
    """

    def __init__(self, config: FrontEnd | None = None) -> None:
        super().__init__()
        import librosa  # deferred: importing librosa is slow and only the filter bank needs it

        self.config = config or FrontEnd()
        c = self.config
        self.register_buffer("window", torch.hann_window(c.win_length, periodic=True), persistent=False)
        fb = librosa.filters.mel(
            sr=c.sample_rate,
            n_fft=c.n_fft,
            n_mels=c.n_mels,
            fmin=c.f_min,
            fmax=c.f_max,
            htk=c.htk,
            norm=c.mel_norm,
            dtype=np.float32,
        )
        if c.chroma_bins:
            fb = np.concatenate([fb, chroma_filterbank(c, fb)])
        self.register_buffer("filterbank", torch.from_numpy(fb), persistent=False)
        self.groups = row_groups(self.filterbank != 0)

    def power(self, wave: torch.Tensor) -> torch.Tensor:
        """Linear power spectrogram ``|STFT|**power``.

        Args:
            wave: ``(B, samples)`` or ``(samples,)`` float audio at ``sample_rate`` Hz.
        Returns:
            ``(B, n_fft // 2 + 1, T)`` with ``T = frames(samples)``, on ``wave``'s device.
        """
        c = self.config
        squeeze = wave.dim() == 1
        if squeeze:
            wave = wave.unsqueeze(0)
        spec = torch.stft(
            wave.float(),
            n_fft=c.n_fft,
            hop_length=c.hop_length,
            win_length=c.win_length,
            window=self.window,
            center=c.center,
            pad_mode=c.pad_mode,
            return_complex=True,
        )
        if c.power == 2.0:
            out = spec.real.square() + spec.imag.square()
        else:
            out = spec.abs().pow(c.power)
        return out[0] if squeeze else out

    def mel(self, power: torch.Tensor) -> torch.Tensor:
        """Project ``(B, F, T)`` linear power onto the filter bank -> ``(B, n_bands, T)`` (mel bands,
        then ``chroma_bins`` pitch-class bands); ``(F, T)`` -> ``(n_bands, T)``. On the CPU only the
        bins each group of bands reads are multiplied (:func:`~tunespace.features.banded.banded_matmul`),
        unless ``mel_product`` is ``dense``."""
        if self.dense:
            return torch.matmul(self.filterbank, power)
        return banded_matmul(self.filterbank, power, self.groups)

    @property
    def dense(self) -> bool:
        """Whether the filter bank multiplies the whole power spectrogram (``mel_product: dense``)."""
        return self.config.mel_product == "dense"

    def compress(self, mel: torch.Tensor) -> torch.Tensor:
        """``log10(1 + log_scale * mel)``, elementwise, any shape."""
        return torch.log10(1.0 + self.config.log_scale * mel)

    def forward(self, wave: torch.Tensor) -> torch.Tensor:
        """``compress(mel(power(wave)))``: ``(B, samples)`` -> ``(B, n_bands, T)``."""
        return self.compress(self.mel(self.power(wave)))

    def frames(self, n_samples: int) -> int:
        """Number of STFT frames for a signal of ``n_samples`` samples."""
        c = self.config
        if c.center:
            return 1 + n_samples // c.hop_length
        return max(0, 1 + (n_samples - c.n_fft) // c.hop_length)

    def samples_for_frames(self, n_frames: int) -> int:
        """Fewest samples that give ``n_frames`` frames (inverse of :meth:`frames`)."""
        c = self.config
        if c.center:
            return (n_frames - 1) * c.hop_length
        return (n_frames - 1) * c.hop_length + c.n_fft

    def bin_frequencies(self) -> torch.Tensor:
        """Centre frequency of each linear STFT bin, Hz, ``(n_fft // 2 + 1,)``."""
        c = self.config
        return torch.arange(c.n_freqs, dtype=torch.float32) * (c.sample_rate / c.n_fft)


def standardise(x: torch.Tensor, eps: float = 1e-5) -> torch.Tensor:
    """Standardise each item: zero mean, unit standard deviation over all its other axes.

    The base model standardises each input slice (all mel bins and frames of it) this way.

    Args:
        x: ``(B, ...)``, e.g. ``(B, n_mels, T)`` or ``(B, 1, n_mels, T)``.
        eps: added to the (population) standard deviation, same unit as ``x``.
    Returns:
        tensor of ``x``'s shape.
    """
    dims = tuple(range(1, x.dim()))
    mean = x.mean(dim=dims, keepdim=True)
    std = x.std(dim=dims, keepdim=True, unbiased=False)
    return (x - mean) / (std + eps)

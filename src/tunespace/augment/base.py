"""The augmentation interface shared by both backends, and what each augmentation draws.

An augmentation is a small callable object with explicit randomness (torchvision/lightly
style, but with the parameters made visible so that they can be logged and replayed):

- ``sample(rng, n) -> params``: draws the parameters of ``n`` items from a
  ``np.random.Generator``; a dict of per-item numpy arrays (first axis ``n``), always with a
  boolean ``applied`` (drawn with probability ``p``).
- ``apply(x, params) -> y``: deterministic; replaying logged params reproduces ``y`` exactly.
- ``__call__(x, rng) -> (y, params)``: both.

The ``*Spec`` classes below hold the parameter ranges and the sampling, shared by the
``waveform`` and ``spectral`` backends (so that a seed gives the same parameters on both);
each backend subclasses them and adds ``apply``. Range checks raise
:class:`tunespace.errors.ConfigError` naming ``augment.<type>.<parameter>``.

Sampling choices (documented defaults):

- time-stretch rate ``r``: log-uniform in ``[min_rate, max_rate]`` (default 0.7-1.4, about
  symmetric in log-tempo: 0.7 * 1.4 = 0.98); ``r > 1`` is faster (shorter). ``"uniform"``
  is an option.
- pitch shift: continuous uniform in ``[min_semitones, max_semitones]`` (default +-6);
  ``integer=True`` draws whole semitones (keeps key labels interpretable).
- EQ: ``n_peaks`` peaking filters (centre log-uniform in 60-6000 Hz, Q log-uniform 0.5-4)
  plus a low shelf (60-400 Hz) and a high shelf (1500-6000 Hz), every gain uniform in
  ``[min_gain_db, max_gain_db]`` (default +-12 dB); RBJ "Audio EQ Cookbook" biquads.
- gain: uniform dB; noise: uniform SNR in dB plus a per-item noise seed; reverb: uniform
  room size and wet level.
"""

from __future__ import annotations

from typing import Any, ClassVar

import numpy as np

from ..errors import ConfigError

Params = dict[str, np.ndarray]


def _fail(kind: str, param: str, reason: str) -> ConfigError:
    return ConfigError(f"augment.{kind}.{param}: {reason}")


def _number(kind: str, param: str, value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float, np.integer, np.floating)):
        raise _fail(kind, param, f"{value!r} is not a number")
    if not np.isfinite(value):
        raise _fail(kind, param, f"{value!r} is not finite")
    return float(value)


def _range(kind: str, lo_name: str, lo: Any, hi_name: str, hi: Any, lo_limit: float, hi_limit: float,
           open_low: bool = False) -> tuple[float, float]:
    """Validate ``lo <= hi`` within ``[lo_limit, hi_limit]`` (``lo_limit`` excluded if ``open_low``)."""
    lo, hi = _number(kind, lo_name, lo), _number(kind, hi_name, hi)
    for name, v in ((lo_name, lo), (hi_name, hi)):
        if (v <= lo_limit if open_low else v < lo_limit) or v > hi_limit:
            bound = f"({lo_limit:g}, {hi_limit:g}]" if open_low else f"[{lo_limit:g}, {hi_limit:g}]"
            raise _fail(kind, name, f"{v:g} is outside {bound}")
    if lo > hi:
        raise _fail(kind, lo_name, f"{lo_name} {lo:g} is greater than {hi_name} {hi:g}")
    return lo, hi


class Augmentation:
    """Base class: an augmentation of kind :attr:`kind`, applied to each item with probability ``p``."""

    kind: ClassVar[str] = ""

    def __init__(self, p: float = 1.0) -> None:
        p = _number(self.kind, "p", p)
        if not 0.0 <= p <= 1.0:
            raise _fail(self.kind, "p", f"{p:g} is outside [0, 1]")
        self.p = p

    def sample(self, rng: np.random.Generator, n: int) -> Params:
        """Draw the parameters of ``n`` items: dict of ``(n, ...)`` arrays plus ``applied`` (bool, ``(n,)``)."""
        applied = rng.random(n) < self.p
        params = self._draw(rng, n)
        params["applied"] = applied
        return params

    def _draw(self, rng: np.random.Generator, n: int) -> Params:
        raise NotImplementedError

    def apply(self, x: Any, params: Params) -> Any:
        """Apply with the given parameters (deterministic)."""
        raise NotImplementedError

    def __call__(self, x: Any, rng: np.random.Generator) -> tuple[Any, Params]:
        """Draw parameters for each item of ``x`` and apply them; returns ``(y, params)``."""
        n = 1 if x.ndim == 1 else int(x.shape[0])
        params = self.sample(rng, n)
        return self.apply(x, params), params

    def max_speedup(self) -> float:
        """Largest factor by which this augmentation speeds audio up (1 unless time-stretch)."""
        return 1.0

    def __repr__(self) -> str:
        fields = ", ".join(f"{k}={v!r}" for k, v in vars(self).items() if not k.startswith("_"))
        return f"{type(self).__name__}({fields})"


class TimeStretchSpec(Augmentation):
    """Time-stretch by rate ``r`` (``r > 1`` faster/shorter); params ``rate`` ``(n,)``.

    Args:
        min_rate, max_rate: rate range, dimensionless, ``0 < min_rate <= max_rate <= 4``.
        distribution: ``"log_uniform"`` (default) or ``"uniform"``.
        p: probability of applying to an item.
    """

    kind = "time_stretch"

    def __init__(self, min_rate: float = 0.7, max_rate: float = 1.4, distribution: str = "log_uniform",
                 p: float = 1.0) -> None:
        super().__init__(p)
        self.min_rate, self.max_rate = _range(self.kind, "min_rate", min_rate, "max_rate", max_rate, 0.0, 4.0,
                                              open_low=True)
        if distribution not in ("log_uniform", "uniform"):
            raise _fail(self.kind, "distribution", f"{distribution!r} is not 'log_uniform' or 'uniform'")
        self.distribution = distribution

    def _draw(self, rng: np.random.Generator, n: int) -> Params:
        u = rng.random(n)
        if self.distribution == "uniform":
            rate = self.min_rate + u * (self.max_rate - self.min_rate)
        else:
            rate = np.exp(np.log(self.min_rate) + u * (np.log(self.max_rate) - np.log(self.min_rate)))
        return {"rate": rate}

    def max_speedup(self) -> float:
        return max(1.0, self.max_rate) if self.p > 0 else 1.0


class PitchShiftSpec(Augmentation):
    """Pitch-shift by ``semitones`` ``(n,)`` (positive = up), duration unchanged.

    Args:
        min_semitones, max_semitones: range, semitones, within +-24.
        integer: draw whole semitones (uniform over the integers in the range).
        p: probability of applying to an item.
    """

    kind = "pitch_shift"

    def __init__(self, min_semitones: float = -6.0, max_semitones: float = 6.0, integer: bool = False,
                 p: float = 1.0) -> None:
        super().__init__(p)
        self.min_semitones, self.max_semitones = _range(
            self.kind, "min_semitones", min_semitones, "max_semitones", max_semitones, -24.0, 24.0)
        self.integer = bool(integer)
        if self.integer and np.floor(self.max_semitones) < np.ceil(self.min_semitones):
            raise _fail(self.kind, "min_semitones", "no whole semitone in the range")

    def _draw(self, rng: np.random.Generator, n: int) -> Params:
        if self.integer:
            lo, hi = int(np.ceil(self.min_semitones)), int(np.floor(self.max_semitones))
            return {"semitones": rng.integers(lo, hi + 1, size=n).astype(np.float64)}
        u = rng.random(n)
        return {"semitones": self.min_semitones + u * (self.max_semitones - self.min_semitones)}


class EqualiserSpec(Augmentation):
    """Random equalisation: ``n_peaks`` peaking biquads plus a low and a high shelf.

    Params: ``peak_freq_hz``, ``peak_gain_db``, ``peak_q`` ``(n, n_peaks)``;
    ``low_shelf_freq_hz``, ``low_shelf_gain_db``, ``high_shelf_freq_hz``,
    ``high_shelf_gain_db`` ``(n,)``. Shelves use Q = 1/sqrt(2).

    Args:
        n_peaks: number of peaking filters (0-8).
        min_gain_db, max_gain_db: gain range of every filter, dB, within +-24.
        min_freq_hz, max_freq_hz: centre-frequency range of the peaks, Hz (log-uniform).
        min_q, max_q: Q range of the peaks (log-uniform), within (0, 20].
        shelves: include the two shelves.
        p: probability of applying to an item.
    """

    kind = "eq"
    SHELF_Q = 1.0 / np.sqrt(2.0)
    LOW_SHELF_HZ = (60.0, 400.0)
    HIGH_SHELF_HZ = (1500.0, 6000.0)

    def __init__(self, n_peaks: int = 2, min_gain_db: float = -12.0, max_gain_db: float = 12.0,
                 min_freq_hz: float = 60.0, max_freq_hz: float = 6000.0, min_q: float = 0.5,
                 max_q: float = 4.0, shelves: bool = True, p: float = 1.0) -> None:
        super().__init__(p)
        if isinstance(n_peaks, bool) or not isinstance(n_peaks, (int, np.integer)) or not 0 <= n_peaks <= 8:
            raise _fail(self.kind, "n_peaks", f"{n_peaks!r} is not an integer in [0, 8]")
        self.n_peaks = int(n_peaks)
        self.min_gain_db, self.max_gain_db = _range(self.kind, "min_gain_db", min_gain_db, "max_gain_db",
                                                    max_gain_db, -24.0, 24.0)
        self.min_freq_hz, self.max_freq_hz = _range(self.kind, "min_freq_hz", min_freq_hz, "max_freq_hz",
                                                    max_freq_hz, 0.0, 48000.0, open_low=True)
        self.min_q, self.max_q = _range(self.kind, "min_q", min_q, "max_q", max_q, 0.0, 20.0, open_low=True)
        self.shelves = bool(shelves)

    def check_sample_rate(self, sample_rate: float) -> None:
        """Raise ConfigError if a filter frequency is not below Nyquist."""
        top = max(self.max_freq_hz, self.HIGH_SHELF_HZ[1] if self.shelves else 0.0)
        if top >= sample_rate / 2:
            raise _fail(self.kind, "max_freq_hz", f"{top:g} Hz is not below Nyquist ({sample_rate / 2:g} Hz)")

    def _draw(self, rng: np.random.Generator, n: int) -> Params:
        def log_uniform(lo: float, hi: float, size: Any) -> np.ndarray:
            return np.exp(np.log(lo) + rng.random(size) * (np.log(hi) - np.log(lo)))

        def gains(size: Any) -> np.ndarray:
            return self.min_gain_db + rng.random(size) * (self.max_gain_db - self.min_gain_db)

        k = self.n_peaks
        params = {
            "peak_freq_hz": log_uniform(self.min_freq_hz, self.max_freq_hz, (n, k)),
            "peak_gain_db": gains((n, k)),
            "peak_q": log_uniform(self.min_q, self.max_q, (n, k)),
        }
        shelf_gain = gains((n, 2)) if self.shelves else np.zeros((n, 2))
        params["low_shelf_freq_hz"] = log_uniform(*self.LOW_SHELF_HZ, n)
        params["low_shelf_gain_db"] = shelf_gain[:, 0]
        params["high_shelf_freq_hz"] = log_uniform(*self.HIGH_SHELF_HZ, n)
        params["high_shelf_gain_db"] = shelf_gain[:, 1]
        return params


class GainSpec(Augmentation):
    """Broadband gain ``gain_db`` ``(n,)``, uniform in ``[min_gain_db, max_gain_db]`` (within +-40 dB)."""

    kind = "gain"

    def __init__(self, min_gain_db: float = -6.0, max_gain_db: float = 6.0, p: float = 1.0) -> None:
        super().__init__(p)
        self.min_gain_db, self.max_gain_db = _range(self.kind, "min_gain_db", min_gain_db, "max_gain_db",
                                                    max_gain_db, -40.0, 40.0)

    def _draw(self, rng: np.random.Generator, n: int) -> Params:
        return {"gain_db": self.min_gain_db + rng.random(n) * (self.max_gain_db - self.min_gain_db)}


class NoiseSpec(Augmentation):
    """Additive white noise at ``snr_db`` ``(n,)`` (uniform, within [-20, 80] dB) relative to the
    item's mean power; ``noise_seed`` ``(n,)`` (int64) makes the noise itself replayable."""

    kind = "noise"

    def __init__(self, min_snr_db: float = 10.0, max_snr_db: float = 40.0, p: float = 1.0) -> None:
        super().__init__(p)
        self.min_snr_db, self.max_snr_db = _range(self.kind, "min_snr_db", min_snr_db, "max_snr_db",
                                                  max_snr_db, -20.0, 80.0)

    def _draw(self, rng: np.random.Generator, n: int) -> Params:
        return {
            "snr_db": self.min_snr_db + rng.random(n) * (self.max_snr_db - self.min_snr_db),
            "noise_seed": rng.integers(0, 2**62, size=n, dtype=np.int64),
        }


class ReverbSpec(Augmentation):
    """Room reverb: ``room_size`` and ``wet_level`` ``(n,)``, uniform in their ranges (within [0, 1]);
    the dry level is ``1 - wet_level``."""

    kind = "reverb"

    def __init__(self, min_room_size: float = 0.1, max_room_size: float = 0.8, min_wet_level: float = 0.1,
                 max_wet_level: float = 0.4, p: float = 1.0) -> None:
        super().__init__(p)
        self.min_room_size, self.max_room_size = _range(self.kind, "min_room_size", min_room_size,
                                                        "max_room_size", max_room_size, 0.0, 1.0)
        self.min_wet_level, self.max_wet_level = _range(self.kind, "min_wet_level", min_wet_level,
                                                        "max_wet_level", max_wet_level, 0.0, 1.0)

    def _draw(self, rng: np.random.Generator, n: int) -> Params:
        u = rng.random((n, 2))
        return {
            "room_size": self.min_room_size + u[:, 0] * (self.max_room_size - self.min_room_size),
            "wet_level": self.min_wet_level + u[:, 1] * (self.max_wet_level - self.min_wet_level),
        }

"""What each augmentation draws (parameter ranges and sampling), shared by both backends.

An augmentation is a small callable object with explicit randomness (torchvision/lightly
style, but with the parameters made visible so that they can be logged and replayed):

- ``sample(rng, n) -> params``: draws the parameters of ``n`` items from a
  ``np.random.Generator``; a dict of per-item numpy arrays (first axis ``n``), always with a
  boolean ``applied`` (drawn with probability ``p``).
- ``apply(x, params) -> y``: deterministic; replaying logged params reproduces ``y`` exactly.
- ``__call__(x, rng) -> (y, params)``: both.

The ``*Spec`` classes below hold the parameter ranges and the sampling (one per augmentation
type, registered in :data:`SPECS`), so that a seed gives the same parameters on both
backends. Each backend binds a spec to its plain function of the same name
(:mod:`tunespace.augment.spectral.functional`, :mod:`tunespace.augment.waveform.functional`)
through its one base class. Range checks raise :class:`tunespace.errors.ConfigError` naming
``augment.<type>.<parameter>``; :meth:`Augmentation.check` checks one fixed value the same way.

Sampling choices (documented defaults):

- time-stretch rate ``r``: log-uniform in ``[min_rate, max_rate]`` (default 0.7-1.4, about
  symmetric in log-tempo: 0.7 * 1.4 = 0.98); ``r > 1`` is faster (shorter). ``"uniform"``
  is an option.
- pitch shift: continuous uniform in ``[min_semitones, max_semitones]`` (default +-6);
  ``integer=True`` draws whole semitones (keeps key labels interpretable).
- EQ: ``n_peaks`` peaking filters (centre log-uniform in 60-6000 Hz, Q log-uniform 0.5-4)
  plus a low shelf (60-400 Hz) and a high shelf (1500-6000 Hz), every gain uniform in
  ``[min_gain_db, max_gain_db]`` (default +-12 dB); RBJ "Audio EQ Cookbook" biquads.
- low-pass: first-order (6 dB/octave) filter, cutoff log-uniform in 500-4000 Hz.
- gain: uniform dB; noise: uniform SNR in dB plus a per-item noise seed; reverb: uniform
  room size and wet level.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar

import numpy as np

from ..errors import ConfigError

Params = dict[str, np.ndarray]


@dataclass(frozen=True)
class Limits:
    """Allowed values of one parameter: ``[lo, hi]``, or ``(lo, hi]`` with ``open_low``."""

    lo: float
    hi: float
    open_low: bool = False

    def contains(self, v: float) -> bool:
        return (v > self.lo if self.open_low else v >= self.lo) and v <= self.hi

    def __str__(self) -> str:
        return f"{'(' if self.open_low else '['}{self.lo:g}, {self.hi:g}]"


def _fail(kind: str, param: str, reason: str) -> ConfigError:
    return ConfigError(f"augment.{kind}.{param}: {reason}")


def _number(kind: str, param: str, value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float, np.integer, np.floating)):
        raise _fail(kind, param, f"{value!r} is not a number")
    if not np.isfinite(value):
        raise _fail(kind, param, f"{value!r} is not finite")
    return float(value)


def _uniform(u: np.ndarray, lo: float, hi: float) -> np.ndarray:
    """Map uniform draws ``u`` in [0, 1) onto ``[lo, hi)``."""
    return lo + u * (hi - lo)


def _log_uniform(u: np.ndarray, lo: float, hi: float) -> np.ndarray:
    """Map uniform draws ``u`` in [0, 1) log-uniformly onto ``[lo, hi)`` (``lo > 0``)."""
    return np.exp(np.log(lo) + u * (np.log(hi) - np.log(lo)))


class Augmentation:
    """Base class: an augmentation of kind :attr:`kind`, applied to each item with probability ``p``.

    Subclasses set :attr:`LIMITS` (the allowed values of each drawn parameter) and ``_draw``.
    """

    kind: ClassVar[str] = ""
    LIMITS: ClassVar[dict[str, Limits]] = {}

    def __init__(self, p: float = 1.0) -> None:
        p = _number(self.kind, "p", p)
        if not 0.0 <= p <= 1.0:
            raise _fail(self.kind, "p", f"{p:g} is outside [0, 1]")
        self.p = p

    @classmethod
    def check(cls, param: str, value: Any) -> float:
        """One fixed value of ``param`` as a float; ConfigError naming ``augment.<kind>.<param>``."""
        v = _number(cls.kind, param, value)
        if not cls.LIMITS[param].contains(v):
            raise _fail(cls.kind, param, f"{v:g} is outside {cls.LIMITS[param]}")
        return v

    @classmethod
    def check_below_nyquist(cls, param: str, hz: float, sample_rate: float) -> float:
        """``hz`` if it is below ``sample_rate / 2``; else ConfigError naming ``augment.<kind>.<param>``."""
        if hz >= sample_rate / 2:
            raise _fail(cls.kind, param, f"{hz:g} Hz is not below Nyquist ({sample_rate / 2:g} Hz)")
        return hz

    def _range(self, param: str, lo: Any, hi: Any) -> tuple[float, float]:
        """Validate the range ``min_<param> = lo <= hi = max_<param>`` within ``LIMITS[param]``."""
        lo_name, hi_name = f"min_{param}", f"max_{param}"
        lo, hi = _number(self.kind, lo_name, lo), _number(self.kind, hi_name, hi)
        for name, v in ((lo_name, lo), (hi_name, hi)):
            if not self.LIMITS[param].contains(v):
                raise _fail(self.kind, name, f"{v:g} is outside {self.LIMITS[param]}")
        if lo > hi:
            raise _fail(self.kind, lo_name, f"{lo_name} {lo:g} is greater than {hi_name} {hi:g}")
        return lo, hi

    def check_sample_rate(self, sample_rate: float) -> None:
        """Raise ConfigError if a frequency this augmentation may draw is not below Nyquist."""

    def sample(self, rng: np.random.Generator, n: int) -> Params:
        """Draw the parameters of ``n`` items: dict of ``(n, ...)`` arrays plus ``applied`` (bool, ``(n,)``)."""
        applied = rng.random(n) < self.p
        params = self._draw(rng, n)
        params["applied"] = applied
        return params

    def _draw(self, rng: np.random.Generator, n: int) -> Params:
        raise NotImplementedError

    def apply(self, x: Any, params: Params) -> Any:
        """Apply with the given parameters (deterministic); defined by each backend's base class."""
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
    LIMITS = {"rate": Limits(0.0, 4.0, open_low=True)}

    def __init__(
        self, min_rate: float = 0.7, max_rate: float = 1.4, distribution: str = "log_uniform", p: float = 1.0
    ) -> None:
        super().__init__(p)
        self.min_rate, self.max_rate = self._range("rate", min_rate, max_rate)
        if distribution not in ("log_uniform", "uniform"):
            raise _fail(self.kind, "distribution", f"{distribution!r} is not 'log_uniform' or 'uniform'")
        self.distribution = distribution

    def _draw(self, rng: np.random.Generator, n: int) -> Params:
        u = rng.random(n)
        draw = _uniform if self.distribution == "uniform" else _log_uniform
        return {"rate": draw(u, self.min_rate, self.max_rate)}

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
    LIMITS = {"semitones": Limits(-24.0, 24.0)}

    def __init__(
        self, min_semitones: float = -6.0, max_semitones: float = 6.0, integer: bool = False, p: float = 1.0
    ) -> None:
        super().__init__(p)
        self.min_semitones, self.max_semitones = self._range("semitones", min_semitones, max_semitones)
        self.integer = bool(integer)
        if self.integer and np.floor(self.max_semitones) < np.ceil(self.min_semitones):
            raise _fail(self.kind, "min_semitones", "no whole semitone in the range")

    def _draw(self, rng: np.random.Generator, n: int) -> Params:
        if self.integer:
            lo, hi = int(np.ceil(self.min_semitones)), int(np.floor(self.max_semitones))
            return {"semitones": rng.integers(lo, hi + 1, size=n).astype(np.float64)}
        return {"semitones": _uniform(rng.random(n), self.min_semitones, self.max_semitones)}


class EqualiserSpec(Augmentation):
    """Random equalisation: ``n_peaks`` peaking biquads plus a low and a high shelf.

    Params: ``peak_freq_hz``, ``peak_gain_db``, ``peak_q`` ``(n, n_peaks)``;
    ``low_shelf_freq_hz``, ``low_shelf_gain_db``, ``high_shelf_freq_hz``,
    ``high_shelf_gain_db`` ``(n,)``. Shelves use Q = 1/sqrt(2) (``biquad.SHELF_Q``); without
    ``shelves`` their gains are 0 dB.

    Args:
        n_peaks: number of peaking filters (0-8).
        min_gain_db, max_gain_db: gain range of every filter, dB, within +-24.
        min_freq_hz, max_freq_hz: centre-frequency range of the peaks, Hz (log-uniform).
        min_q, max_q: Q range of the peaks (log-uniform), within (0, 20].
        shelves: include the two shelves.
        p: probability of applying to an item.
    """

    kind = "eq"
    LIMITS = {
        "gain_db": Limits(-24.0, 24.0),
        "freq_hz": Limits(0.0, 48000.0, open_low=True),
        "q": Limits(0.0, 20.0, open_low=True),
    }
    LOW_SHELF_HZ = (60.0, 400.0)
    HIGH_SHELF_HZ = (1500.0, 6000.0)

    def __init__(
        self,
        n_peaks: int = 2,
        min_gain_db: float = -12.0,
        max_gain_db: float = 12.0,
        min_freq_hz: float = 60.0,
        max_freq_hz: float = 6000.0,
        min_q: float = 0.5,
        max_q: float = 4.0,
        shelves: bool = True,
        p: float = 1.0,
    ) -> None:
        super().__init__(p)
        if isinstance(n_peaks, bool) or not isinstance(n_peaks, (int, np.integer)) or not 0 <= n_peaks <= 8:
            raise _fail(self.kind, "n_peaks", f"{n_peaks!r} is not an integer in [0, 8]")
        self.n_peaks = int(n_peaks)
        self.min_gain_db, self.max_gain_db = self._range("gain_db", min_gain_db, max_gain_db)
        self.min_freq_hz, self.max_freq_hz = self._range("freq_hz", min_freq_hz, max_freq_hz)
        self.min_q, self.max_q = self._range("q", min_q, max_q)
        self.shelves = bool(shelves)

    def check_sample_rate(self, sample_rate: float) -> None:
        self.check_below_nyquist(
            "max_freq_hz", max(self.max_freq_hz, self.HIGH_SHELF_HZ[1] if self.shelves else 0.0), sample_rate
        )

    def _draw(self, rng: np.random.Generator, n: int) -> Params:
        k = self.n_peaks
        params = {
            "peak_freq_hz": _log_uniform(rng.random((n, k)), self.min_freq_hz, self.max_freq_hz),
            "peak_gain_db": _uniform(rng.random((n, k)), self.min_gain_db, self.max_gain_db),
            "peak_q": _log_uniform(rng.random((n, k)), self.min_q, self.max_q),
        }
        shelf_gain = (
            _uniform(rng.random((n, 2)), self.min_gain_db, self.max_gain_db) if self.shelves else np.zeros((n, 2))
        )
        params["low_shelf_freq_hz"] = _log_uniform(rng.random(n), *self.LOW_SHELF_HZ)
        params["low_shelf_gain_db"] = shelf_gain[:, 0]
        params["high_shelf_freq_hz"] = _log_uniform(rng.random(n), *self.HIGH_SHELF_HZ)
        params["high_shelf_gain_db"] = shelf_gain[:, 1]
        return params


class LowPassSpec(Augmentation):
    """First-order low-pass (6 dB/octave, -3 dB at the cutoff) at ``cutoff_hz`` ``(n,)``, log-uniform.

    Args:
        min_cutoff_hz, max_cutoff_hz: cutoff range, Hz, below Nyquist.
        p: probability of applying to an item.
    """

    kind = "low_pass"
    LIMITS = {"cutoff_hz": Limits(0.0, 48000.0, open_low=True)}

    def __init__(self, min_cutoff_hz: float = 500.0, max_cutoff_hz: float = 4000.0, p: float = 1.0) -> None:
        super().__init__(p)
        self.min_cutoff_hz, self.max_cutoff_hz = self._range("cutoff_hz", min_cutoff_hz, max_cutoff_hz)

    def check_sample_rate(self, sample_rate: float) -> None:
        self.check_below_nyquist("max_cutoff_hz", self.max_cutoff_hz, sample_rate)

    def _draw(self, rng: np.random.Generator, n: int) -> Params:
        return {"cutoff_hz": _log_uniform(rng.random(n), self.min_cutoff_hz, self.max_cutoff_hz)}


class GainSpec(Augmentation):
    """Broadband gain ``gain_db`` ``(n,)``, uniform in ``[min_gain_db, max_gain_db]`` (within +-40 dB)."""

    kind = "gain"
    LIMITS = {"gain_db": Limits(-40.0, 40.0)}

    def __init__(self, min_gain_db: float = -6.0, max_gain_db: float = 6.0, p: float = 1.0) -> None:
        super().__init__(p)
        self.min_gain_db, self.max_gain_db = self._range("gain_db", min_gain_db, max_gain_db)

    def _draw(self, rng: np.random.Generator, n: int) -> Params:
        return {"gain_db": _uniform(rng.random(n), self.min_gain_db, self.max_gain_db)}


class NoiseSpec(Augmentation):
    """Additive white noise at ``snr_db`` ``(n,)`` (uniform, within [-20, 80] dB) relative to the
    item's mean power; ``noise_seed`` ``(n,)`` (int64) makes the noise itself replayable."""

    kind = "noise"
    LIMITS = {"snr_db": Limits(-20.0, 80.0)}

    def __init__(self, min_snr_db: float = 10.0, max_snr_db: float = 40.0, p: float = 1.0) -> None:
        super().__init__(p)
        self.min_snr_db, self.max_snr_db = self._range("snr_db", min_snr_db, max_snr_db)

    def _draw(self, rng: np.random.Generator, n: int) -> Params:
        return {
            "snr_db": _uniform(rng.random(n), self.min_snr_db, self.max_snr_db),
            "noise_seed": rng.integers(0, 2**62, size=n, dtype=np.int64),
        }


class ReverbSpec(Augmentation):
    """Room reverb: ``room_size`` and ``wet_level`` ``(n,)``, uniform in their ranges (within [0, 1]);
    the dry level is ``1 - wet_level``."""

    kind = "reverb"
    LIMITS = {"room_size": Limits(0.0, 1.0), "wet_level": Limits(0.0, 1.0)}

    def __init__(
        self,
        min_room_size: float = 0.1,
        max_room_size: float = 0.8,
        min_wet_level: float = 0.1,
        max_wet_level: float = 0.4,
        p: float = 1.0,
    ) -> None:
        super().__init__(p)
        self.min_room_size, self.max_room_size = self._range("room_size", min_room_size, max_room_size)
        self.min_wet_level, self.max_wet_level = self._range("wet_level", min_wet_level, max_wet_level)

    def _draw(self, rng: np.random.Generator, n: int) -> Params:
        u = rng.random((n, 2))
        return {
            "room_size": _uniform(u[:, 0], self.min_room_size, self.max_room_size),
            "wet_level": _uniform(u[:, 1], self.min_wet_level, self.max_wet_level),
        }


#: Every augmentation type, by the name policies use (``{"type": ...}``), in documentation order.
SPECS: dict[str, type[Augmentation]] = {
    cls.kind: cls
    for cls in (TimeStretchSpec, PitchShiftSpec, EqualiserSpec, LowPassSpec, GainSpec, NoiseSpec, ReverbSpec)
}

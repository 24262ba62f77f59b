"""Confidence intervals that stay inside a score's range.

A score that is the mean of per-item scores in ``[low, high]`` (accuracy: 0/1 per item; key
weighted score: 0, 0.2, 0.3, 0.5 or 1; tempo Acc1/Acc2: 0/1) gets the Clopper-Pearson
interval at an *effective sample size* (Korn & Graubard, 1998): ``n_eff = p (1 - p) / se²``
for the mean ``p`` (rescaled to [0, 1]) and its standard error ``se`` (whatever sources of
variance ``se`` covers), capped at ``n_max``; the interval is
``[Beta(a/2; x, n_eff - x + 1), Beta(1 - a/2; x + 1, n_eff - x)]`` with ``x = p n_eff``
(scipy.stats.beta), so it never leaves [0, 1], and is the exact binomial interval when the
items are independent 0/1 scores. Written by hand only for the effective-size step.
"""

from __future__ import annotations

import math

import numpy as np
from scipy import stats


def bounded_interval(
    mean: float, se: float, n_max: float, level: float = 0.95, low: float = 0.0, high: float = 1.0
) -> tuple[float, float]:
    """Clopper-Pearson interval of a mean in ``[low, high]`` with standard error ``se``."""
    if not (math.isfinite(mean) and math.isfinite(se)) or n_max <= 0:
        return (math.nan, math.nan)
    span = high - low
    p = min(1.0, max(0.0, (mean - low) / span))
    s = se / span
    n = float(n_max) if (s <= 0 or p in (0.0, 1.0)) else min(float(n_max), p * (1 - p) / s**2)
    n = max(n, 1.0)
    x = p * n
    a = 1.0 - level
    lo = 0.0 if x <= 0 else float(stats.beta.ppf(a / 2, x, n - x + 1))
    hi = 1.0 if x >= n else float(stats.beta.ppf(1 - a / 2, x + 1, n - x))
    return (low + span * lo, low + span * hi)


def item_mean_interval(values: np.ndarray, level: float = 0.95) -> tuple[float, float, float]:
    """(mean, low, high) of per-item scores in [0, 1] (independent items; NaNs left out)."""
    v = np.asarray(values, dtype=np.float64)
    v = v[np.isfinite(v)]
    if len(v) == 0:
        return (math.nan, math.nan, math.nan)
    m = float(v.mean())
    se = float(v.std() / math.sqrt(len(v)))  # ddof 0: for 0/1 scores n_eff = n, the exact interval
    return (m, *bounded_interval(m, se, len(v), level))

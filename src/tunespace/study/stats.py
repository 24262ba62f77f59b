"""Across-seed statistics of the study: means, t-based 95 % confidence intervals, paired differences.

Seeds are the unit of replication: each seed trains its own model, so the interval of a mean
over ``n`` seeds uses Student's t with ``n - 1`` degrees of freedom (scipy). Differences
between a condition and ``none`` are paired by seed (same initialisation and pair draws).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from scipy import stats


@dataclass(frozen=True)
class Estimate:
    """Mean of ``n`` values with a two-sided confidence interval (NaN bounds when n < 2)."""

    mean: float
    low: float
    high: float
    n: int

    @property
    def excludes_zero(self) -> bool:
        return self.n >= 2 and (self.low > 0 or self.high < 0)

    def fmt(self, digits: int = 3) -> str:
        if self.n < 2 or math.isnan(self.low):
            return f"{self.mean:.{digits}f}"
        return f"{self.mean:.{digits}f} [{self.low:.{digits}f}, {self.high:.{digits}f}]"

    def as_dict(self) -> dict[str, float | int]:
        return {"mean": self.mean, "ci_low": self.low, "ci_high": self.high, "n": self.n}


def mean_ci(values: Sequence[float], level: float = 0.95) -> Estimate:
    """Mean and t-interval of ``values``."""
    x = np.asarray([v for v in values if v is not None and not math.isnan(v)], dtype=float)
    n = len(x)
    if n == 0:
        return Estimate(math.nan, math.nan, math.nan, 0)
    m = float(x.mean())
    if n < 2:
        return Estimate(m, math.nan, math.nan, n)
    se = float(x.std(ddof=1)) / math.sqrt(n)
    h = float(stats.t.ppf(0.5 + level / 2, n - 1)) * se
    return Estimate(m, m - h, m + h, n)


def paired_difference(a: dict[int, float], b: dict[int, float], level: float = 0.95) -> Estimate:
    """Mean and t-interval of ``a[seed] - b[seed]`` over the seeds both have."""
    seeds = sorted(set(a) & set(b))
    return mean_ci([a[s] - b[s] for s in seeds], level)

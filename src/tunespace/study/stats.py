"""Statistics of the study: estimates whose intervals cover both sources of variance, the
tests the verdicts use, and Holm's correction.

**Two sources of variance.** A study trains ``S`` models per condition (seeds) and evaluates
them all on the same ``N`` tracks. A number such as "PS lowers key locality by 0.014" varies
with the seeds (another initialisation and pair sampling) *and* with the tracks (another
evaluation set of the same kind): every seed sees the same tracks, so the spread over seeds
alone says nothing about the second. Each estimate here is a mean over seeds of a per-seed
statistic ``T_s`` computed from per-item values (per-query agreement for locality, per-item
0/1 or graded scores for k-NN retrieval and probes). Each (seed, item) value is first turned
into its linearised influence ``z_si`` on the estimate (below; this carries the items' chance
for locality), and the ``S x N`` table of influences is analysed as a two-way random-effects
design with one value per cell (seeds crossed with items): mean squares ``MS_seed``,
``MS_item``, ``MS_error`` with ``S - 1``, ``N - 1`` and ``(S - 1)(N - 1)`` degrees of freedom.
The variance of the estimate is the sum of

- the seed term ``MS_seed / (S N)``, which estimates ``sigma_seed² / S + sigma_e² / (S N)``
  and is kept whole (flooring its seed part at 0 would hide how few seeds there are), and
- the track term ``max(MS_item - MS_error, 0) / (S N)``, which estimates ``sigma_item² / N``:
  what a bootstrap over tracks would add, in closed form, so that a thousand simulated
  studies run in seconds.

Resampling seeds and tracks independently (Owen's "pigeonhole" bootstrap for crossed
designs) estimates the same sum. The interval is Student's t with Welch-Satterthwaite degrees
of freedom for that combination of mean squares: with few seeds and a dominant seed term
this is the t-interval over seeds (3 degrees of freedom for 4 seeds), where a percentile
bootstrap over 4 seeds would be anti-conservative (it treats the 4 values as the population:
about 9 % one-sided false positives at a nominal 2.5 %). The calibration tests
(``tests/study/test_calibration.py``) measure the resulting error rates.

**Statistics.** For locality, with per-query agreement ``a_si`` and chance ``c_i``
(``C = mean_i c_i``): one condition ``T_s = (mean_i a_si - C) / (1 - C)``, influence
``u_i = ((a_i - A) - (1 - L)(c_i - C)) / (1 - C)`` (``a_i``: mean over seeds); a paired
difference of two conditions (same seeds, same tracks, same chance) ``T_s = mean_i (a_si -
b_si) / (1 - C)``, ``u_i = ((x_i - X) + D (c_i - C)) / (1 - C)`` with ``x_i = a_i - b_i``. Plain
means (k-NN accuracy, probe scores) are the same with ``c = 0``.

scipy.stats gives the t distribution; the mean squares, the linearisation and Holm's
step-down procedure (not in scipy) are written here.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from scipy import stats

LEVEL = 0.95


@dataclass(frozen=True)
class Estimate:
    """Mean with a two-sided interval (NaN bounds when undefined).

    Attributes:
        mean, low, high: the estimate and its interval.
        n: seeds (replicates) behind it.
        se, df: standard error and degrees of freedom of the t-interval (NaN if not one).
        p: two-sided p-value of "the mean is 0" (NaN if not computed).
        n_items: evaluation items (tracks) behind it (0: not per item).
    """

    mean: float
    low: float
    high: float
    n: int
    se: float = math.nan
    df: float = math.nan
    p: float = math.nan
    n_items: int = 0

    @property
    def excludes_zero(self) -> bool:
        return self.low > 0 or self.high < 0

    def fmt(self, digits: int = 3) -> str:
        if math.isnan(self.low):
            return f"{self.mean:.{digits}f}" if not math.isnan(self.mean) else "–"
        return f"{self.mean:.{digits}f} [{self.low:.{digits}f}, {self.high:.{digits}f}]"

    def as_dict(self) -> dict[str, float | int]:
        return {
            "mean": self.mean,
            "ci_low": self.low,
            "ci_high": self.high,
            "n_seeds": self.n,
            "se": self.se,
            "df": self.df,
            "p": self.p,
            "n_items": self.n_items,
        }


def mean_ci(values: Sequence[float], level: float = LEVEL) -> Estimate:
    """Mean and t-interval of ``values`` (one source of variance: the replicates)."""
    x = np.asarray([v for v in values if v is not None and not math.isnan(v)], dtype=float)
    n = len(x)
    if n == 0:
        return Estimate(math.nan, math.nan, math.nan, 0)
    m = float(x.mean())
    if n < 2:
        return Estimate(m, math.nan, math.nan, n)
    se = float(x.std(ddof=1)) / math.sqrt(n)
    h = float(stats.t.ppf(0.5 + level / 2, n - 1)) * se
    return Estimate(m, m - h, m + h, n, se, n - 1)


@dataclass(frozen=True)
class TwoSource:
    """Arrays (any leading batch shape) of an estimate over seeds and items."""

    mean: np.ndarray
    se: np.ndarray
    df: np.ndarray
    low: np.ndarray
    high: np.ndarray
    var_seed: np.ndarray
    var_item: np.ndarray
    n_seeds: int
    n_items: np.ndarray

    def p_two_sided(self) -> np.ndarray:
        return _p(self.mean, self.se, self.df, "two")

    def p_greater(self) -> np.ndarray:
        """One-sided p-value of "the mean is > 0"."""
        return _p(self.mean, self.se, self.df, "greater")

    def p_less(self) -> np.ndarray:
        return _p(self.mean, self.se, self.df, "less")

    def estimate(self) -> Estimate:
        """The :class:`Estimate` of an unbatched result."""
        f = lambda v: float(np.asarray(v))  # noqa: E731
        return Estimate(
            f(self.mean),
            f(self.low),
            f(self.high),
            self.n_seeds,
            f(self.se),
            f(self.df),
            f(self.p_two_sided()),
            int(np.asarray(self.n_items)),
        )


def _p(mean: np.ndarray, se: np.ndarray, df: np.ndarray, side: str) -> np.ndarray:
    with np.errstate(divide="ignore", invalid="ignore"):
        t = np.where(se > 0, mean / np.where(se > 0, se, 1.0), np.sign(mean) * np.inf)
        dfv = np.where(np.isfinite(df) & (df > 0), df, 1.0)
        if side == "two":
            p = 2 * stats.t.sf(np.abs(t), dfv)
        elif side == "greater":
            p = stats.t.sf(t, dfv)
        else:
            p = stats.t.cdf(t, dfv)
    return np.where(np.isfinite(mean), np.where(np.isnan(t), 1.0, p), np.nan)


def two_source(
    a: np.ndarray, b: np.ndarray | None = None, chance: np.ndarray | None = None, level: float = LEVEL
) -> TwoSource:
    """Estimate (over seeds and items) of a condition's score, or of the paired difference a - b.

    Args:
        a: (..., S, N) per-item values of S seeds on N items (NaN: item not scored; an item is
            used when it is finite for every seed of ``a`` and ``b``).
        b: (..., S, N) the other condition, paired by seed and item, or None.
        chance: (..., N) per-item chance for locality (the statistic is then (A - C)/(1 - C)),
            or None for a plain mean.
        level: coverage of the interval.
    """
    a = np.asarray(a, dtype=np.float64)
    x = a if b is None else a - np.asarray(b, dtype=np.float64)
    s_n = x.shape[-2]
    ok = np.isfinite(x).all(axis=-2)
    if chance is not None:
        chance = np.broadcast_to(np.asarray(chance, dtype=np.float64), ok.shape)
        ok = ok & np.isfinite(chance)
    n = ok.sum(axis=-1)
    nn = np.maximum(n, 2).astype(np.float64)
    okx = ok[..., None, :]
    xz = np.where(okx, x, 0.0)
    c = np.zeros(ok.shape) if chance is None else np.where(ok, chance, 0.0)
    cm = c.sum(axis=-1) / nn
    one_c = (1.0 - cm)[..., None, None]
    with np.errstate(divide="ignore", invalid="ignore"):
        grand = xz.sum(axis=(-2, -1)) / (nn * s_n)
        est = (grand if b is not None else grand - cm) / one_c[..., 0, 0]
        # per-(seed, item) influence on the estimate (linearised over the items' chance too)
        dc = (c - cm[..., None])[..., None, :]
        slope = est[..., None, None] if b is not None else -(1.0 - est[..., None, None])
        z = np.where(okx, ((xz - grand[..., None, None]) + slope * dc) / one_c, 0.0)
        zs = z.sum(axis=-1) / nn[..., None]  # (..., S): T_s - est
        zi = z.mean(axis=-2)  # (..., N): u_i
        resid = np.where(okx, z - zs[..., None] - zi[..., None, :], 0.0)
        # two-way random-effects ANOVA (seeds x items, one value per cell): mean squares
        df_s, df_i = s_n - 1, nn - 1
        ms_s = nn * (zs**2).sum(axis=-1) / df_s if s_n > 1 else np.zeros(est.shape)
        ms_i = s_n * (zi**2).sum(axis=-1) / df_i
        ms_e = (resid**2).sum(axis=(-2, -1)) / (df_s * df_i) if s_n > 1 else np.zeros(est.shape)
        # variance of the mean: sigma_seed²/S + sigma_item²/N + sigma_e²/(S N). ms_s / (S N)
        # estimates sigma_seed²/S + sigma_e²/(S N) with S - 1 degrees of freedom and is kept whole
        # (flooring its seed part at 0 would hide how few seeds there are); the item part
        # (ms_i - ms_e) / (S N) estimates sigma_item²/N and is floored at 0.
        item_pos = (ms_i > ms_e) if s_n > 1 else np.ones(est.shape, dtype=bool)
        item_part = np.where(item_pos, ms_i - ms_e, 0.0)
        var_seed = ms_s / (s_n * nn)
        var_item = item_part / (s_n * nn)
        var = var_seed + var_item
        # Welch-Satterthwaite degrees of freedom of that combination of mean squares
        terms = np.where(item_pos, ms_i**2 / df_i, 0.0)
        if s_n > 1:
            terms = terms + ms_s**2 / df_s + np.where(item_pos, ms_e**2 / (df_s * df_i), 0.0)
        df = np.where(terms > 0, (var * s_n * nn) ** 2 / np.where(terms > 0, terms, 1.0), df_i)
        se = np.sqrt(var)
        h = stats.t.ppf(0.5 + level / 2, df) * se
    bad = (n < 2) | ~np.isfinite(est)
    nan = np.full(est.shape, np.nan)
    return TwoSource(
        np.where(bad, nan, est),
        np.where(bad, nan, se),
        np.where(bad, nan, df),
        np.where(bad, nan, est - h),
        np.where(bad, nan, est + h),
        var_seed,
        var_item,
        s_n,
        n,
    )


def holm(p: np.ndarray, axis: int = -1) -> np.ndarray:
    """Holm-adjusted p-values along ``axis`` (NaN counts as 1): reject at level alpha where
    the adjusted value is <= alpha; the family-wise error rate is at most alpha."""
    p = np.moveaxis(np.where(np.isnan(p), 1.0, np.asarray(p, dtype=np.float64)), axis, -1)
    m = p.shape[-1]
    order = np.argsort(p, axis=-1, kind="stable")
    ps = np.take_along_axis(p, order, axis=-1)
    adj_sorted = np.minimum(1.0, np.maximum.accumulate(ps * (m - np.arange(m)), axis=-1))
    adj = np.empty_like(adj_sorted)
    np.put_along_axis(adj, order, adj_sorted, axis=-1)
    return np.moveaxis(adj, -1, axis)

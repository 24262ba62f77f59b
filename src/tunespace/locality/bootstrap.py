"""Bootstrap confidence intervals of agreement and locality over queries.

Queries are resampled with replacement (``B`` resamples, seeded). Both A_k and C are means over
queries, so each resample recomputes A_k^b = mean of the resampled per-query agreements,
C^b = mean of the resampled per-query chance terms, and L_k^b = (A_k^b - C^b) / (1 - C^b); the
interval is the percentile interval (default 95 %). A resample is represented by its
multinomial counts over the N queries, so one resample costs O(N) and all k share it.
"""

from __future__ import annotations

import numpy as np

#: Resamples drawn per block (bounds memory: block x N counts).
BLOCK = 64


def bootstrap_ci(
    agreement: np.ndarray,
    chance: np.ndarray,
    n_boot: int,
    rng: np.random.Generator,
    level: float = 0.95,
) -> tuple[np.ndarray, np.ndarray]:
    """Percentile intervals of agreement and locality.

    Args:
        agreement: (N, K) per-query agreement for K neighbourhood sizes.
        chance: (N,) per-query chance terms.
        n_boot: number of resamples B (> 0).
        rng: random generator (the resamples).
        level: coverage of the interval (0.95: 2.5 and 97.5 percentiles).
    Returns:
        (agreement_ci, locality_ci), each (K, 2) [low, high]; NaN where C^b = 1 for all resamples.
    """
    n, k = agreement.shape
    a_b = np.empty((n_boot, k))
    c_b = np.empty(n_boot)
    p = np.full(n, 1.0 / n)
    for s in range(0, n_boot, BLOCK):
        m = min(BLOCK, n_boot - s)
        w = rng.multinomial(n, p, size=m).astype(np.float64) / n  # (m, N) resampling weights
        a_b[s : s + m] = w @ agreement
        c_b[s : s + m] = w @ chance
    defined = (1.0 - c_b) > 1e-9  # chance 1 (one label for all): locality undefined
    with np.errstate(divide="ignore", invalid="ignore"):
        l_b = np.where(defined[:, None], (a_b - c_b[:, None]) / (1.0 - c_b[:, None]), np.nan)
    q = [100 * (1 - level) / 2, 100 * (1 + level) / 2]
    a_ci = np.percentile(a_b, q, axis=0).T
    l_b = np.where(np.isfinite(l_b), l_b, np.nan)
    with np.errstate(all="ignore"):
        l_ci = np.nanpercentile(l_b, q, axis=0).T if np.isfinite(l_b).any() else np.full((k, 2), np.nan)
    return a_ci, l_ci

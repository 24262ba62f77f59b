"""Train / validation / test split of items by track (seeded, stratified where possible)."""

from __future__ import annotations

import numpy as np

SPLITS = ("train", "valid", "test")


def split_items(
    n: int,
    seed: int,
    fractions: tuple[float, float, float] = (0.7, 0.15, 0.15),
    stratify: np.ndarray | None = None,
    groups: np.ndarray | None = None,
) -> np.ndarray:
    """Assign each of ``n`` items to ``"train"``, ``"valid"`` or ``"test"``.

    Args:
        n: number of items.
        seed: seed of the shuffle.
        fractions: train / valid / test fractions (sum 1).
        stratify: (n,) labels to stratify by (by the group's first item when grouped); ignored
            (plain shuffle) when some label has fewer than 3 units.
        groups: (n,) track ids: all items of a track land in the same split.
    Returns:
        (n,) array of split names.
    """
    from sklearn.model_selection import train_test_split

    if groups is None:
        unit = np.arange(n)
    else:
        _, unit = np.unique(np.asarray(groups).astype(str), return_inverse=True)
    n_units = int(unit.max()) + 1
    strat = None
    if stratify is not None:
        first = np.full(n_units, -1)
        first[unit[::-1]] = np.arange(n)[::-1]
        s = np.asarray(stratify)[first].astype(str)
        _, counts = np.unique(s, return_counts=True)
        if counts.min() >= 3:
            strat = s
    units = np.arange(n_units)
    test_n = max(1, round(fractions[2] * n_units))
    valid_n = max(1, round(fractions[1] * n_units))
    try:
        rest, test = train_test_split(units, test_size=test_n, random_state=seed, stratify=strat)
        train, valid = train_test_split(
            rest, test_size=valid_n, random_state=seed, stratify=None if strat is None else strat[rest]
        )
    except ValueError:  # too few items of some class for stratification
        rest, test = train_test_split(units, test_size=test_n, random_state=seed)
        train, valid = train_test_split(rest, test_size=valid_n, random_state=seed)
    names = np.empty(n_units, dtype=object)
    names[train], names[valid], names[test] = "train", "valid", "test"
    return names[unit].astype(str)


def cv_folds(
    n: int,
    folds: int,
    seed: int,
    stratify: np.ndarray | None = None,
    groups: np.ndarray | None = None,
) -> np.ndarray:
    """Fold index (n,) in ``0 .. folds - 1`` for k-fold cross-validation (scikit-learn).

    Shuffled with ``seed``; stratified by ``stratify`` when every class has at least ``folds``
    members (``StratifiedKFold``, or ``StratifiedGroupKFold`` with groups), else plain
    (``KFold`` / ``GroupKFold``); with ``groups`` all items of a group share a fold. The folds
    depend only on these arguments, so every set of embeddings of the same items gets the same.
    """
    from sklearn.model_selection import GroupKFold, KFold, StratifiedGroupKFold, StratifiedKFold

    units = n if groups is None else len(np.unique(np.asarray(groups).astype(str)))
    folds = int(min(folds, units))
    if folds < 2:
        from ..errors import UsageError

        raise UsageError(f"cross-validation needs at least 2 items (or groups), got {units}")
    x = np.zeros((n, 1))
    strat = None
    if stratify is not None:
        s = np.asarray(stratify).astype(str)
        if np.unique(s, return_counts=True)[1].min() >= folds:
            strat = s
    g = None if groups is None else np.asarray(groups).astype(str)
    if g is None:
        cv = (
            StratifiedKFold(folds, shuffle=True, random_state=seed)
            if strat is not None
            else KFold(folds, shuffle=True, random_state=seed)
        )
        split = cv.split(x, strat)
    elif strat is not None:
        split = StratifiedGroupKFold(folds, shuffle=True, random_state=seed).split(x, strat, g)
    else:
        # GroupKFold does not shuffle: permute the group labels with the seed instead
        uniq, inv = np.unique(g, return_inverse=True)
        perm = np.random.default_rng(seed).permutation(len(uniq))
        split = GroupKFold(folds).split(x, None, perm[inv])
    out = np.full(n, -1, dtype=np.int64)
    for f, (_, test) in enumerate(split):
        out[test] = f
    return out

"""Downstream metrics (definitions: docs/metrics.md).

- accuracy (genre, instrument, mood, key exact): scikit-learn ``accuracy_score``.
- key: mean mir_eval weighted score, reference = true key (table from mir_eval itself).
- tempo: Acc1 (estimate within 4 % of the reference) and Acc2 (also within 4 % of 2x, 1/2x,
  3x or 1/3x the reference), the same tolerance intervals as the locality measures.
- tags: macro ROC-AUC and macro average precision (scikit-learn); tags whose test column is
  all-positive or all-negative have no defined AUC and are left out of the macro average
  (their number is returned).
- regression: R² (scikit-learn ``r2_score``).
"""

from __future__ import annotations

import numpy as np

from ..locality.measures import key_codes, key_score_table, tempo_agree


def accuracy(y_true: np.ndarray, y_pred: np.ndarray) -> float:
    """Fraction of equal labels."""
    from sklearn.metrics import accuracy_score

    return float(accuracy_score(np.asarray(y_true), np.asarray(y_pred)))


def key_scores(ref: np.ndarray, est: np.ndarray) -> np.ndarray:
    """Per-item ``mir_eval.key.weighted_score(ref[i], est[i])`` (N,) over canonical key names."""
    return key_score_table()[key_codes(np.asarray(ref)), key_codes(np.asarray(est))]


def key_score(ref: np.ndarray, est: np.ndarray) -> float:
    """Mean ``mir_eval.key.weighted_score(ref[i], est[i])`` over canonical key names."""
    return float(key_scores(ref, est).mean())


def tempo_agree_items(ref_bpm: np.ndarray, est_bpm: np.ndarray, octave: bool = False) -> np.ndarray:
    """Per-item Acc1 (``octave=False``) or Acc2 (N,) as 0.0 / 1.0."""
    return tempo_agree(np.asarray(ref_bpm), np.asarray(est_bpm), octave=octave).astype(np.float64)


def tempo_accuracy(ref_bpm: np.ndarray, est_bpm: np.ndarray, octave: bool = False) -> float:
    """Acc1 (``octave=False``) or Acc2 of estimated tempi against reference tempi (BPM)."""
    return float(tempo_agree(np.asarray(ref_bpm), np.asarray(est_bpm), octave=octave).mean())


def tag_scores(y_true: np.ndarray, scores: np.ndarray) -> dict[str, float]:
    """Macro ROC-AUC and average precision of (N, T) binary targets against (N, T) scores.

    Returns:
        ``{"roc_auc", "average_precision", "n_tags", "n_tags_skipped"}``.
    """
    from sklearn.metrics import average_precision_score, roc_auc_score

    y = np.asarray(y_true).astype(int)
    pos = y.sum(axis=0)
    ok = (pos > 0) & (pos < len(y))
    if not ok.any():
        return {
            "roc_auc": float("nan"),
            "average_precision": float("nan"),
            "n_tags": 0,
            "n_tags_skipped": int(y.shape[1]),
        }
    return {
        "roc_auc": float(roc_auc_score(y[:, ok], scores[:, ok], average="macro")),
        "average_precision": float(average_precision_score(y[:, ok], scores[:, ok], average="macro")),
        "n_tags": int(ok.sum()),
        "n_tags_skipped": int((~ok).sum()),
    }


def r2(y_true: np.ndarray, y_pred: np.ndarray) -> float:
    """Coefficient of determination R²."""
    from sklearn.metrics import r2_score

    return float(r2_score(y_true, y_pred))

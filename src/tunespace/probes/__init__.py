"""Downstream evaluation of frozen embeddings: k-NN retrieval (:mod:`.retrieval`), linear and
MLP probes (:mod:`.probe`), metrics (:mod:`.metrics`), splits and cross-validation folds
(:mod:`.splits`), intervals inside a score's range (:mod:`.intervals`) and the evaluation
report (:mod:`.evaluate`)."""

from .evaluate import evaluate_embeddings, evaluation_markdown, evaluation_rows, write_evaluation
from .intervals import bounded_interval, item_mean_interval
from .metrics import accuracy, key_score, key_scores, r2, tag_scores, tempo_accuracy
from .probe import Probe, fit_probe
from .retrieval import retrieval_accuracy, vote
from .splits import cv_folds, split_items

__all__ = [
    "Probe",
    "accuracy",
    "bounded_interval",
    "cv_folds",
    "evaluate_embeddings",
    "evaluation_markdown",
    "evaluation_rows",
    "fit_probe",
    "item_mean_interval",
    "key_score",
    "key_scores",
    "r2",
    "retrieval_accuracy",
    "split_items",
    "tag_scores",
    "tempo_accuracy",
    "vote",
    "write_evaluation",
]

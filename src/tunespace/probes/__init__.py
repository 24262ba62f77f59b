"""Downstream evaluation of frozen embeddings: k-NN retrieval (:mod:`.retrieval`), linear and
MLP probes (:mod:`.probe`), metrics (:mod:`.metrics`), splits (:mod:`.splits`) and the
evaluation report (:mod:`.evaluate`)."""

from .evaluate import evaluate_embeddings, evaluation_markdown, write_evaluation
from .metrics import accuracy, key_score, r2, tag_scores, tempo_accuracy
from .probe import Probe, fit_probe
from .retrieval import retrieval_accuracy, vote
from .splits import split_items

__all__ = [
    "Probe", "accuracy", "evaluate_embeddings", "evaluation_markdown", "fit_probe", "key_score", "r2",
    "retrieval_accuracy", "split_items", "tag_scores", "tempo_accuracy", "vote", "write_evaluation",
]

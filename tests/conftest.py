"""Fixtures shared across the suite: a small rendered corpus and a tiny training config."""

from __future__ import annotations

import pytest
import torch

from tunespace.corpus import build_corpus

torch.set_num_threads(2)


@pytest.fixture(scope="session")
def train_corpus(tmp_path_factory):
    """16 procedural tracks of 10 s (seed 5): enough for batches of 8 distinct tracks."""
    return build_corpus(tmp_path_factory.mktemp("train_corpus"), tracks=16, seconds=10.0, seed=5, workers=2)


def tiny_overrides(steps: int = 4, batch: int = 4, every: int = 2) -> list[str]:
    """Config overrides for a trainer run of a few seconds."""
    return [
        f"train.steps={steps}",
        f"train.batch_size={batch}",
        f"train.checkpoint_every={every}",
        "train.log_every=1",
        "train.progress=false",
        "train.warmup_steps=1",
        "train.threads=1",
        "model.encoder_args={width: 16, depth: 1, embedding_dim: 16}",
        "model.projector.hidden_dims=[16]",
        "model.projector.out_dim=8",
    ]


@pytest.fixture(scope="session")
def tiny_run(train_corpus, tmp_path_factory):
    """A run folder of a tiny model trained 2 steps on ``train_corpus`` (16-d embeddings)."""
    from tunespace.train import resolve_config, train

    out = tmp_path_factory.mktemp("tiny_run")
    train(out, resolve_config(None, tiny_overrides(steps=2), **{"data.path": str(train_corpus)}))
    return out


def tiny_study_overrides(corpus, conditions: str = "none, ts") -> list[str]:
    """Overrides of the demo preset for a study of seconds: one seed, a tiny model trained a few
    steps on ``corpus`` and evaluated on it; later ``key=value`` entries refine it."""
    return [
        "seeds=[0]",
        f"conditions=[{conditions}]",
        f"train_data={{name: tr, path: {corpus}}}",
        f"eval_data=[{{name: ev, path: {corpus}}}]",
        "train={train: {steps: 2, batch_size: 4, checkpoint_every: 2, log_every: 1, threads: 1}, "
        "model: {encoder_args: {width: 16, depth: 1, embedding_dim: 16}, projector: {hidden_dims: [16], out_dim: 8}}}",
        "analysis={ks: [1, 3], headline_k: 3, bootstrap: 10, knn_k: 3, probes: [], properties: [genre, tempo_bpm]}",
        "baselines=[]",
        "umap=false",
    ]

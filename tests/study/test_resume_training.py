"""A study interrupted inside a training stage resumes that run from its last checkpoint."""

from __future__ import annotations

from tunespace.study import resolve_study_config, run_study
from tunespace.train.checkpoint import load_checkpoint, latest_checkpoint


def test_interrupted_training_stage_resumes(train_corpus, tmp_path):
    cfg = resolve_study_config(None, "demo", [
        "seeds=[0]", "conditions=[none]",
        f"train_data={{name: tr, path: {train_corpus}}}",
        f"eval_data=[{{name: ev, path: {train_corpus}}}]",
        "train={train: {steps: 4, batch_size: 4, checkpoint_every: 2, keep_checkpoints: 5, log_every: 1, threads: 1}, "
        "model: {encoder_args: {width: 16, depth: 1, embedding_dim: 16}, projector: {hidden_dims: [16], out_dim: 8}}}",
        "analysis={ks: [1, 3], headline_k: 3, bootstrap: 10, knn_k: 3, probes: [linear], properties: [genre], "
        "folds: 3, null_replicates: 5}",
        "baselines=[]", "umap=false",
    ])
    out = tmp_path / "study"
    assert run_study(out, cfg, stop_after_stages=1) == {"stopped": True}  # the training stage, done
    (stage,) = (out / "stages").glob("train-*")
    run = stage / "run"
    # turn it into a stage killed after its step-2 checkpoint: no done marker, newest checkpoint 2
    (stage / "done.json").unlink()
    (run / "checkpoints" / "step_0000004.pt").unlink()
    (run / "checkpoints" / "latest.txt").write_text("step_0000002.pt\n")
    run_study(out, cfg)
    assert (stage / "done.json").is_file()
    assert load_checkpoint(latest_checkpoint(run))["step"] == 4

"""A study interrupted inside a training stage resumes that run from its last checkpoint."""

from __future__ import annotations

from tests.conftest import tiny_study_overrides

from tunespace.models.checkpoint import latest_checkpoint, load_checkpoint
from tunespace.study import resolve_study_config, run_study


def test_interrupted_training_stage_resumes(train_corpus, tmp_path):
    cfg = resolve_study_config(
        None,
        "demo",
        [
            *tiny_study_overrides(train_corpus, "none"),
            "train.train.steps=4",
            "train.train.keep_checkpoints=5",
            "analysis.properties=[genre]",
            "analysis.probes=[linear]",
            "analysis.folds=3",
            "analysis.null_replicates=5",
        ],
    )
    out = tmp_path / "study"
    assert run_study(out, cfg, should_stop=lambda n: n >= 1) == {"stopped": True}  # the training stage, done
    (stage,) = (out / "stages").glob("train-*")
    run = stage / "run"
    # turn it into a stage killed after its step-2 checkpoint: no done marker, newest checkpoint 2
    (stage / "done.json").unlink()
    (run / "checkpoints" / "step_0000004.pt").unlink()
    (run / "checkpoints" / "latest.txt").write_text("step_0000002.pt\n")
    run_study(out, cfg)
    assert (stage / "done.json").is_file()
    assert load_checkpoint(latest_checkpoint(run))["step"] == 4

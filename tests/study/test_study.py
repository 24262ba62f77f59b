"""The study: a tiny end-to-end run, caching and resumption, the claims logic, presets."""

from __future__ import annotations

import json
import math

import pytest

from tunespace.cli import main
from tunespace.errors import ConfigError
from tunespace.study import resolve_study_config, run_study
from tunespace.study.report import judge_claims
from tunespace.study.stats import mean_ci, paired_difference


def _tiny(train_corpus) -> dict:
    return resolve_study_config(None, "demo", [
        "seeds=[0, 1]", "conditions=[none, ps]",
        f"train_data={{name: tr, path: {train_corpus}}}",
        f"eval_data=[{{name: ev, path: {train_corpus}}}]",
        "train={train: {steps: 2, batch_size: 4, checkpoint_every: 1, log_every: 1, threads: 1}, "
        "model: {encoder_args: {width: 16, depth: 1, embedding_dim: 16}, projector: {hidden_dims: [16], out_dim: 8}}}",
        "analysis={ks: [1, 3], headline_k: 3, bootstrap: 10, knn_k: 3, probes: [linear], properties: [key, tempo_bpm, genre]}",
        "baselines=[chroma]", "umap=false",
    ])


@pytest.mark.slow
def test_tiny_study_end_to_end_resume_and_cache(train_corpus, tmp_path):
    cfg = _tiny(train_corpus)
    out = tmp_path / "study"
    assert run_study(out, cfg, stop_after_stages=3) == {"stopped": True}
    done_before = sorted(p.parent.name for p in (out / "stages").glob("*/done.json"))
    assert len(done_before) == 3
    summary = run_study(out, cfg)
    rows = json.loads((out / "results.json").read_text())
    assert {r["condition"] for r in rows} == {"none", "ps", "baseline:chroma"}
    assert {r["seed"] for r in rows if r["condition"] == "ps"} == {0, 1}
    assert {"locality", "agreement", "chance", "knn_accuracy", "probe_linear"} <= {r["metric"] for r in rows}
    header = (out / "results.csv").read_text().splitlines()[0]
    assert header == "condition,seed,dataset,property,metric,k,value"
    report = (out / "report.md").read_text()
    assert "## Claims" in report and "PS lowers key locality" in report
    assert (out / "plots" / "locality_by_property_ev.png").stat().st_size > 1000
    assert (out / "plots" / "locality_vs_k_ev.png").stat().st_size > 1000
    assert {c["claim"] for c in summary["claims"]} == {1, 2, 3, 4}
    # earlier stages were reused, not recomputed
    for name in done_before:
        assert (out / "stages" / name / "done.json").is_file()
    n_train = len(list((out / "stages").glob("train-*/done.json")))
    n_analysis = len(list((out / "stages").glob("analysis-*/done.json")))
    # a rerun computes nothing new; a changed analysis setting redoes only the analyses
    mtimes = {p: p.stat().st_mtime for p in (out / "stages").glob("train-*/done.json")}
    cfg2 = dict(cfg, analysis={**cfg["analysis"], "bootstrap": 11})
    run_study(out, cfg2)
    assert all(p.stat().st_mtime == t for p, t in mtimes.items())
    assert len(list((out / "stages").glob("train-*/done.json"))) == n_train
    assert len(list((out / "stages").glob("analysis-*/done.json"))) == 2 * n_analysis


def _rows(values: dict[tuple[str, str], list[float]], k: int = 10) -> list[dict]:
    rows = []
    for (cond, prop), vals in values.items():
        for seed, v in enumerate(vals):
            rows.append({"condition": cond, "seed": seed, "dataset": "d", "property": prop, "metric": "locality", "k": k, "value": v})
    return rows


def _cfg(conds):
    return {"conditions": conds, "eval_data": [{"name": "d"}], "analysis": {"headline_k": 10, "knn_k": 10, "probes": []}}


def test_claim_1_supported_only_when_the_interval_excludes_zero():
    rows = _rows({("none", "key"): [0.60, 0.62, 0.58], ("ps", "key"): [0.10, 0.12, 0.09]})
    c1 = next(c for c in judge_claims(_cfg(["none", "ps"]), rows) if c["claim"] == 1)
    assert c1["verdict"] == "supported"
    assert math.isclose(c1["difference"]["mean"], (0.10 + 0.12 + 0.09 - 0.60 - 0.62 - 0.58) / 3)
    noisy = _rows({("none", "key"): [0.60, 0.20, 0.58], ("ps", "key"): [0.10, 0.62, 0.09]})
    c1 = next(c for c in judge_claims(_cfg(["none", "ps"]), noisy) if c["claim"] == 1)
    assert c1["verdict"] == "not supported"
    up = _rows({("none", "key"): [0.1, 0.11, 0.12], ("ps", "key"): [0.5, 0.52, 0.51]})
    assert next(c for c in judge_claims(_cfg(["none", "ps"]), up) if c["claim"] == 1)["verdict"] == "contradicted"


def test_claims_are_not_tested_without_the_conditions():
    rows = _rows({("none", "key"): [0.6, 0.6]})
    claims = judge_claims(_cfg(["none"]), rows)
    assert {c["verdict"] for c in claims if c["claim"] in (1, 2)} == {"not tested"}


def test_mean_ci_matches_student_t():
    e = mean_ci([1.0, 2.0, 3.0])
    # t(0.975, 2) = 4.302653; sd = 1; se = 1/sqrt(3)
    assert math.isclose(e.high - e.mean, 4.302653 / math.sqrt(3), rel_tol=1e-5)
    assert paired_difference({0: 1.0, 1: 2.0}, {0: 0.5, 1: 1.0, 2: 9.0}).n == 2
    assert mean_ci([0.4]).n == 1 and math.isnan(mean_ci([0.4]).low)


def test_config_errors_are_one_line_and_exit_2(tmp_path, capsys):
    with pytest.raises(ConfigError, match="unknown policy"):
        resolve_study_config(None, "demo", ["conditions=[none, wobble]"])
    with pytest.raises(ConfigError, match="unknown study config key"):
        resolve_study_config(None, "demo", ["seedz=[1]"])
    assert main(["study", "--preset", "demo", "--out", str(tmp_path / "s"), "baselines=[nope]"]) == 2
    assert "unknown baseline" in capsys.readouterr().err


def test_presets_resolve():
    demo = resolve_study_config(None, "demo")
    assert {"none", "ts", "ps"} <= set(demo["conditions"]) and len(demo["seeds"]) >= 3
    default = resolve_study_config(None, "default")
    assert {"ps@waveform", "ts@waveform", "ts+ps+eq"} <= set(default["conditions"])
    paper = resolve_study_config(None, "paper")
    assert paper["train"]["model"]["encoder"] == "sfnfnet_f0"
    assert paper["train"]["model"]["projector"] == {"hidden_dims": [4096, 4096], "out_dim": 4096}


@pytest.mark.slow
def test_paper_preset_starts_and_runs_a_few_steps_on_cpu(train_corpus, tmp_path):
    """The paper settings (SF-NFNet-F0, MULE front end, 3 x 4096 projector) with tiny sizes."""
    from tunespace.study.runner import train_config
    from tunespace.train import train

    cfg = resolve_study_config(None, "paper", [f"train_data={{name: tr, path: {train_corpus}}}"])
    tcfg = train_config(cfg, "ts+ps", 0, train_corpus)
    tcfg["train"].update(steps=1, batch_size=2, checkpoint_every=1, num_workers=0)
    assert tcfg["model"]["encoder"] == "sfnfnet_f0"
    res = train(tmp_path / "run", tcfg)
    assert res.steps == 1 and math.isfinite(res.final_loss)


def _task_rows(values: dict[tuple[str, str], list[float]]) -> list[dict]:
    return [{"condition": c, "seed": s, "dataset": "d", "property": p, "metric": "knn_accuracy", "k": 10, "value": v}
            for (c, p), vals in values.items() for s, v in enumerate(vals)]


def test_claim_4_needs_a_significant_difference():
    cfg = _cfg(["none", "ts", "ps"])
    clear = _task_rows({("ts", "genre"): [0.9, 0.91, 0.92], ("ps", "genre"): [0.5, 0.52, 0.51],
                        ("ts", "key"): [0.1, 0.11, 0.12], ("ps", "key"): [0.4, 0.42, 0.41]})
    c4 = next(c for c in judge_claims(cfg, clear) if c["claim"] == 4)
    assert c4["verdict"] == "supported" and c4["best_by_task"] == {"genre knn_accuracy": "ts", "key knn_accuracy": "ps"}
    noise = _task_rows({("ts", "genre"): [0.9, 0.5, 0.7], ("ps", "genre"): [0.6, 0.8, 0.65],
                        ("ts", "key"): [0.4, 0.1, 0.3], ("ps", "key"): [0.2, 0.3, 0.35]})
    c4 = next(c for c in judge_claims(cfg, noise) if c["claim"] == 4)
    assert c4["verdict"] == "not supported"


def test_claim_4_one_sided_evidence_is_not_enough():
    cfg = _cfg(["none", "ts", "ps"])
    rows = _task_rows({("ts", "genre"): [0.9, 0.91, 0.92], ("ps", "genre"): [0.5, 0.52, 0.51],
                       ("ts", "key"): [0.40, 0.10, 0.30], ("ps", "key"): [0.41, 0.12, 0.33]})
    c4 = next(c for c in judge_claims(cfg, rows) if c["claim"] == 4)
    assert c4["best_by_task"]["key knn_accuracy"] == "ps"
    assert c4["verdict"] == "not supported"

"""The study: a tiny end-to-end run, caching and resumption, the claims logic, presets."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest

from tunespace.cli import main
from tunespace.errors import ConfigError
from tunespace.study import resolve_study_config, run_study
from tunespace.study.claims import StudyItems, judge_claims
from tunespace.study.stats import holm, mean_ci, two_source


def _tiny(train_corpus) -> dict:
    return resolve_study_config(
        None,
        "demo",
        [
            "seeds=[0, 1]",
            "conditions=[none, ps]",
            f"train_data={{name: tr, path: {train_corpus}}}",
            f"eval_data=[{{name: ev, path: {train_corpus}}}, {{name: cf, path: {train_corpus}, role: confirmatory}}]",
            "train={train: {steps: 2, batch_size: 4, checkpoint_every: 1, log_every: 1, threads: 1}, "
            "model: {encoder_args: {width: 16, depth: 1, embedding_dim: 16}, "
            "projector: {hidden_dims: [16], out_dim: 8}}}",
            "analysis={ks: [1, 3], headline_k: 3, bootstrap: 10, knn_k: 3, probes: [linear], "
            "properties: [key, tempo_bpm, genre], "
            "folds: 3, null_replicates: 20}",
            "baselines=[chroma]",
            "umap=false",
        ],
    )


@pytest.mark.slow
def test_tiny_study_end_to_end_resume_and_cache(train_corpus, tmp_path, capsys, monkeypatch):
    cfg = _tiny(train_corpus)
    out = tmp_path / "study"
    assert run_study(out, cfg, should_stop=lambda n: n >= 3) == {"stopped": True}
    done_before = sorted(p.parent.name for p in (out / "stages").glob("*/done.json"))
    assert len(done_before) == 3
    run_study(out, cfg)
    rows = json.loads((out / "results.json").read_text())
    assert {r["condition"] for r in rows} == {"none", "ps", "baseline:chroma"}
    assert {r["seed"] for r in rows if r["condition"] == "ps"} == {0, 1}
    assert {"locality", "agreement", "chance", "knn_accuracy", "probe_linear"} <= {r["metric"] for r in rows}
    header = (out / "results.csv").read_text().splitlines()[0]
    assert header == "condition,seed,dataset,property,metric,k,value"
    report = (out / "report.md").read_text()
    assert "### Exploratory: ev" in report and "### Confirmatory: cf" in report and "PS lowers key locality" in report
    assert "noise floor" in report
    assert (out / "plots" / "locality_by_property_ev.png").stat().st_size > 1000
    assert (out / "plots" / "locality_vs_k_cf.png").stat().st_size > 1000
    claims = json.loads((out / "claims.json").read_text())
    assert {(c["claim"], c["dataset"]) for c in claims} == {(n, d) for n in (1, 2, 3, 4) for d in ("ev", "cf")}
    assert {c["verdict"] for c in claims if c["claim"] == 2} == {"not tested"}  # no ts condition
    for c in claims:  # each verdict follows from its stated rule and numbers
        if c["claim"] == 2:
            continue
        if c["claim"] == 1:
            d = c["difference"]
            assert d["n_items"] == 16 and d["n_seeds"] == 2 and c["null_sd"] > 0
            expected = "supported" if d["ci_high"] < 0 else "contradicted" if d["ci_low"] > 0 else "not supported"
            assert c["verdict"] == expected, c
        elif c["claim"] == 3:
            up = sum(x["p_holm"] <= 0.05 and x["difference"]["mean"] > 0 for x in c["differences"])
            down = sum(x["p_holm"] <= 0.05 and x["difference"]["mean"] < 0 for x in c["differences"])
            assert c["detail"].startswith(f"{up} of {len(c['differences'])} differences significantly positive, {down}")
        else:
            assert c["verdict"] == ("supported" if c["p"] < 0.025 else "not supported")
            assert c["p"] == pytest.approx(min(1, 2 * min(d["p"] for d in c["directions"])))
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
    assert len(list((out / "stages").glob("null-*/done.json"))) == 1  # one per evaluation data (ev and cf share it)
    # bench/genre_confusion.py searches the study's embeddings again: its overall k-NN accuracy is the study's
    import runpy
    from pathlib import Path

    script = Path(__file__).parents[2] / "bench" / "genre_confusion.py"
    monkeypatch.setattr("sys.argv", ["x", "--study", str(out), "--dataset", "ev", "--k", "3", "--groups", ""])
    capsys.readouterr()
    runpy.run_path(str(script), run_name="__main__")
    table = [line.split("|")[1:-1] for line in capsys.readouterr().out.splitlines() if line.startswith("| ")]
    got = {(c.strip(), int(sd)): float(a) for c, sd, a, *_ in table[1:]}
    want = {
        (r["condition"], r["seed"]): r["value"]
        for r in rows
        if r["metric"] == "knn_accuracy" and r["property"] == "genre" and r["dataset"] == "ev" and r["k"] == 3
    }
    assert set(got) == set(want) and len(got) == 5
    assert all(got[key] == pytest.approx(want[key], abs=5.01e-4) for key in want)  # printed to 3 decimals


CFG = {
    "conditions": ["none", "ts", "ps"],
    "eval_data": [{"name": "d"}],
    "analysis": {"headline_k": 10, "knn_k": 10, "split_seed": 0},
}


def _items(values: dict, chance: dict | None = None, n: int = 100) -> StudyItems:
    """values: (prop, metric, k) -> condition -> (S, N); chance: prop -> (N,)."""
    return StudyItems(
        ids={"d": [f"t{i}" for i in range(n)]},
        values={("d", *key): v for key, v in values.items()},
        chance={("d", p): c for p, c in (chance or {}).items()},
        null={("d", "key", "10"): 0.01},
    )


def _agreement(rng, p, s=4, n=100, k=10):
    return rng.binomial(k, np.broadcast_to(p, (s, n))) / k


def _claim(claims, num):
    return next(c for c in claims if c["claim"] == num)


def test_claim_1_follows_the_interval_over_seeds_and_tracks():
    rng = np.random.default_rng(0)
    chance = np.full(100, 0.05)
    clear = {("key", "locality", "10"): {"none": _agreement(rng, 0.15), "ps": _agreement(rng, 0.05)}}
    c1 = _claim(judge_claims(CFG, _items(clear, {"key": chance})), 1)
    assert c1["verdict"] == "supported" and c1["difference"]["ci_high"] < 0
    expect = (clear[("key", "locality", "10")]["ps"].mean() - clear[("key", "locality", "10")]["none"].mean()) / 0.95
    assert c1["difference"]["mean"] == pytest.approx(expect)
    assert c1["effect_in_null_sd"] == pytest.approx(expect / 0.01)
    same = {("key", "locality", "10"): {"none": _agreement(rng, 0.1), "ps": _agreement(rng, 0.1)}}
    assert _claim(judge_claims(CFG, _items(same, {"key": chance})), 1)["verdict"] == "not supported"
    up = {("key", "locality", "10"): {"none": _agreement(rng, 0.05), "ps": _agreement(rng, 0.2)}}
    assert _claim(judge_claims(CFG, _items(up, {"key": chance})), 1)["verdict"] == "contradicted"


def test_seeds_that_agree_do_not_make_a_track_effect_significant():
    """The issue's case: every seed sees the same tracks. A difference carried by a few tracks
    is the same for all seeds (a t-interval over seeds is tiny) but would not repeat on other
    tracks: the interval over seeds and tracks does not exclude 0."""
    rng = np.random.default_rng(1)
    n = 160
    none = np.tile(rng.binomial(10, 0.1, n) / 10, (4, 1))
    ps = none.copy()
    ps[:, :3] -= 0.3  # three tracks lose neighbours, in every seed
    ps[:, 3:5] += 0.2  # two gain
    per_seed = (ps.mean(1) - none.mean(1)) / 0.96
    assert mean_ci(list(per_seed)).n == 4 and np.ptp(per_seed) == 0  # the seeds-only view: no spread at all
    c1 = _claim(
        judge_claims(
            CFG, _items({("key", "locality", "10"): {"none": none, "ps": ps}}, {"key": np.full(n, 0.04)}, n=n)
        ),
        1,
    )
    assert c1["difference"]["mean"] < 0 and c1["verdict"] == "not supported"


def test_claims_are_not_tested_without_the_conditions():
    rng = np.random.default_rng(2)
    items = _items({("key", "locality", "10"): {"none": _agreement(rng, 0.1)}}, {"key": np.full(100, 0.05)})
    claims = judge_claims({**CFG, "conditions": ["none"]}, items)
    assert {c["verdict"] for c in claims} == {"not tested"}


def test_claim_3_holm_over_the_family():
    rng = np.random.default_rng(3)
    vals, chance = {}, {}
    for prop in ("genre", "mood", "instrument"):
        chance[prop] = np.full(100, 0.2)
        vals[(prop, "locality", "10")] = {c: _agreement(rng, 0.4) for c in ("none", "ts", "ps")}
        vals[(prop, "knn_accuracy", "10")] = {
            c: (rng.uniform(size=(4, 100)) < 0.6).astype(float) for c in ("none", "ts", "ps")
        }
    c3 = _claim(judge_claims(CFG, _items(vals, chance)), 3)
    assert len(c3["differences"]) == 12 and c3["verdict"] == "not supported"
    vals[("genre", "locality", "10")]["ts"] = _agreement(rng, 0.7)  # one large true rise
    c3 = _claim(judge_claims(CFG, _items(vals, chance)), 3)
    assert c3["verdict"] == "partly supported" and c3["detail"].startswith("1 of 12")
    for prop in ("genre", "mood", "instrument"):
        for c in ("ts", "ps"):
            vals[(prop, "locality", "10")][c] = _agreement(rng, 0.8)
            vals[(prop, "knn_accuracy", "10")][c] = (rng.uniform(size=(4, 100)) < 0.95).astype(float)
    assert _claim(judge_claims(CFG, _items(vals, chance)), 3)["verdict"] == "supported"
    vals[("mood", "locality", "10")]["ps"] = _agreement(rng, 0.1)
    assert _claim(judge_claims(CFG, _items(vals, chance)), 3)["verdict"] == "mixed"


def test_holm_adjusted_p_values():
    np.testing.assert_allclose(holm(np.array([0.01, 0.04, 0.03, 0.005])), [0.03, 0.06, 0.06, 0.02])
    np.testing.assert_allclose(holm(np.array([[0.5, 0.01], [0.02, 0.03]])), [[0.5, 0.02], [0.04, 0.04]])


def _tasks(rng, means: dict) -> dict:
    return {
        (p, "knn_accuracy", "10"): {c: (rng.uniform(size=(4, 200)) < m).astype(float) for c, m in by.items()}
        for p, by in means.items()
    }


def test_claim_4_needs_a_crossing_that_holds_on_held_out_tracks():
    rng = np.random.default_rng(4)
    cfg = {**CFG, "conditions": ["ts", "ps"]}
    clear = _tasks(rng, {"genre": {"ts": 0.9, "ps": 0.6}, "key": {"ts": 0.2, "ps": 0.5}})
    c4 = _claim(judge_claims(cfg, _items(clear, n=200)), 4)
    assert c4["verdict"] == "supported" and c4["best_by_task"] == {
        "genre knn_accuracy@10": "ts",
        "key knn_accuracy@10": "ps",
    }
    assert {d["chosen_on"] for d in c4["directions"]} == {"half 1", "half 2"}
    assert all(d["difference_1"]["n_items"] == 100 for d in c4["directions"])  # tested on the other half only
    noise = _tasks(rng, {"genre": {"ts": 0.7, "ps": 0.7}, "key": {"ts": 0.3, "ps": 0.3}})
    assert _claim(judge_claims(cfg, _items(noise, n=200)), 4)["verdict"] == "not supported"
    one_sided = _tasks(rng, {"genre": {"ts": 0.9, "ps": 0.6}, "key": {"ts": 0.3, "ps": 0.3}})
    assert _claim(judge_claims(cfg, _items(one_sided, n=200)), 4)["verdict"] == "not supported"


def test_two_source_interval_matches_its_parts():
    rng = np.random.default_rng(5)
    # seeds only (every track the same value within a seed): the t-interval over seeds
    per_seed = np.array([0.1, 0.3, 0.2, 0.25])
    e = two_source(np.tile(per_seed[:, None], (1, 50))).estimate()
    ref = mean_ci(list(per_seed))
    assert e.mean == pytest.approx(ref.mean) and e.low == pytest.approx(ref.low) and e.df == pytest.approx(3)
    # tracks only (one seed): the mean's standard error over tracks, df N - 1
    x = rng.uniform(size=(1, 80))
    e = two_source(x).estimate()
    assert e.se == pytest.approx(x.std(ddof=1) / np.sqrt(80)) and e.df == pytest.approx(79)
    # locality: the linearised track term agrees with a bootstrap over tracks
    a = (rng.uniform(size=(1, 300)) < 0.3).astype(float)
    c = rng.uniform(0.05, 0.3, 300)
    boot = []
    for _ in range(2000):
        i = rng.integers(0, 300, 300)
        boot.append((a[0, i].mean() - c[i].mean()) / (1 - c[i].mean()))
    assert two_source(a, None, c).estimate().se == pytest.approx(np.std(boot), rel=0.1)


def test_mean_ci_matches_student_t():
    e = mean_ci([1.0, 2.0, 3.0])
    # t(0.975, 2) = 4.302653; sd = 1; se = 1/sqrt(3)
    assert math.isclose(e.high - e.mean, 4.302653 / math.sqrt(3), rel_tol=1e-5)
    assert mean_ci([0.4]).n == 1 and math.isnan(mean_ci([0.4]).low)


def test_config_errors_are_one_line_and_exit_2(tmp_path, capsys):
    with pytest.raises(ConfigError, match="unknown policy"):
        resolve_study_config(None, "demo", ["conditions=[none, wobble]"])
    with pytest.raises(ConfigError, match="unknown study config key"):
        resolve_study_config(None, "demo", ["seedz=[1]"])
    assert main(["study", "--preset", "demo", "--out", str(tmp_path / "s"), "baselines=[nope]"]) == 2
    err = capsys.readouterr().err
    assert "baseline" in err and "nope" in err and err.count("\n") == 1
    with pytest.raises(ConfigError, match=r"role must be .*exploratory.*confirmatory.*final"):
        resolve_study_config(None, "demo", ["eval_data=[{name: x, path: /tmp, role: final}]"])


def test_presets_resolve():
    demo = resolve_study_config(None, "demo")
    assert {"none", "ts", "ps"} <= set(demo["conditions"]) and len(demo["seeds"]) >= 3
    roles = {e["role"] for e in demo["eval_data"]}
    assert roles == {"exploratory", "confirmatory"}
    confirm = next(e for e in demo["eval_data"] if e["role"] == "confirmatory")
    assert confirm["corpus"]["source"] == "music21"  # real compositions, not the procedural generator
    assert confirm["corpus"]["seed"] not in {demo["train_data"]["corpus"]["seed"]} | {
        e["corpus"]["seed"] for e in demo["eval_data"] if e is not confirm
    }
    default = resolve_study_config(None, "default")
    assert {"ps@waveform", "ts@waveform", "ts+ps+eq"} <= set(default["conditions"])
    paper = resolve_study_config(None, "paper")
    assert paper["train"]["model"]["encoder"] == "sfnfnet_f0"
    assert paper["train"]["model"]["projector"] == {"hidden_dims": [4096, 4096], "out_dim": 4096}
    # README's cluster command: 120 pairs per GPU over 2 nodes x 8 GPUs = 1920 per step
    from tunespace.study.launcher import world_size

    assert world_size(paper) == 1  # the local launcher: one process
    on_slurm = resolve_study_config(None, "paper", ["launcher.kind=slurm", "launcher.partition=gpu"])
    assert world_size(on_slurm) * on_slurm["train"]["train"]["batch_size"] == 1920


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


def test_confirmatory_instruments_are_unseen_by_the_procedural_design():
    """The demo's confirmatory set plays its lead lines on General MIDI programs that no
    procedural track uses, as lead or accompaniment (the design never heard them)."""
    from tunespace.corpus.music21_source import ENSEMBLE_PROGRAM, M21_INSTRUMENTS
    from tunespace.corpus.styles import GENRES, INSTRUMENTS

    used = set()
    for g in GENRES.values():
        used |= {INSTRUMENTS[i].program for i in g.palette} | set(g.texture_programs) | {g.bass_program}
    assert not {i.program for i in M21_INSTRUMENTS.values()} & used and ENSEMBLE_PROGRAM not in used
    assert not set(M21_INSTRUMENTS) & set(INSTRUMENTS)

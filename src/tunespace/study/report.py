"""The study's report: the verdict on each claim for each evaluation set, the tables and plots
they rest on (``report.md``, ``claims.json``, ``plots/``).

The claims, and the rule each verdict follows from, are in :mod:`tunespace.study.claims`;
the statistics (intervals over training seeds *and* evaluation tracks) in
:mod:`tunespace.study.stats`; the definitions of the measures in ``docs/metrics.md``.

Tables: mean over seeds of each condition with a 95 % interval over seeds and tracks; for
locality a t-interval (:func:`tunespace.study.stats.two_source`), for k-NN accuracy and
probe scores (means of per-item scores in [0, 1]) the Clopper-Pearson interval at the
effective sample size of the same standard error (:mod:`tunespace.probes.intervals`), which
stays inside [0, 1]. Baselines are one deterministic model each: their intervals cover the
tracks only. Each locality table ends with the noise floor: the SD of L@k of random
embeddings of the same tracks.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import numpy as np

from ..files import write_json, write_text
from ..probes.intervals import bounded_interval
from .claims import RULES, SHORTCUT_FREE_PROPS, StudyItems, judge_claims
from .stats import Estimate

_ORDER = ["key", "key_graded", "tempo_bpm", "tempo_bpm_acc2", "genre", "mood", "instrument"]


def _prop_order(p: str) -> tuple[int, str]:
    return (_ORDER.index(p) if p in _ORDER else len(_ORDER), p)


def estimate(items: StudyItems, ds: str, prop: str, metric: str, k: str, cond: str) -> Estimate | None:
    """A condition's mean with its interval over seeds and tracks (bounded for scores in [0, 1])."""
    e = items.estimate(ds, prop, metric, k, cond)
    if e is None:
        return None
    est = e.estimate()
    if metric == "locality" or math.isnan(est.mean):
        return est
    n_max = int(np.asarray(e.n_items)) * e.n_seeds
    lo, hi = bounded_interval(est.mean, est.se, n_max)
    return Estimate(est.mean, lo, hi, est.n, est.se, est.df, est.p, est.n_items)


def _conditions(cfg: dict[str, Any], items: StudyItems) -> list[str]:
    seen = [c for byc in items.values.values() for c in byc]
    return [c for c in cfg["conditions"] if c in seen] + sorted({c for c in seen if c.startswith("baseline:")})


def summary_tables(cfg: dict[str, Any], items: StudyItems) -> dict[str, str]:
    """Markdown tables per dataset: locality@k (with the noise floor), k-NN accuracy and probe
    scores, mean [95 % interval over seeds and tracks]."""
    k = str(cfg["analysis"]["headline_k"])
    kk = str(cfg["analysis"]["knn_k"])
    conds = _conditions(cfg, items)
    tables = {}
    for spec in cfg["eval_data"]:
        ds = spec["name"]
        out = []
        for title, metric, kx in (
            (f"Locality L@{k} (0 = chance, 1 = every neighbour shares the property)", "locality", k),
            (f"k-NN retrieval accuracy (k = {kk}, leave-one-out)", "knn_accuracy", kk),
            *[
                (f"{p} probe score ({cfg['analysis']['folds']}-fold cross-validation)", f"probe_{p}", "")
                for p in cfg["analysis"]["probes"]
            ],
        ):
            props = sorted(
                {key[1] for key in items.values if key[0] == ds and key[2] == metric and key[3] == kx}, key=_prop_order
            )
            if not props:
                continue
            lines = [f"**{title}**", "", "| condition | " + " | ".join(props) + " |", "|---" * (len(props) + 1) + "|"]
            for c in conds:
                cells = []
                for p in props:
                    e = estimate(items, ds, p, metric, kx, c)
                    cells.append(e.fmt() if e is not None else "–")
                lines.append(f"| {c} | " + " | ".join(cells) + " |")
            if metric == "locality":
                sds = [items.null.get((ds, p, k)) for p in props]
                lines.append(
                    "| *noise floor (SD, random embeddings)* | "
                    + " | ".join(f"{v:.3f}" if v is not None else "–" for v in sds)
                    + " |"
                )
            out.append("\n".join(lines))
        tables[ds] = "\n\n".join(out)
    return tables


def best_policy(cfg: dict[str, Any], items: StudyItems, ds: str) -> str | None:
    """The trained condition with the highest mean k-NN accuracy over genre, mood and instrument."""
    kk = str(cfg["analysis"]["knn_k"])
    scores = {}
    for c in cfg["conditions"]:
        vals = [
            np.nanmean(items.values[(ds, p, "knn_accuracy", kk)][c])
            for p in SHORTCUT_FREE_PROPS
            if c in items.values.get((ds, p, "knn_accuracy", kk), {})
        ]
        if vals:
            scores[c] = float(np.mean(vals))
    return max(scores, key=scores.get) if scores else None


def _verdict_table(claims: list[dict[str, Any]], ds: str) -> list[str]:
    lines = ["| # | claim | verdict | effect [95 % CI, seeds + tracks] | in noise-floor SDs |", "|---|---|---|---|---|"]
    for c in claims:
        if c["dataset"] != ds:
            continue
        effect, units = c.get("detail", ""), "–"
        if c["claim"] in (1, 2) and "difference" in c:
            effect = f"{c['comparison']}, {c['metric']}: " + _fmt(c["difference"])
            units = (
                f"{c['effect_in_null_sd']:+.1f} (SD {c['null_sd']:.4f})"
                if c.get("effect_in_null_sd") is not None
                else "–"
            )
        lines.append(f"| {c['claim']} | {c['text']} | **{c['verdict']}** | {effect} | {units} |")
    return lines


def _fmt(d: dict[str, Any]) -> str:
    return Estimate(d["mean"], d["ci_low"], d["ci_high"], d["n_seeds"]).fmt()


def _claim_details(claims: list[dict[str, Any]], ds: str) -> list[str]:
    lines = []
    for c in claims:
        if c["dataset"] != ds:
            continue
        if c["claim"] == 3 and "differences" in c:
            lines += [
                "",
                f"Claim 3, the family of {len(c['differences'])} tests (Holm-adjusted p, two-sided):",
                "",
                "| comparison | property | metric | difference [95 % CI] | noise-floor SDs | p (Holm) |",
                "|---|---|---|---|---|---|",
            ]
            for d in c["differences"]:
                u = f"{d['difference']['mean'] / d['null_sd']:+.1f}" if d.get("null_sd") else "–"
                lines.append(
                    f"| {d['comparison']} | {d['property']} | {d['metric']} | {_fmt(d['difference'])} | {u} "
                    f"| {d['p_holm']:.3g} |"
                )
        if c["claim"] == 4 and "directions" in c:
            lines += [
                "",
                "Claim 4: best policy by task (all tracks, descriptive): "
                + "; ".join(f"{t}: {b}" for t, b in c["best_by_task"].items())
                + ".",
                "",
                "| chosen on | tested on | crossing tested | p (larger of the two) |",
                "|---|---|---|---|",
            ]
            for d in c["directions"]:
                lines.append(f"| {d['chosen_on']} | {d['tested_on']} | {d['detail']} | {d['p']:.3g} |")
            lines.append(f"\nCombined (Bonferroni): p = {c['p']:.3g}.")
    return lines


def write_report(
    out: Path, cfg: dict[str, Any], rows: list[dict[str, Any]], embeddings: dict, evals: list, items: StudyItems
) -> dict[str, Any]:
    """Write ``report.md``, ``claims.json`` and the plots; returns a summary for printing."""
    from .plots import plot_locality_by_property, plot_locality_vs_k, plot_umaps

    claims = judge_claims(cfg, items)
    tables = summary_tables(cfg, items)
    plots_dir = out / "plots"
    plots = []
    for spec in cfg["eval_data"]:
        ds = spec["name"]
        plots.append(plot_locality_by_property(items, cfg, ds, plots_dir / f"locality_by_property_{ds}.png"))
        plots.append(plot_locality_vs_k(items, cfg, ds, plots_dir / f"locality_vs_k_{ds}.png"))
        if cfg.get("umap"):
            best = best_policy(cfg, items, ds)
            p = plot_umaps(
                embeddings,
                evals,
                ds,
                ["none", best] if best and best != "none" else ["none"],
                cfg["seeds"][0],
                plots_dir / f"umap_{ds}.png",
            )
            if p is not None:
                plots.append(p)
    roles = {s["name"]: s.get("role", "exploratory") for s in cfg["eval_data"]}
    a = cfg["analysis"]
    md = [
        f"# tunespace study: {cfg.get('name', '')}",
        "",
        f"Conditions: {', '.join(cfg['conditions'])}; seeds: {', '.join(map(str, cfg['seeds']))}; evaluation sets: "
        + ", ".join(f"{n} ({r})" for n, r in roles.items())
        + ".",
        "",
        "Every number is a mean over seeds with a 95 % interval that covers both sources of variance: the "
        "training seeds and the evaluation tracks (the same seeds and tracks paired across conditions; "
        "`tunespace.study.stats`). Baselines (`baseline:*`) are deterministic: their intervals cover the tracks. "
        f"The noise floor is the SD of L@k over {a['null_replicates']} sets of random embeddings of the same "
        "tracks. Definitions of the measures: `docs/metrics.md`.",
        "",
        "Verdicts on exploratory sets may have informed design choices; verdicts on confirmatory sets test a "
        "design fixed before those sets were looked at.",
        "",
    ]
    grouped = [(s["name"], s["groups"]) for s in cfg["eval_data"] if s.get("groups")]
    if grouped:
        md += [
            "Neighbours that share the query's group are left out of locality, its noise floor and k-NN, and "
            "the probes' folds keep each group together: " + ", ".join(f"{n} (same {g})" for n, g in grouped) + ".",
            "",
        ]
    md += ["## Verdicts", ""]
    for ds, role in roles.items():
        md += [f"### {role.capitalize()}: {ds}", ""] + _verdict_table(claims, ds) + _claim_details(claims, ds) + [""]
    md += ["## Rules", "", *[f"{n}. {RULES[n]}" for n in sorted(RULES)], ""]
    for ds, t in tables.items():
        md += [f"## {ds} ({roles[ds]})", "", t, ""]
    md += ["## Plots", ""] + [f"![{Path(p).stem}](plots/{Path(p).name})" for p in plots if p] + [""]
    write_text(out / "report.md", "\n".join(md))
    write_json(out / "claims.json", claims)
    return {"claims": claims, "tables": tables, "plots": [str(p) for p in plots if p]}


def format_summary(summary: dict[str, Any], claims_to_print: tuple[int, ...] = ()) -> str:
    """The text ``tunespace study`` prints: the tables and the verdicts (all claims by default)."""
    lines = []
    for ds, t in summary.get("tables", {}).items():
        lines += [f"== {ds} ==", t, ""]
    lines.append("Claims (95 % intervals over seeds and tracks):")
    for c in summary.get("claims", []):
        if c["claim"] in claims_to_print or not claims_to_print:
            what = f"{c.get('comparison', '')} {c.get('metric', '')}: " if c.get("comparison") else ""
            lines.append(
                f"  claim {c['claim']} [{c['dataset']}, {c.get('role', 'exploratory')}] {c['text']}: "
                f"{c['verdict'].upper()}  ({what}{c.get('detail', '')})"
            )
    if "wall_seconds" in summary and not math.isnan(summary["wall_seconds"]):
        lines.append(f"wall time: {summary['wall_seconds'] / 60:.1f} min")
    return "\n".join(lines)

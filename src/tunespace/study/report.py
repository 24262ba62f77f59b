"""The study's report: summary tables, the verdict on each claim, plots.

Claims (from the study, see ``shared/research-brief.md``), judged at ``analysis.headline_k``
on every evaluation dataset, as paired differences against ``none`` over seeds:

1. PS lowers key locality compared with ``none``.
2. TS lowers tempo locality compared with ``none``.
3. Policies that remove the key and tempo shortcuts (any with ps or ts) raise genre, mood and
   instrument locality and k-NN retrieval accuracy compared with ``none``.
4. The best policy differs between downstream tasks (k-NN and probe scores per property):
   supported when two policies each win a task significantly: a is best on one task and beats
   b there, b is best on another and beats a there (paired intervals excluding zero).

A claim is *supported* when its difference's 95 % interval excludes zero in the claimed
direction; otherwise it is reported as *not supported* (or *partly*, for 3), with the numbers.
"""

from __future__ import annotations

import math
from collections import defaultdict
from pathlib import Path
from typing import Any

from ..augment import parse_condition
from ..files import write_json, write_text
from .stats import Estimate, mean_ci, paired_difference

SHORTCUT_FREE_PROPS = ("genre", "mood", "instrument")


def _index(rows: list[dict[str, Any]]) -> dict[tuple, dict[int, float]]:
    """(condition, dataset, property, metric, k) -> {seed: value}."""
    idx: dict[tuple, dict[int, float]] = defaultdict(dict)
    for r in rows:
        idx[(r["condition"], r["dataset"], r["property"], r["metric"], str(r.get("k", "")))][int(r["seed"])] = float(r["value"])
    return idx


def _policy(cond: str) -> str:
    return parse_condition(cond)[0] if not cond.startswith("baseline:") else cond


def _pick(conditions: list[str], want: str) -> str | None:
    """The condition that is exactly ``want`` (default backend), else the first whose policy is ``want``."""
    if want in conditions:
        return want
    for c in conditions:
        if _policy(c) == want:
            return c
    return None


def judge_claims(cfg: dict[str, Any], rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The verdict on each claim for each evaluation dataset."""
    idx = _index(rows)
    k = str(cfg["analysis"]["headline_k"])
    conds = [c for c in cfg["conditions"]]
    datasets = [s["name"] for s in cfg["eval_data"]]
    claims = []
    for ds in datasets:
        base = "none" if "none" in conds else None
        for num, (want, prop, text) in enumerate(
            [("ps", "key", "PS lowers key locality compared with none"),
             ("ts", "tempo_bpm", "TS lowers tempo locality compared with none")], start=1):
            cond = _pick(conds, want)
            if base is None or cond is None:
                claims.append({"claim": num, "dataset": ds, "text": text, "verdict": "not tested",
                               "detail": f"needs conditions none and {want}"})
                continue
            d = paired_difference(idx[(cond, ds, prop, "locality", k)], idx[(base, ds, prop, "locality", k)])
            verdict = "supported" if d.n >= 2 and d.high < 0 else ("contradicted" if d.n >= 2 and d.low > 0 else "not supported")
            claims.append({"claim": num, "dataset": ds, "text": text, "verdict": verdict, "comparison": f"{cond} - {base}",
                           "metric": f"{prop} locality@{k}", "difference": d.as_dict(), "detail": d.fmt()})
        # claim 3
        text3 = "Policies removing the key/tempo shortcuts raise genre, mood, instrument locality and k-NN accuracy"
        removers = [c for c in conds if c != "none" and any(p in _policy(c).split("+") for p in ("ts", "ps"))]
        if base is None or not removers:
            claims.append({"claim": 3, "dataset": ds, "text": text3, "verdict": "not tested", "detail": "needs none and a ts/ps policy"})
        else:
            parts, ups, downs, total = [], 0, 0, 0
            for c in removers:
                for prop in SHORTCUT_FREE_PROPS:
                    for metric, kk in (("locality", k), ("knn_accuracy", str(cfg["analysis"]["knn_k"]))):
                        a, b = idx.get((c, ds, prop, metric, kk)), idx.get((base, ds, prop, metric, kk))
                        if not a or not b:
                            continue
                        d = paired_difference(a, b)
                        total += 1
                        ups += d.n >= 2 and d.low > 0
                        downs += d.n >= 2 and d.high < 0
                        parts.append({"comparison": f"{c} - {base}", "property": prop, "metric": f"{metric}@{kk}", "difference": d.as_dict()})
            verdict = ("supported" if total and ups == total else
                       "partly supported" if ups > 0 and downs == 0 else
                       "mixed" if ups > 0 and downs > 0 else "not supported")
            claims.append({"claim": 3, "dataset": ds, "text": text3, "verdict": verdict,
                           "detail": f"{ups} of {total} differences significantly positive, {downs} significantly negative",
                           "differences": parts})
        # claim 4
        text4 = "The best policy differs between downstream tasks"
        tasks: dict[str, dict[str, dict[int, float]]] = defaultdict(dict)
        for (c, d_, prop, metric, kk), vals in idx.items():
            if d_ != ds or c.startswith("baseline:") or metric not in ("knn_accuracy", "probe_linear", "probe_mlp"):
                continue
            tasks[f"{prop} {metric}"][c] = vals
        best = {t: max(e.items(), key=lambda kv: mean_ci(list(kv[1].values())).mean)[0] for t, e in tasks.items() if e}
        distinct = sorted(set(best.values()))
        # supported only when two policies each win a task significantly: a is best on one task
        # and beats b there, b is best on another task and beats a there (paired intervals > 0)
        wins: dict[tuple[str, str], list[str]] = defaultdict(list)
        for t, b in best.items():
            for other in distinct:
                if other != b and other in tasks[t]:
                    d = paired_difference(tasks[t][b], tasks[t][other])
                    if d.excludes_zero and d.low > 0:
                        wins[(b, other)].append(f"{t}: {b} - {other} = {d.fmt()}")
        evidence = [w for (a, b), ws in wins.items() if (b, a) in wins for w in ws]
        verdict = ("supported" if evidence else "not supported") if best else "not tested"
        detail = f"best policies: {', '.join(distinct) or 'n/a'}"
        detail += (f"; significant both ways: {'; '.join(evidence)}" if evidence else
                   "; no two policies each win a task significantly")
        claims.append({"claim": 4, "dataset": ds, "text": text4, "verdict": verdict, "detail": detail,
                       "best_by_task": best, "evidence": evidence})
    return claims


def summary_tables(cfg: dict[str, Any], rows: list[dict[str, Any]]) -> dict[str, str]:
    """Markdown tables per dataset: locality@k, k-NN accuracy and probe scores, mean [95 % CI] over seeds."""
    idx = _index(rows)
    k = str(cfg["analysis"]["headline_k"])
    conds = list(dict.fromkeys(r["condition"] for r in rows))
    tables = {}
    for spec in cfg["eval_data"]:
        ds = spec["name"]
        out = []
        for title, metric, kk in (
            (f"Locality L@{k} (0 = chance, 1 = every neighbour shares the property)", "locality", k),
            (f"k-NN retrieval accuracy (k = {cfg['analysis']['knn_k']}, leave-one-out)", "knn_accuracy", str(cfg["analysis"]["knn_k"])),
            *[(f"{p} probe score", f"probe_{p}", "") for p in cfg["analysis"]["probes"]],
        ):
            props = sorted({key[2] for key in idx if key[1] == ds and key[3] == metric and key[4] == kk}, key=_prop_order)
            if not props:
                continue
            lines = [f"**{title}**", "", "| condition | " + " | ".join(props) + " |", "|---" * (len(props) + 1) + "|"]
            for c in conds:
                cells = [mean_ci(list(idx.get((c, ds, p, metric, kk), {}).values())).fmt() if idx.get((c, ds, p, metric, kk)) else "–" for p in props]
                lines.append(f"| {c} | " + " | ".join(cells) + " |")
            out.append("\n".join(lines))
        tables[ds] = "\n\n".join(out)
    return tables


def _prop_order(p: str) -> tuple[int, str]:
    order = ["key", "key_graded", "tempo_bpm", "tempo_bpm_acc2", "genre", "mood", "instrument"]
    return (order.index(p) if p in order else len(order), p)


def write_report(out: Path, cfg: dict[str, Any], rows: list[dict[str, Any]], embeddings: dict, evals: list) -> dict[str, Any]:
    """Write ``report.md``, ``claims.json`` and the plots; returns a summary for printing."""
    from .plots import plot_locality_by_property, plot_locality_vs_k, plot_umaps

    claims = judge_claims(cfg, rows)
    tables = summary_tables(cfg, rows)
    plots_dir = out / "plots"
    plots = []
    for spec in cfg["eval_data"]:
        ds = spec["name"]
        plots.append(plot_locality_by_property(rows, cfg, ds, plots_dir / f"locality_by_property_{ds}.png"))
        plots.append(plot_locality_vs_k(rows, cfg, ds, plots_dir / f"locality_vs_k_{ds}.png"))
        if cfg.get("umap"):
            best = best_policy(cfg, rows, ds)
            p = plot_umaps(embeddings, evals, ds, ["none", best] if best and best != "none" else ["none"],
                           cfg["seeds"][0], plots_dir / f"umap_{ds}.png")
            if p is not None:
                plots.append(p)
    md = [f"# tunespace study: {cfg.get('name', '')}", "",
          f"Conditions: {', '.join(cfg['conditions'])}; seeds: {', '.join(map(str, cfg['seeds']))}; "
          f"mean [95 % CI over seeds, Student's t]. Baselines (`baseline:*`) are deterministic references.", ""]
    for ds, t in tables.items():
        md += [f"## {ds}", "", t, ""]
    md += ["## Claims", "", "| # | dataset | claim | verdict | difference [95 % CI] |", "|---|---|---|---|---|"]
    for c in claims:
        md.append(f"| {c['claim']} | {c['dataset']} | {c['text']} | **{c['verdict']}** | {c.get('detail', '')} |")
    md += ["", "## Plots", ""] + [f"![{Path(p).stem}](plots/{Path(p).name})" for p in plots if p] + [""]
    write_text(out / "report.md", "\n".join(md))
    write_json(out / "claims.json", claims)
    return {"claims": claims, "tables": tables, "plots": [str(p) for p in plots if p]}


def best_policy(cfg: dict[str, Any], rows: list[dict[str, Any]], ds: str) -> str | None:
    """The condition with the highest mean k-NN accuracy over genre, mood and instrument."""
    idx = _index(rows)
    kk = str(cfg["analysis"]["knn_k"])
    scores = {}
    for c in cfg["conditions"]:
        vals = [v for p in SHORTCUT_FREE_PROPS for v in idx.get((c, ds, p, "knn_accuracy", kk), {}).values()]
        if vals:
            scores[c] = sum(vals) / len(vals)
    return max(scores, key=scores.get) if scores else None


def format_summary(summary: dict[str, Any], claims_to_print: tuple[int, ...] = (1, 2)) -> str:
    """The text ``tunespace study`` prints: the tables and the verdicts on the chosen claims."""
    lines = []
    for ds, t in summary.get("tables", {}).items():
        lines += [f"== {ds} ==", t, ""]
    lines.append("Claims:")
    for c in summary.get("claims", []):
        if c["claim"] in claims_to_print or not claims_to_print:
            lines.append(f"  claim {c['claim']} [{c['dataset']}] {c['text']}: {c['verdict'].upper()}  ({c.get('comparison', '')} {c.get('metric', '')}: {c.get('detail', '')})")
    if "wall_seconds" in summary and not math.isnan(summary["wall_seconds"]):
        lines.append(f"wall time: {summary['wall_seconds'] / 60:.1f} min")
    return "\n".join(lines)

"""Locality report folder: JSON (the numbers), CSV (the same, one row per value), Markdown
(a table), PNG (a figure).

::

    REPORT/locality.json   {"format": "tunespace-locality/2", "sets": {set name: profile}},
                           sets in the order given, the same layout for one set or several
                           (profile: see locality_profile)
    REPORT/locality.csv    tidy: one row per set x property x measure x k, columns CSV_COLUMNS
    REPORT/locality.md     one table: measure x k rows, for each set agreement, chance and
                           locality with its 95 % bootstrap interval, sets side by side, and
                           the noise floor (SD of random embeddings' locality)
    REPORT/locality.png    locality by measure (bars) for each k (panels), one colour per set,
                           bootstrap intervals as error bars
    REPORT/join.json       {set name: id join report}
    REPORT/config.json     the resolved arguments

Everything in locality.csv, locality.md and locality.png is recomputable from locality.json
(:func:`read_locality` returns {set name: profile}, also for files of earlier versions).
"""

from __future__ import annotations

import csv
import io
from pathlib import Path
from typing import Any

from ..files import atomic_path, read_json, write_json, write_text

FORMAT = "tunespace-locality/2"
#: Columns of locality.csv (``property``: the label column; ``measure``: how agreement is
#: scored, e.g. ``key`` exact or ``key_graded``; empty cells: not computed).
CSV_COLUMNS = (
    "set",
    "property",
    "measure",
    "kind",
    "k",
    "agreement",
    "chance",
    "locality",
    "locality_ci_low",
    "locality_ci_high",
    "agreement_ci_low",
    "agreement_ci_high",
    "null_mean",
    "null_sd",
    "n_queries",
)


def read_locality(path: str | Path) -> dict[str, dict[str, Any]]:
    """{set name: profile} from a report folder or its locality.json (any layout written so far)."""
    path = Path(path)
    data = read_json(path / "locality.json" if path.is_dir() else path)
    if data.get("format") == FORMAT:
        return data["sets"]
    if "properties" in data and "ks" in data:  # one set, before format 2
        return {data["name"]: data}
    return data


def _property_of(profile: dict[str, Any], measure: str) -> str:
    known = profile.get("property_of", {})
    if measure in known:
        return known[measure]
    kind = profile.get("kinds", {}).get(measure)
    for suffix, k in (("_graded", "key"), ("_acc2", "tempo")):
        if kind == k and measure.endswith(suffix):
            return measure[: -len(suffix)]
    return measure


def locality_rows(profiles: dict[str, dict[str, Any]]) -> list[dict[str, Any]]:
    """The tidy rows of locality.csv (dicts keyed by :data:`CSV_COLUMNS`; None where not computed)."""
    rows = []
    for name, prof in profiles.items():
        for measure, by_k in prof["properties"].items():
            for k, r in sorted(by_k.items(), key=lambda kv: int(kv[0])):
                rows.append(
                    {
                        "set": name,
                        "property": _property_of(prof, measure),
                        "measure": measure,
                        "kind": prof.get("kinds", {}).get(measure),
                        "k": int(k),
                        "agreement": r["agreement"],
                        "chance": r["chance"],
                        "locality": r["locality"],
                        "locality_ci_low": r["locality_ci"][0],
                        "locality_ci_high": r["locality_ci"][1],
                        "agreement_ci_low": r["agreement_ci"][0],
                        "agreement_ci_high": r["agreement_ci"][1],
                        "null_mean": r.get("null_mean"),
                        "null_sd": r.get("null_sd"),
                        "n_queries": r["n_queries"],
                    }
                )
    return rows


def tidy_csv(rows: list[dict[str, Any]], columns: tuple[str, ...]) -> str:
    """CSV text of ``rows`` (floats with full precision, None as an empty cell)."""
    buf = io.StringIO()
    w = csv.DictWriter(buf, fieldnames=list(columns), lineterminator="\n")
    w.writeheader()
    for r in rows:
        w.writerow({c: ("" if r.get(c) is None else r[c]) for c in columns})
    return buf.getvalue()


def _measures_and_ks(profiles: dict[str, dict[str, Any]]) -> tuple[list[str], list[int]]:
    """The measures of all ``profiles`` (in order of first appearance) and their k (ascending)."""
    measures: list[str] = []
    ks: set[int] = set()
    for p in profiles.values():
        measures += [m for m in p["properties"] if m not in measures]
        ks.update(p["ks"])
    return measures, sorted(ks)


def markdown_table(profiles: dict[str, dict[str, Any]]) -> str:
    """Markdown table of agreement, chance and locality [95 % CI], sets side by side."""
    names = list(profiles)
    measures, ks = _measures_and_ks(profiles)
    with_null = any(
        r.get("null_sd") is not None
        for p in profiles.values()
        for byk in p["properties"].values()
        for r in byk.values()
    )
    head = ["measure", "k"] + [f"{n} {c}" for n in names for c in ("A", "C", "L [95% CI]")]
    head += ["null SD"] if with_null else []
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for m in measures:
        for k in ks:
            cells = [m, str(k)]
            null = None
            for n in names:
                r = profiles[n]["properties"].get(m, {}).get(str(k))
                if r is None:
                    cells += ["-", "-", "-"]
                    continue
                lo, hi = r["locality_ci"]
                cells += [_f(r["agreement"]), _f(r["chance"]), f"{_f(r['locality'])} [{_f(lo)}, {_f(hi)}]"]
                null = r.get("null_sd") if null is None else null
            if with_null:
                cells.append(_f(null))
            lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def write_locality_report(
    out: str | Path, profiles: dict[str, dict[str, Any]], config: dict[str, Any] | None = None
) -> Path:
    """Write the report folder ``out`` for one or several profiles; returns ``out``."""
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    write_json(out / "locality.json", {"format": FORMAT, "sets": profiles})
    write_text(out / "locality.csv", tidy_csv(locality_rows(profiles), CSV_COLUMNS))
    write_json(out / "join.json", {n: p["join"] for n, p in profiles.items()})
    write_json(out / "config.json", config or {})
    text = "# Locality of embedding neighbourhoods\n\n"
    text += (
        "A = agreement, C = chance, L = (A - C) / (1 - C) with its 95 % bootstrap interval over queries"
        " (definitions: docs/metrics.md in the tunespace repository). Null SD: standard deviation of L for"
        " random embeddings of the same items (the noise floor a difference of L should be judged against).\n\n"
    )
    if any(p.get("sampling") for p in profiles.values()):
        text += (
            "Sets estimated from sampled queries against a full index (`--index --sample-queries`): the interval"
            " is L +- 1.96 SE over the sampled queries (finite-population correction); chance is exact, from"
            " all labels.\n\n"
        )
    for n, p in profiles.items():
        j = p["join"]
        text += (
            f"- **{n}**: {p['n_items']} items joined (of {j['n_embeddings']} embedded, "
            f"{j['n_labels']} labelled; {j['missing_labels']} without labels, "
            f"{j['missing_embeddings']} without embeddings)"
        )
        if p.get("skipped"):
            text += "; not measured: " + ", ".join(f"{k} ({v})" for k, v in p["skipped"].items())
        text += "\n"
    text += "\n" + markdown_table(profiles)
    write_text(out / "locality.md", text)
    plot_locality(out / "locality.png", profiles)
    return out


def plot_locality(path: str | Path, profiles: dict[str, dict[str, Any]]) -> None:
    """Bar chart of locality by measure, one panel per k, one colour per set (matplotlib Agg)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import numpy as np

    names = list(profiles)
    measures, ks = _measures_and_ks(profiles)
    fig, axes = plt.subplots(
        1, len(ks), figsize=(max(4.0, 1.2 * len(measures)) * len(ks) / 1.5, 3.6), squeeze=False, sharey=True
    )
    width = 0.8 / max(1, len(names))
    x = np.arange(len(measures))
    for ax, k in zip(axes[0], ks):
        for s, n in enumerate(names):
            rows = [profiles[n]["properties"].get(m, {}).get(str(k)) for m in measures]
            val = np.array([np.nan if r is None or r["locality"] is None else r["locality"] for r in rows])
            lo = np.array([np.nan if r is None or r["locality_ci"][0] is None else r["locality_ci"][0] for r in rows])
            hi = np.array([np.nan if r is None or r["locality_ci"][1] is None else r["locality_ci"][1] for r in rows])
            err = np.nan_to_num(np.stack([val - lo, hi - val]), nan=0.0).clip(min=0)
            ax.bar(x + (s - (len(names) - 1) / 2) * width, np.nan_to_num(val), width, yerr=err, label=n, capsize=2)
        ax.set_title(f"k = {k}")
        ax.set_xticks(x)
        ax.set_xticklabels(measures, rotation=45, ha="right", fontsize=8)
        ax.axhline(0, color="black", lw=0.5)
    axes[0][0].set_ylabel("locality (A - C) / (1 - C)")
    axes[0][-1].legend(fontsize=7)
    fig.tight_layout()
    with atomic_path(path) as tmp:
        fig.savefig(tmp, dpi=100)
    plt.close(fig)


def _f(v: float | None) -> str:
    return "-" if v is None else f"{v:.3f}"

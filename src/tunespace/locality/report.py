"""Locality report folder: JSON (the numbers), Markdown (a table), PNG (a figure).

::

    REPORT/locality.json   one embedding set: its profile (see locality_profile);
                           several sets: {set name: profile}, in the order given
    REPORT/locality.md     one table: measure x k rows, for each set agreement, chance and
                           locality with its 95 % bootstrap interval, sets side by side
    REPORT/locality.png    locality by measure (bars) for each k (panels), one colour per set,
                           bootstrap intervals as error bars
    REPORT/join.json       {set name: id join report}
    REPORT/config.json     the resolved arguments

Everything in locality.md and locality.png is recomputable from locality.json
(:func:`read_locality` returns {set name: profile} for either layout).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from ..files import atomic_path, read_json, write_json, write_text


def read_locality(path: str | Path) -> dict[str, dict[str, Any]]:
    """{set name: profile} from a report folder or its locality.json (either layout)."""
    path = Path(path)
    data = read_json(path / "locality.json" if path.is_dir() else path)
    if "properties" in data and "ks" in data:
        return {data["name"]: data}
    return data


def markdown_table(profiles: dict[str, dict[str, Any]]) -> str:
    """Markdown table of agreement, chance and locality [95 % CI], sets side by side."""
    names = list(profiles)
    measures: list[str] = []
    ks: list[int] = []
    for p in profiles.values():
        measures += [m for m in p["properties"] if m not in measures]
        ks += [k for k in p["ks"] if k not in ks]
    head = ["measure", "k"] + [f"{n} {c}" for n in names for c in ("A", "C", "L [95% CI]")]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for m in measures:
        for k in sorted(ks):
            cells = [m, str(k)]
            for n in names:
                r = profiles[n]["properties"].get(m, {}).get(str(k))
                if r is None:
                    cells += ["-", "-", "-"]
                    continue
                lo, hi = r["locality_ci"]
                cells += [_f(r["agreement"]), _f(r["chance"]), f"{_f(r['locality'])} [{_f(lo)}, {_f(hi)}]"]
            lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def write_locality_report(
    out: str | Path, profiles: dict[str, dict[str, Any]], config: dict[str, Any] | None = None
) -> Path:
    """Write the report folder ``out`` for one or several profiles; returns ``out``."""
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    data: Any = next(iter(profiles.values())) if len(profiles) == 1 else profiles
    write_json(out / "locality.json", data)
    write_json(out / "join.json", {n: p["join"] for n, p in profiles.items()})
    write_json(out / "config.json", config or {})
    text = "# Locality of embedding neighbourhoods\n\n"
    text += "A = agreement, C = chance, L = (A - C) / (1 - C) with its 95 % bootstrap interval over queries.\n\n"
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
    measures: list[str] = []
    ks: list[int] = []
    for p in profiles.values():
        measures += [m for m in p["properties"] if m not in measures]
        ks += [k for k in p["ks"] if k not in ks]
    ks = sorted(ks)
    fig, axes = plt.subplots(1, len(ks), figsize=(max(4.0, 1.2 * len(measures)) * len(ks) / 1.5, 3.6),
                             squeeze=False, sharey=True)
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

"""The study's plots (matplotlib, Agg backend): locality by property per condition, locality
against k, and 2-D UMAP maps of the embeddings coloured by each property."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from ..files import atomic_path
from .stats import mean_ci

_PROPS = ("key", "key_graded", "tempo_bpm", "tempo_bpm_acc2", "genre", "mood", "instrument")


def _plt():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def _series(rows: list[dict], ds: str, metric: str) -> dict[tuple[str, str, str], list[float]]:
    out: dict[tuple[str, str, str], list[float]] = {}
    for r in rows:
        if r["dataset"] == ds and r["metric"] == metric:
            out.setdefault((r["condition"], r["property"], str(r["k"])), []).append(float(r["value"]))
    return out


def _save(fig, path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    with atomic_path(path) as tmp:
        fig.savefig(tmp, dpi=110, bbox_inches="tight", format="png")
    _plt().close(fig)
    return path


def plot_locality_by_property(rows: list[dict], cfg: dict[str, Any], ds: str, path: Path) -> Path | None:
    """Grouped bars: locality at the headline k for each property, one bar per condition (95 % CI)."""
    plt = _plt()
    k = str(cfg["analysis"]["headline_k"])
    s = _series(rows, ds, "locality")
    conds = list(dict.fromkeys(c for c, _, kk in s if kk == k))
    props = [p for p in _PROPS if any((c, p, k) in s for c in conds)]
    if not props:
        return None
    fig, ax = plt.subplots(figsize=(max(6, 1.4 * len(props)), 3.8))
    width = 0.8 / max(1, len(conds))
    for i, c in enumerate(conds):
        est = [mean_ci(s.get((c, p, k), [])) for p in props]
        m = np.array([e.mean for e in est])
        err = np.array([[e.mean - e.low if e.n > 1 else 0 for e in est], [e.high - e.mean if e.n > 1 else 0 for e in est]])
        ax.bar(np.arange(len(props)) + i * width - 0.4 + width / 2, m, width, yerr=err, capsize=2, label=c,
               hatch="//" if c.startswith("baseline:") else None, alpha=0.6 if c.startswith("baseline:") else 1.0)
    ax.set_xticks(np.arange(len(props)), props, rotation=20)
    ax.axhline(0, color="k", lw=0.5)
    ax.set_ylabel(f"locality L@{k}")
    ax.set_title(f"Locality by property ({ds}); mean and 95 % CI over seeds")
    ax.legend(fontsize=7, ncol=2)
    return _save(fig, path)


def plot_locality_vs_k(rows: list[dict], cfg: dict[str, Any], ds: str, path: Path) -> Path | None:
    """One panel per property: locality against k, one line per condition (95 % CI band)."""
    plt = _plt()
    s = _series(rows, ds, "locality")
    conds = list(dict.fromkeys(c for c, _, _ in s))
    props = [p for p in _PROPS if any(pp == p for _, pp, _ in s)]
    if not props:
        return None
    ks = sorted({int(k) for _, _, k in s})
    fig, axes = plt.subplots(1, len(props), figsize=(2.6 * len(props), 2.8), sharey=True, squeeze=False)
    for ax, p in zip(axes[0], props):
        for c in conds:
            est = [mean_ci(s.get((c, p, str(k)), [])) for k in ks]
            m = np.array([e.mean for e in est])
            ax.plot(ks, m, marker="o", ms=3, label=c, ls="--" if c.startswith("baseline:") else "-")
            lo = np.array([e.low if e.n > 1 else e.mean for e in est])
            hi = np.array([e.high if e.n > 1 else e.mean for e in est])
            ax.fill_between(ks, lo, hi, alpha=0.15)
        ax.set_xscale("log")
        ax.set_title(p, fontsize=9)
        ax.set_xlabel("k")
    axes[0][0].set_ylabel("locality")
    axes[0][-1].legend(fontsize=6)
    fig.suptitle(f"Locality against k ({ds})", fontsize=10)
    return _save(fig, path)


def plot_umaps(embeddings: dict, evals: list, ds: str, conditions: list[str], seed: int, path: Path) -> Path | None:
    """2-D UMAP maps (rows: conditions, columns: properties) of the track embeddings of ``seed``."""
    from ..embed.format import read_embeddings
    from ..labels import load_labels

    spec_path = next((p for s, _, p in evals if s["name"] == ds), None)
    have = [c for c in conditions if (c, seed, ds) in embeddings]
    if spec_path is None or not have:
        return None
    import umap

    plt = _plt()
    labels = load_labels(spec_path)
    props = [p for p in ("key", "tempo_bpm", "genre", "mood", "instrument") if p in labels.values]
    fig, axes = plt.subplots(len(have), len(props), figsize=(2.7 * len(props), 2.7 * len(have)), squeeze=False)
    lid = {i: n for n, i in enumerate(labels.ids)}
    for r, c in enumerate(have):
        emb = read_embeddings(embeddings[(c, seed, ds)], mmap=False)
        x = emb.vectors / np.maximum(np.linalg.norm(emb.vectors, axis=1, keepdims=True), 1e-12)
        xy = umap.UMAP(n_neighbors=15, min_dist=0.2, metric="cosine", random_state=0).fit_transform(x)
        rows_ = [lid.get(i) for i in emb.ids]
        for j, p in enumerate(props):
            ax = axes[r][j]
            vals = [labels.values[p][i] if i is not None else None for i in rows_]
            if p == "tempo_bpm":
                sc = ax.scatter(xy[:, 0], xy[:, 1], c=np.log2(np.asarray(vals, float)), s=6, cmap="viridis")
            else:
                cats = sorted({str(v) for v in vals})
                code = np.array([cats.index(str(v)) for v in vals])
                sc = ax.scatter(xy[:, 0], xy[:, 1], c=code, s=6, cmap="tab20" if len(cats) > 10 else "tab10")
            del sc
            ax.set_xticks([])
            ax.set_yticks([])
            if r == 0:
                ax.set_title(p + (" (log2 BPM)" if p == "tempo_bpm" else ""), fontsize=9)
            if j == 0:
                ax.set_ylabel(c, fontsize=9)
    fig.suptitle(f"UMAP of track embeddings ({ds}, seed {seed})", fontsize=10)
    return _save(fig, path)

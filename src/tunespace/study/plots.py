"""The study's plots (matplotlib, Agg backend): locality by property per condition, locality
against k (intervals over seeds and tracks, from :class:`tunespace.study.claims.StudyItems`),
and 2-D UMAP maps of the embeddings coloured by each property."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from ..files import atomic_path

_PROPS = ("key", "key_graded", "tempo_bpm", "tempo_bpm_acc2", "genre", "mood", "instrument")


def _plt():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def _save(fig, path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    with atomic_path(path) as tmp:
        fig.savefig(tmp, dpi=110, bbox_inches="tight", format="png")
    _plt().close(fig)
    return path


def _estimates(items, cfg: dict[str, Any], ds: str, k: str) -> tuple[list[str], list[str], dict]:
    from .report import _conditions, estimate

    props = [p for p in _PROPS if (ds, p, "locality", k) in items.values]
    conds = [c for c in _conditions(cfg, items) if any(c in items.values[(ds, p, "locality", k)] for p in props)]
    est = {(c, p): estimate(items, ds, p, "locality", k, c) for c in conds for p in props}
    return conds, props, est


def _err(e) -> tuple[float, float, float]:
    if e is None:
        return (np.nan, 0.0, 0.0)
    if np.isnan(e.low):
        return (e.mean, 0.0, 0.0)
    return (e.mean, e.mean - e.low, e.high - e.mean)


def plot_locality_by_property(items, cfg: dict[str, Any], ds: str, path: Path) -> Path | None:
    """Grouped bars: locality at the headline k for each property, one bar per condition (95 %
    interval over seeds and tracks), and the noise floor (+-2 SD of random embeddings) shaded."""
    plt = _plt()
    k = str(cfg["analysis"]["headline_k"])
    conds, props, est = _estimates(items, cfg, ds, k)
    if not props:
        return None
    fig, ax = plt.subplots(figsize=(max(6, 1.4 * len(props)), 3.8))
    width = 0.8 / max(1, len(conds))
    for j, p in enumerate(props):
        sd = items.null.get((ds, p, k))
        if sd:
            ax.fill_between([j - 0.45, j + 0.45], -2 * sd, 2 * sd, color="0.85", zorder=0)
    for i, c in enumerate(conds):
        m, lo, hi = np.array([_err(est[(c, p)]) for p in props]).T
        ax.bar(
            np.arange(len(props)) + i * width - 0.4 + width / 2,
            m,
            width,
            yerr=[lo, hi],
            capsize=2,
            label=c,
            hatch="//" if c.startswith("baseline:") else None,
            alpha=0.6 if c.startswith("baseline:") else 1.0,
        )
    ax.set_xticks(np.arange(len(props)), props, rotation=20)
    ax.axhline(0, color="k", lw=0.5)
    ax.set_ylabel(f"locality L@{k}")
    ax.set_title(f"Locality by property ({ds}); 95 % CI over seeds and tracks; grey: noise floor (2 SD)", fontsize=9)
    ax.legend(fontsize=7, ncol=2)
    return _save(fig, path)


def plot_locality_vs_k(items, cfg: dict[str, Any], ds: str, path: Path) -> Path | None:
    """One panel per property: locality against k, one line per condition (95 % interval band)."""
    plt = _plt()
    ks = sorted(int(k) for k in cfg["analysis"]["ks"])
    per_k = {k: _estimates(items, cfg, ds, str(k)) for k in ks}
    props = per_k[ks[0]][1]
    conds = per_k[ks[0]][0]
    if not props:
        return None
    fig, axes = plt.subplots(1, len(props), figsize=(2.6 * len(props), 2.8), sharey=True, squeeze=False)
    for ax, p in zip(axes[0], props):
        for c in conds:
            vals = np.array([_err(per_k[k][2].get((c, p))) for k in ks])
            m = vals[:, 0]
            ax.plot(ks, m, marker="o", ms=3, label=c, ls="--" if c.startswith("baseline:") else "-")
            ax.fill_between(ks, m - vals[:, 1], m + vals[:, 2], alpha=0.15)
        ax.set_xscale("log")
        ax.set_title(p, fontsize=9)
        ax.set_xlabel("k")
    axes[0][0].set_ylabel("locality")
    axes[0][-1].legend(fontsize=6)
    fig.suptitle(f"Locality against k ({ds}); 95 % CI over seeds and tracks", fontsize=10)
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

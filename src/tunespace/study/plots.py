"""The study's plots (matplotlib, Agg backend): locality by property per condition, locality
against k (intervals over seeds and tracks, from :class:`tunespace.study.claims.StudyItems`),
and 2-D UMAP maps of the embeddings coloured by each property.

Each plot has a ``*_figure`` function that returns the figure (what the tests look at) and a
``plot_*`` function that saves it. The maps take their coordinates as given
(:func:`map_figure`); :func:`plot_umaps` computes them with the explorer's UMAP layout
(:func:`tunespace.serve.maps.umap_layout`, umap-learn: the ``plots`` extra).

How a map shows a property (one legend or colour bar per column, shared by its rows):

- key: hue by tonic pitch class on a colour wheel (C next to C# and B), marker by mode;
- tempo and continuous properties: a colour bar (tempo on a log scale, in BPM);
- categorical: a legend; beyond :data:`MAX_CLASSES` classes the most frequent keep a colour
  and the rest are drawn in grey as "other".
"""

from __future__ import annotations

import logging
import math
from collections import Counter
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from ..extras import MissingExtraError
from ..files import atomic_path
from ..keys import PITCH_CLASSES, parse_key

log = logging.getLogger("tunespace.study")

_PROPS = ("key", "key_graded", "tempo_bpm", "tempo_bpm_acc2", "genre", "mood", "instrument")
#: Properties a map shows, in column order (those the labels have).
MAP_PROPS = ("key", "tempo_bpm", "genre", "mood", "instrument")
#: Most classes of a categorical property a map tells apart (the rest: "other").
MAX_CLASSES = 12
#: Marker of each mode on a key map.
MODE_MARKERS = {"major": "o", "minor": "^"}
#: Unlabelled points, and the "other" classes of a categorical property.
GREY = (0.72, 0.72, 0.72, 1.0)
_POINT_SIZE = 7
#: Property kinds a map draws (tags are not).
_MAPPED_KINDS = ("key", "tempo", "continuous", "categorical")


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


def locality_by_property_figure(items, cfg: dict[str, Any], ds: str):
    """Grouped bars: locality at the headline k for each property, one bar per condition (95 %
    interval over seeds and tracks), and the noise floor (+-2 SD of random embeddings) shaded."""
    plt = _plt()
    k = str(cfg["analysis"]["headline_k"])
    conds, props, est = _estimates(items, cfg, ds, k)
    if not props:
        return None
    fig, ax = plt.subplots(figsize=(max(6, 1.4 * len(props)) + 1.2, 3.8), layout="constrained")
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
    fig.legend(loc="outside right upper", fontsize=7)  # outside: it covers no bar
    return fig


def plot_locality_by_property(items, cfg: dict[str, Any], ds: str, path: Path) -> Path | None:
    """Save :func:`locality_by_property_figure` (None when there is nothing to plot)."""
    fig = locality_by_property_figure(items, cfg, ds)
    return None if fig is None else _save(fig, path)


def locality_vs_k_figure(items, cfg: dict[str, Any], ds: str):
    """One panel per property: locality against k, one line per condition (95 % interval band).

    The legend is outside the panels (right), the title above their titles (constrained layout).
    """
    plt = _plt()
    from matplotlib.ticker import NullLocator

    ks = sorted(int(k) for k in cfg["analysis"]["ks"])
    per_k = {k: _estimates(items, cfg, ds, str(k)) for k in ks}
    props = per_k[ks[0]][1]
    conds = per_k[ks[0]][0]
    if not props:
        return None
    fig, axes = plt.subplots(
        1, len(props), figsize=(2.6 * len(props) + 1.6, 3.2), sharey=True, squeeze=False, layout="constrained"
    )
    for ax, p in zip(axes[0], props):
        for c in conds:
            vals = np.array([_err(per_k[k][2].get((c, p))) for k in ks])
            m = vals[:, 0]
            ax.plot(ks, m, marker="o", ms=3, label=c, ls="--" if c.startswith("baseline:") else "-")
            ax.fill_between(ks, m - vals[:, 1], m + vals[:, 2], alpha=0.15)
        ax.set_xscale("log")
        ax.set_xticks(ks, [str(k) for k in ks])  # the measured k, not powers of ten
        ax.xaxis.set_minor_locator(NullLocator())
        ax.set_title(p, fontsize=9)
        ax.set_xlabel("k")
    axes[0][0].set_ylabel("locality")
    handles, labels = axes[0][0].get_legend_handles_labels()
    fig.legend(handles, labels, loc="outside right upper", fontsize=7)
    fig.suptitle(f"Locality against k ({ds})\n95 % CI over seeds and tracks (bands)", fontsize=10)
    return fig


def plot_locality_vs_k(items, cfg: dict[str, Any], ds: str, path: Path) -> Path | None:
    """Save :func:`locality_vs_k_figure` (None when there is nothing to plot)."""
    fig = locality_vs_k_figure(items, cfg, ds)
    return None if fig is None else _save(fig, path)


# --- maps ---------------------------------------------------------------------------------


def pitch_class_colour(pc: int) -> tuple[float, float, float]:
    """RGB of a tonic pitch class: hue ``pc / 12`` of the colour wheel (C red, B next to it)."""
    from matplotlib.colors import hsv_to_rgb

    return tuple(float(v) for v in hsv_to_rgb((pc % 12 / 12.0, 0.8, 0.85)))


def _category_palette(n: int) -> list[tuple[float, ...]]:
    """``n`` <= :data:`MAX_CLASSES` distinct colours, none of them grey."""
    import matplotlib

    tab10 = [c for i, c in enumerate(matplotlib.colormaps["tab10"].colors) if i != 7]  # 7: grey
    extra = [(0.0, 0.0, 0.0), (0.68, 0.78, 0.91), (0.6, 0.87, 0.54)]
    return [tuple(c) for c in (tab10 + extra)[:n]]


def _marker_handle(label: str, colour, marker: str = "o"):
    from matplotlib.lines import Line2D

    return Line2D([], [], ls="", marker=marker, ms=5, color=colour, label=label)


def _is_known(v) -> bool:
    return v is not None and not (isinstance(v, float) and math.isnan(v))


def _key_column(axes, data: list[tuple[np.ndarray, list]]) -> tuple[list, str]:
    """Draw key panels; returns the legend's handles and title."""
    drawn_unknown = False
    for ax, (xy, vals) in zip(axes, data):
        parsed = [parse_key(str(v)) if _is_known(v) else None for v in vals]
        unknown = np.array([k is None for k in parsed], dtype=bool)
        if unknown.any():
            drawn_unknown = True
            ax.scatter(xy[unknown, 0], xy[unknown, 1], s=_POINT_SIZE, color=GREY, marker="x", label="no label")
        for mode, marker in MODE_MARKERS.items():
            rows = np.array([k is not None and k[1] == mode for k in parsed], dtype=bool)
            if rows.any():
                colours = [pitch_class_colour(parsed[i][0]) for i in np.flatnonzero(rows)]
                ax.scatter(xy[rows, 0], xy[rows, 1], s=_POINT_SIZE, c=colours, marker=marker, label=mode)
    handles = [_marker_handle(pc, pitch_class_colour(i), "s") for i, pc in enumerate(PITCH_CLASSES)]
    handles += [_marker_handle(mode, "0.3", marker) for mode, marker in MODE_MARKERS.items()]
    if drawn_unknown:
        handles.append(_marker_handle("no label", GREY, "x"))
    return handles, "tonic (colour), mode (marker)"


def _categorical_column(axes, data: list[tuple[np.ndarray, list]]) -> tuple[list, str | None]:
    counts = Counter(str(v) for _, vals in data for v in vals if _is_known(v))
    classes = sorted(counts)
    if len(classes) > MAX_CLASSES:
        kept = sorted(sorted(classes, key=lambda c: (-counts[c], c))[: MAX_CLASSES - 1])
        other = len(classes) - len(kept)
    else:
        kept, other = classes, 0
    colour = dict(zip(kept, _category_palette(len(kept))))
    drawn_unknown = False
    for ax, (xy, vals) in zip(axes, data):
        known = [_is_known(v) for v in vals]
        grey = np.array([not k or str(v) not in colour for k, v in zip(known, vals)], dtype=bool)
        drawn_unknown |= not all(known)
        if grey.any():
            ax.scatter(xy[grey, 0], xy[grey, 1], s=_POINT_SIZE, color=GREY)
        if (~grey).any():
            c = [colour[str(v)] for v, g in zip(vals, grey) if not g]
            ax.scatter(xy[~grey, 0], xy[~grey, 1], s=_POINT_SIZE, c=c)
    handles = [_marker_handle(c, colour[c]) for c in kept]
    if other:
        handles.append(_marker_handle(f"other ({other} classes)", GREY))
    if drawn_unknown:
        handles.append(_marker_handle("no label", GREY))
    return handles, None


def _numeric_column(fig, axes, data: list[tuple[np.ndarray, list]], prop: str, kind: str) -> None:
    from matplotlib.colors import LogNorm, Normalize
    from matplotlib.ticker import FixedLocator, ScalarFormatter

    values = [np.array([float(v) if _is_known(v) else np.nan for v in vals]) for _, vals in data]
    finite = np.concatenate([v[np.isfinite(v)] for v in values]) if values else np.array([])
    if kind == "tempo":
        finite = finite[finite > 0]
    lo, hi = (float(finite.min()), float(finite.max())) if len(finite) else (1.0, 2.0)
    if hi <= lo:
        lo, hi = lo * 0.95 if lo > 0 else lo - 1, hi * 1.05 if hi > 0 else hi + 1
    norm = LogNorm(lo, hi) if kind == "tempo" else Normalize(lo, hi)
    sc = None
    for ax, (xy, _), v in zip(axes, data, values):
        ok = np.isfinite(v) & ((v > 0) if kind == "tempo" else True)
        if (~ok).any():
            ax.scatter(xy[~ok, 0], xy[~ok, 1], s=_POINT_SIZE, color=GREY, marker="x")
        sc = ax.scatter(xy[ok, 0], xy[ok, 1], s=_POINT_SIZE, c=v[ok], cmap="viridis", norm=norm)
    label = "tempo (BPM, log scale)" if kind == "tempo" else prop
    cb = fig.colorbar(sc, ax=list(axes), location="bottom", shrink=0.85, label=label)
    cb.ax.tick_params(labelsize=7)
    if kind == "tempo":
        ticks = [t for t in (40, 50, 60, 70, 80, 100, 120, 140, 160, 200, 240, 300) if lo <= t <= hi]
        cb.ax.xaxis.set_major_locator(FixedLocator(ticks or [round(lo), round(hi)]))
        cb.ax.xaxis.set_major_formatter(ScalarFormatter())
        cb.ax.xaxis.set_minor_locator(FixedLocator([]))


def map_figure(maps: dict[str, tuple[np.ndarray, dict[str, Sequence]]], kinds: dict[str, str], title: str):
    """Maps of 2-D coordinates, rows: conditions, columns: properties (in ``kinds`` order).

    Args:
        maps: condition -> (``(n, 2)`` coordinates, property -> ``n`` values in the same row
            order; ``None`` or NaN where unknown).
        kinds: property -> kind (:mod:`tunespace.labels`: ``key``, ``tempo``, ``continuous``,
            ``categorical``; tags are not drawn).
        title: the figure's title.
    Returns:
        The figure: one legend (key, categorical) or colour bar (tempo, continuous) per column,
        under its bottom panel.
    """
    plt = _plt()
    props = [p for p, k in kinds.items() if k in _MAPPED_KINDS]
    conds = list(maps)
    fig, axes = plt.subplots(
        len(conds),
        len(props),
        figsize=(2.8 * len(props), 2.6 * len(conds) + 1.2),
        squeeze=False,
        layout="constrained",
    )
    for j, p in enumerate(props):
        col = axes[:, j]
        data = [(np.asarray(maps[c][0], dtype=float), list(maps[c][1][p])) for c in conds]
        if kinds[p] == "key":
            handles, legend_title = _key_column(col, data)
        elif kinds[p] in ("tempo", "continuous"):
            _numeric_column(fig, col, data, p, kinds[p])
            handles = None
        else:
            handles, legend_title = _categorical_column(col, data)
        if handles:
            col[-1].legend(
                handles=handles,
                title=legend_title,
                title_fontsize=7,
                fontsize=7,
                ncol=4 if kinds[p] == "key" else 2,
                loc="upper center",
                bbox_to_anchor=(0.5, -0.04),
                frameon=False,
                handletextpad=0.2,
                columnspacing=0.8,
            )
        col[0].set_title(p, fontsize=9)
    for r, c in enumerate(conds):
        for ax in axes[r]:
            ax.set_xticks([])
            ax.set_yticks([])
        axes[r][0].set_ylabel(c, fontsize=9)
    fig.suptitle(title, fontsize=10)
    return fig


Reducer = Callable[[np.ndarray, int], tuple[np.ndarray, str]]


def plot_umaps(
    embeddings: dict,
    evals: list,
    ds: str,
    conditions: list[str],
    seed: int,
    path: Path,
    reducer: Reducer | None = None,
) -> Path | None:
    """2-D UMAP maps (rows: conditions, columns: properties) of the track embeddings of ``seed``.

    ``reducer`` (default: :func:`tunespace.serve.maps.umap_layout`, seed 0) lays out the
    L2-normalised vectors. Without umap-learn the maps are left out with a one-line warning
    that names the extra (the rest of the report does not need it); None then.
    """
    from ..embed.format import read_embeddings
    from ..labels import load_labels

    spec_path = next((p for s, _, p in evals if s["name"] == ds), None)
    have = [c for c in conditions if (c, seed, ds) in embeddings]
    if spec_path is None or not have:
        return None
    if reducer is None:
        from ..serve.maps import umap_layout as reducer
    labels = load_labels(spec_path)
    kinds = {p: labels.kinds[p] for p in MAP_PROPS if p in labels.values and labels.kinds[p] in _MAPPED_KINDS}
    if not kinds:  # nothing a map can show (no labels, or only tags): no figure of zero columns
        return None
    lid = {i: n for n, i in enumerate(labels.ids)}
    maps = {}
    for c in have:
        emb = read_embeddings(embeddings[(c, seed, ds)], mmap=False)
        x = emb.vectors / np.maximum(np.linalg.norm(emb.vectors, axis=1, keepdims=True), 1e-12)
        try:
            xy, _ = reducer(np.ascontiguousarray(x, dtype=np.float32), 0)
        except MissingExtraError as e:
            log.warning("UMAP maps left out: %s", e)
            return None
        rows = [lid.get(i) for i in emb.ids]
        maps[c] = (xy, {p: [labels.values[p][i] if i is not None else None for i in rows] for p in kinds})
    return _save(map_figure(maps, kinds, f"UMAP of track embeddings ({ds}, seed {seed})"), path)

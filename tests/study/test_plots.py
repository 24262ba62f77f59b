"""The study's plots, by structure: legends and colour bars of the maps, key colours on a wheel
and markers by mode, titles that do not overlap. Coordinates are given (no UMAP)."""

from __future__ import annotations

import colorsys
import logging
import sys

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402
from matplotlib.colors import LogNorm, to_rgb  # noqa: E402

from tunespace.keys import PITCH_CLASSES  # noqa: E402
from tunespace.study.claims import StudyItems  # noqa: E402
from tunespace.study.plots import (  # noqa: E402
    GREY,
    MAX_CLASSES,
    MODE_MARKERS,
    locality_by_property_figure,
    locality_vs_k_figure,
    map_figure,
    pitch_class_colour,
    plot_umaps,
)

KINDS = {"key": "key", "tempo_bpm": "tempo", "genre": "categorical", "instrument": "categorical"}
N = 48


@pytest.fixture(autouse=True)
def _close_figures():
    yield
    plt.close("all")


def _maps(n_instruments: int = 5, conds=("none", "ps")) -> dict:
    rng = np.random.default_rng(0)
    out = {}
    for c in conds:
        keys = [f"{PITCH_CLASSES[i % 12]} {'major' if i % 3 else 'minor'}" for i in range(N)]
        keys[0] = None  # unlabelled
        labels = {
            "key": keys,
            "tempo_bpm": list(rng.uniform(70, 170, N)),
            "genre": [f"genre{i % 4}" for i in range(N)],
            "instrument": [f"inst{i % n_instruments:02d}" for i in range(N)],
        }
        out[c] = (rng.standard_normal((N, 2)), labels)
    return out


def _legend_of(fig, col: int):
    """The legend under column ``col`` (on its bottom panel)."""
    axes = np.array(fig.axes[: len(fig.axes)]).reshape(-1)
    panels = [ax for ax in axes if ax.get_label() != "<colorbar>"]
    n_cols = len(KINDS)
    return panels[len(panels) - n_cols + col].get_legend()


def _texts(legend) -> list[str]:
    return [t.get_text() for t in legend.get_texts()]


def _hue(rgb) -> float:
    return colorsys.rgb_to_hsv(*to_rgb(rgb))[0]


def _wheel_distance(a: float, b: float) -> float:
    d = abs(a - b) % 1.0
    return min(d, 1.0 - d)


def test_key_map_has_a_legend_of_pitch_classes_and_modes():
    fig = map_figure(_maps(), KINDS, "t")
    legend = _legend_of(fig, 0)
    assert legend is not None
    texts = _texts(legend)
    assert texts[:12] == list(PITCH_CLASSES)
    assert "major" in texts and "minor" in texts and "no label" in texts
    handles = dict(zip(texts, legend.legend_handles))
    assert handles["major"].get_marker() == MODE_MARKERS["major"]
    assert handles["minor"].get_marker() == MODE_MARKERS["minor"]
    assert MODE_MARKERS["major"] != MODE_MARKERS["minor"]


def test_key_hue_is_cyclic_by_pitch_class():
    hues = [_hue(pitch_class_colour(pc)) for pc in range(12)]
    step = [_wheel_distance(hues[i], hues[(i + 1) % 12]) for i in range(12)]
    assert np.allclose(step, 1 / 12, atol=1e-6)  # evenly round the wheel: C next to C# ...
    c, b = hues[0], hues[11]
    assert _wheel_distance(c, b) == pytest.approx(1 / 12, abs=1e-6)  # ... and to B
    assert min(_wheel_distance(c, h) for h in hues[1:]) == pytest.approx(_wheel_distance(c, b), abs=1e-6)
    # the legend shows the same colours
    legend = _legend_of(map_figure(_maps(), KINDS, "t"), 0)
    handles = dict(zip(_texts(legend), legend.legend_handles))
    assert to_rgb(handles["C"].get_color()) == pytest.approx(pitch_class_colour(0))
    assert to_rgb(handles["B"].get_color()) == pytest.approx(pitch_class_colour(11))


def test_key_points_take_marker_by_mode_and_colour_by_tonic():
    maps = _maps(conds=("none",))
    fig = map_figure(maps, KINDS, "t")
    ax = fig.axes[0]
    by_label = {c.get_label(): c for c in ax.collections}
    major, minor = by_label["major"], by_label["minor"]
    assert not np.array_equal(major.get_paths()[0].vertices, minor.get_paths()[0].vertices)
    xy, labels = maps["none"]
    keys = labels["key"]
    is_minor = np.array([k is not None and k.endswith("minor") for k in keys])
    assert np.allclose(minor.get_offsets(), xy[is_minor])
    tonic = [PITCH_CLASSES.index(k.split()[0]) for k in keys if k is not None and k.endswith("minor")]
    assert np.allclose(minor.get_facecolors()[:, :3], [pitch_class_colour(pc) for pc in tonic])
    assert len(by_label["no label"].get_offsets()) == 1


def test_tempo_map_has_a_log_colour_bar_in_bpm():
    fig = map_figure(_maps(), KINDS, "t")
    bars = [ax for ax in fig.axes if ax.get_label() == "<colorbar>"]
    assert len(bars) == 1  # one per column, shared by its rows
    panels = [ax for ax in fig.axes if ax not in bars]
    scalar = [c for ax in panels for c in ax.collections if c.get_array() is not None and len(c.get_array())]
    assert len(scalar) == 2 and isinstance(scalar[0].norm, LogNorm)
    assert scalar[0].norm is scalar[1].norm and scalar[-1].colorbar.ax is bars[0]  # both rows on one scale
    assert "BPM" in bars[0].get_xlabel()
    assert _legend_of(fig, 1) is None


def test_categorical_map_has_a_legend_of_its_classes():
    fig = map_figure(_maps(n_instruments=MAX_CLASSES), KINDS, "t")
    assert _texts(_legend_of(fig, 2)) == [f"genre{i}" for i in range(4)]
    legend = _legend_of(fig, 3)
    assert _texts(legend) == [f"inst{i:02d}" for i in range(MAX_CLASSES)]
    colours = [to_rgb(h.get_color()) for h in legend.legend_handles]
    assert len(set(colours)) == MAX_CLASSES and to_rgb(GREY) not in colours


def test_many_classes_keep_the_most_frequent_and_grey_the_rest():
    maps = _maps(n_instruments=15)
    for _, labels in maps.values():  # inst00..inst02 the most frequent
        labels["instrument"] = labels["instrument"][:-6] + ["inst00", "inst01", "inst02"] * 2
    texts = _texts(_legend_of(map_figure(maps, KINDS, "t"), 3))
    assert len(texts) == MAX_CLASSES
    assert texts[-1] == f"other ({15 - MAX_CLASSES + 1} classes)"
    assert {"inst00", "inst01", "inst02"} <= set(texts)


def _items(props=("key", "tempo_bpm", "genre"), conds=("none", "ts", "ps"), ks=(5, 10, 20)) -> StudyItems:
    rng = np.random.default_rng(1)
    values = {
        ("ev", p, "locality", str(k)): {c: rng.uniform(0.2, 0.5, (4, 30)) for c in conds} for p in props for k in ks
    }
    return StudyItems(
        ids={"ev": [f"t{i}" for i in range(30)]},
        values=values,
        chance={("ev", p): np.full(30, 0.1) for p in props},
        null={("ev", p, "10"): 0.01 for p in props},
    )


def _cfg(conds=("none", "ts", "ps")) -> dict:
    return {"conditions": list(conds), "analysis": {"ks": [5, 10, 20], "headline_k": 10}}


def _extent(text, renderer):
    return text.get_window_extent(renderer)


@pytest.mark.parametrize("props", [("key", "tempo_bpm", "genre"), ("genre",)])
def test_locality_vs_k_title_overlaps_no_panel_title(props):
    fig = locality_vs_k_figure(_items(props), _cfg(), "ev")
    fig.canvas.draw()
    r = fig.canvas.get_renderer()
    sup = _extent(fig._suptitle, r)
    panels = [ax for ax in fig.axes if ax.get_title()]
    assert [ax.get_title() for ax in panels] == list(props)
    assert [t.get_text() for t in panels[0].get_xticklabels()] == ["5", "10", "20"]
    for ax in panels:
        assert not sup.overlaps(_extent(ax.title, r)), ax.get_title()
        assert sup.y0 >= _extent(ax.title, r).y1
    assert 0 <= sup.x0 and sup.x1 <= fig.bbox.x1  # inside the figure, even with one panel
    legend = fig.legends[0]
    assert _texts(legend) == ["none", "ts", "ps"]
    for ax in panels:  # the legend covers no panel
        assert not legend.get_window_extent(r).overlaps(ax.get_window_extent(r))


def test_locality_by_property_has_a_legend_of_conditions_beside_the_bars():
    fig = locality_by_property_figure(_items(), _cfg(), "ev")
    fig.canvas.draw()
    r = fig.canvas.get_renderer()
    legend = fig.legends[0]
    assert _texts(legend) == ["none", "ts", "ps"]
    assert not legend.get_window_extent(r).overlaps(fig.axes[0].get_window_extent(r))


def test_plot_umaps_takes_a_reducer_and_leaves_the_maps_out_without_umap(tmp_path, monkeypatch, caplog):
    from tunespace.embed.format import EmbeddingSet, write_embeddings

    ids = [f"t{i}" for i in range(N)]
    labels = _maps(conds=("none",))["none"][1]
    csv = tmp_path / "labels.csv"
    rows = ["track_id,key,tempo_bpm,genre"] + [
        f"{i},{k or ''},{t:.1f},{g}" for i, k, t, g in zip(ids, labels["key"], labels["tempo_bpm"], labels["genre"])
    ]
    csv.write_text("\n".join(rows) + "\n")
    vec = np.random.default_rng(0).standard_normal((N, 8)).astype(np.float32)
    write_embeddings(tmp_path / "emb", EmbeddingSet(ids=ids, vectors=vec, meta={}))
    embeddings = {("none", 0, "ev"): tmp_path / "emb"}
    evals = [({"name": "ev"}, None, csv)]
    seen = []

    def reducer(x, seed):
        seen.append((x.shape, seed))
        return x[:, :2], "test"

    out = plot_umaps(embeddings, evals, "ev", ["none"], 0, tmp_path / "umap.png", reducer=reducer)
    assert out == tmp_path / "umap.png" and out.stat().st_size > 1000 and seen == [((N, 8), 0)]

    monkeypatch.setitem(sys.modules, "umap", None)  # umap-learn not installed
    with caplog.at_level(logging.WARNING, logger="tunespace.study"):
        assert plot_umaps(embeddings, evals, "ev", ["none"], 0, tmp_path / "umap2.png") is None
    assert "pip install 'tunespace[plots]'" in caplog.text
    assert not (tmp_path / "umap2.png").exists()


def test_plot_umaps_without_a_mapped_property_draws_nothing(tmp_path):
    """An evaluation set whose labels have none of the mapped properties (only an artist
    column, say) gets no map, instead of a figure of zero columns (a matplotlib error that
    stopped the report)."""
    from tunespace.embed.format import EmbeddingSet, write_embeddings

    ids = [f"t{i}" for i in range(N)]
    csv = tmp_path / "labels.csv"
    csv.write_text("track_id,artist\n" + "".join(f"{i},a{n % 3}\n" for n, i in enumerate(ids)))
    vec = np.random.default_rng(0).standard_normal((N, 8)).astype(np.float32)
    write_embeddings(tmp_path / "emb", EmbeddingSet(ids=ids, vectors=vec, meta={}))
    out = plot_umaps(
        {("none", 0, "ev"): tmp_path / "emb"},
        [({"name": "ev"}, None, csv)],
        "ev",
        ["none"],
        0,
        tmp_path / "umap.png",
        reducer=lambda x, seed: (x[:, :2], "test"),
    )
    assert out is None and not (tmp_path / "umap.png").exists()

"""What ``tunespace serve`` serves: indexes (with the model that made them), labels and audio.

Two sources:

- :func:`from_indexes`: INDEX folders written by ``tunespace index build`` (``NAME=PATH``
  names one; the default name is the folder's), with the audio of a dataset folder (default:
  the dataset recorded in the first index's ``meta["dataset"]``) and its labels or a CSV. A
  slice index (``index build --slices``) is served by its tracks
  (:func:`tunespace.passages.track_index`: the map and track queries), and an upload is placed
  within the tracks it finds by its slices (:func:`tunespace.passages.locate`).
- :func:`from_study`: a finished ``tunespace study`` folder: one exact index per condition,
  over the embeddings that the condition's seed-0 model made of one evaluation set (the
  first, or ``eval_name``), with that set's labels and audio. The stage folders are found
  as the study runner names them (:mod:`tunespace.study.runner`): nothing is recomputed,
  and a stage that is not finished is an error that says which.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import UsageError
from .catalogue import Catalogue, build_catalogue

_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._+@-]{0,63}$")


@dataclass
class ServedIndex:
    """One index the explorer serves.

    Attributes:
        name: its name in URLs and on the page.
        index: a :class:`tunespace.Index` (or anything with its interface).
        model_path: run folder or checkpoint of the model that made its embeddings (None:
            uploads cannot be embedded for it).
        description: one line for the page (where it comes from).
        map_cache: folder for its cached 2-D map (None: memory only).
        passages: the slice index whose tracks ``index`` holds (None: a track index), searched
            for uploads so that each found track comes with where the upload lies in it.
    """

    name: str
    index: Any
    model_path: str | None = None
    description: str = ""
    map_cache: Path | None = None
    passages: Any = None

    def __post_init__(self) -> None:
        if not _NAME.match(self.name):
            raise UsageError(f"index name {self.name!r}: use letters, digits and . _ + @ - (64 at most)")

    @property
    def ids(self) -> list[str]:
        return self.index.ids

    def __contains__(self, track_id: object) -> bool:
        return track_id in self.index

    def vector(self, track_id: str) -> np.ndarray:
        """The stored (L2-normalised) vector (D,) of a track of the index."""
        return self.index.vector(track_id)

    def vectors(self, rows: np.ndarray | None = None) -> np.ndarray:
        """The index's L2-normalised vectors ``(N, D)``, or those of ``rows`` only (for the map)."""
        if rows is None or len(rows) == len(self.index):
            x = np.asarray(self.index.vectors(), dtype=np.float32)
            return x if rows is None else x[rows]
        ids = self.index.ids
        return np.stack([self.index.vector(ids[r]) for r in rows]).astype(np.float32, copy=False)

    def model_options(self) -> dict[str, Any]:
        """The slicing and silence rule the index's embeddings were made with (``load_model``
        keywords, :func:`tunespace.embed.format.load_options`), as recorded."""
        from ..embed.format import load_options

        return load_options((getattr(self.index, "meta", {}) or {}).get("embedding_meta") or {})

    def info(self) -> dict[str, Any]:
        meta = dict(getattr(self.index, "meta", {}) or {})
        return {
            "name": self.name,
            "n": len(self.index),
            "dim": int(self.index.dim),
            "method": meta.get("method"),
            "description": self.description,
            "can_embed": self.model_path is not None,
            "passages": self.passages is not None,
        }


@dataclass
class Served:
    """Everything one explorer serves: its indexes (in order) and the catalogue."""

    indexes: list[ServedIndex]
    catalogue: Catalogue
    title: str = "tunespace explorer"
    notes: list[str] = field(default_factory=list)


def parse_index_spec(spec: str) -> tuple[str, Path]:
    """``"PATH"`` or ``"NAME=PATH"`` -> (name, path); the default name is the folder's name."""
    name, sep, path = spec.partition("=")
    if sep and _NAME.match(name):
        return name, Path(path)
    p = Path(spec)
    return p.resolve().name, p


def from_indexes(
    specs: list[str],
    audio: str | Path | None = None,
    labels: str | Path | None = None,
    map_cache: str | Path | None = None,
) -> Served:
    """Load INDEX folders (``PATH`` or ``NAME=PATH``) with their audio and labels.

    Args:
        specs: the ``--index`` values.
        audio: dataset folder of the audio (default: the first index's ``meta["dataset"]``
            when that folder exists).
        labels: CSV or dataset folder of labels (default: the audio dataset's labels).
        map_cache: folder for the maps (default: ``INDEX/maps/`` beside each index).
    Raises:
        UsageError: no index, duplicate names, an unreadable index.
    """
    from .. import Index
    from ..passages import is_slice_index, track_index

    if not specs:
        raise UsageError("give at least one --index")
    served: list[ServedIndex] = []
    for spec in specs:
        name, path = parse_index_spec(spec)
        if any(s.name == name for s in served):
            raise UsageError(f"two indexes are named {name!r}; name them with --index NAME=PATH")
        idx = Index.load(path)
        slices = idx if is_slice_index(idx) else None
        if slices is not None:
            idx = track_index(slices)
        cache = Path(map_cache) / name if map_cache is not None else Path(path) / "maps"
        text = str(Path(path)) + (" (slices: uploads are placed within the tracks found)" if slices else "")
        served.append(
            ServedIndex(
                name=name, index=idx, model_path=idx.model_path, description=text, map_cache=cache, passages=slices
            )
        )
    notes = []
    if audio is None:
        ds = (served[0].index.meta or {}).get("dataset")
        if ds and Path(ds).is_dir():
            audio = ds
            notes.append(f"audio and labels from {ds} (the dataset recorded in index {served[0].name})")
        else:
            notes.append("no audio: give --audio DATASET to play tracks")
    cat = build_catalogue([s.ids for s in served], audio=audio, labels=labels)
    return Served(indexes=served, catalogue=cat, notes=notes + cat.problems)


def _exact_index(emb_dir: Path, dataset: Path) -> Any:
    """An exact :class:`tunespace.Index` of the EMB folder ``emb_dir`` (of ``dataset``'s tracks)."""
    from .. import Index
    from ..embed.format import read_embeddings

    provenance = {"embeddings": str(emb_dir), "dataset": str(dataset)}
    return Index.build(read_embeddings(emb_dir), method="exact", provenance=provenance)


def from_study(
    study: str | Path, eval_name: str | None = None, baselines: bool = False, map_cache: str | Path | None = None
) -> Served:
    """The explorer of a finished study: one index per condition (seed-0 model) on one evaluation set.

    Args:
        study: the study folder (``tunespace study --out DIR``).
        eval_name: which evaluation set (default: the first in the study's config).
        baselines: also serve the baseline embeddings (chroma, MFCC, ...; no uploads).
        map_cache: folder for the maps (default: ``DIR/serve/maps/<eval set>/``).
    Raises:
        UsageError: not a study folder, unknown evaluation set, an unfinished stage.
    """
    from ..files import read_json
    from ..study.runner import embedding_seeds, study_graph

    root = Path(study)
    cfg_path = root / "config.json"
    if not cfg_path.is_file():
        raise UsageError(f"{root}: not a study folder (no config.json; run `tunespace study --out {root}` first)")
    cfg = read_json(cfg_path)
    names = [e["name"] for e in cfg.get("eval_data") or []]
    if not names:
        raise UsageError(f"{root}: the study has no evaluation set")
    if eval_name is not None and eval_name not in names:
        raise UsageError(f"{root}: no evaluation set {eval_name!r}; the study has: {', '.join(names)}")
    name = eval_name if eval_name is not None else names[0]
    graph = study_graph(cfg, root / "stages", reading=True)  # the study's own stages, whatever code made them
    eval_path = next(path for spec, _, path in graph.evals if spec["name"] == name)
    by_folder = {t.stage.path: t for t in graph.tasks}
    by_id = {t.id: t for t in graph.tasks}
    seed = cfg["seeds"][0]
    cache_root = Path(map_cache) if map_cache is not None else root / "serve" / "maps" / name
    served: list[ServedIndex] = []
    kinds = [f"baseline:{kind}" for kind in cfg.get("baselines", []) or []] if baselines else []
    for condition in [*cfg["conditions"], *kinds]:
        own_seed = embedding_seeds(condition, [seed])[0]
        emb = by_folder[graph.embeddings[(condition, own_seed, name)].parent]
        if not emb.done:
            raise UsageError(
                f"{root}: {condition!r} seed {own_seed} has no finished embeddings of {name!r} "
                "(stages made before tunespace recorded their code cannot be read); "
                f"run `tunespace study --out {root}` to finish or recompute the study"
            )
        idx = _exact_index(emb.stage.path / "emb", eval_path)
        if condition.startswith("baseline:"):
            kind = condition.split(":", 1)[1]
            label, model_path, text = f"baseline-{kind}", None, f"{kind} baseline on {name} (no uploads)"
        else:
            label, text = condition, f"condition {condition}, seed {seed} model, on {name}"
            model_path = idx.model_path or str(by_id[emb.deps[0]].stage.path / "run")
        served.append(ServedIndex(label, idx, model_path, text, cache_root / label))
    cat = build_catalogue([s.ids for s in served], audio=eval_path)
    title = f"tunespace explorer: study {cfg.get('name') or root.name}, {name}"
    other = graph.other_code()
    notes = [f"stages computed by other tunespace code ({', '.join(other)}): rerun the study to recompute"]
    notes = notes if other else []
    return Served(indexes=served, catalogue=cat, title=title, notes=notes + cat.problems)

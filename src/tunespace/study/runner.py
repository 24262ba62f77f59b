"""``tunespace study``: conditions x seeds -> train -> embed -> analyse -> report, every stage cached.

Stage graph (each a :class:`tunespace.study.cache.Stage`, keyed by its resolved config):

    corpus(train_data) ──► train(condition, seed) ──► embed(model, eval data) ──► analysis
    corpus(eval data)  ──────────────────────────────┘
    corpus(eval data)  ──► baseline(kind) ──────────────────────────────────────► analysis
    corpus(eval data)  ──► null (random embeddings: the noise floor of locality)

Results are gathered into ``DIR/results.csv`` / ``DIR/results.json`` (one row per
condition x seed x dataset x property x metric); the per-item values of every analysis
(``items.npz``) and the noise floors are gathered into a
:class:`tunespace.study.claims.StudyItems`, from which :mod:`tunespace.study.report` computes
every interval and verdict.
"""

from __future__ import annotations

import copy
import csv
import io
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from .. import __version__
from ..augment import parse_condition
from ..files import write_json, write_text
from ..lock import holds_folder_lock
from .cache import Stage
from .config import resolve_study_config

RESULT_FIELDS = ("condition", "seed", "dataset", "property", "metric", "k", "value")


def _log(msg: str) -> None:
    print(f"[study {time.strftime('%H:%M:%S')}] {msg}", flush=True)


def data_stage(spec: dict[str, Any], root: Path) -> tuple[Stage | None, Path]:
    """The corpus stage of a data spec (or None for an existing dataset) and the dataset folder."""
    if "corpus" in spec:
        st = Stage("corpus", {"corpus": spec["corpus"], "version": __version__}, root)
        return st, st.path / "corpus"
    return None, Path(spec["path"]).expanduser().resolve()


def ensure_data(spec: dict[str, Any], root: Path) -> tuple[str, Path]:
    """Build the corpus of ``spec`` if needed; returns (a cache key for the data, its folder)."""
    from ..corpus import build_corpus

    st, path = data_stage(spec, root)
    if st is None:
        return f"path:{path}", path
    if not st.done:
        _log(f"building corpus {spec['name']} ({spec['corpus']})")
        st.begin()
        t0 = time.perf_counter()
        c = spec["corpus"]
        build_corpus(
            path,
            tracks=int(c.get("tracks", 200)),
            seconds=float(c.get("seconds", 30.0)),
            seed=int(c.get("seed", 0)),
            source=c.get("source", "procedural"),
        )
        st.finish({"seconds": time.perf_counter() - t0})
    return st.key, path


def train_config(study: dict[str, Any], condition: str, seed: int, data_path: Path) -> dict[str, Any]:
    """The resolved trainer config of one condition and seed."""
    from ..train.config import resolve_config

    policy, backend = parse_condition(condition)
    base = copy.deepcopy(study.get("train", {}))
    base.setdefault("train", {})["progress"] = False
    cfg = resolve_config(
        None, [], base=base, **{"data.path": str(data_path), "augment.policy": policy, "seed": int(seed)}
    )
    if backend is not None:
        cfg["augment"]["backend"] = backend
    return cfg


def train_stage(
    cfg: dict[str, Any], condition: str, seed: int, train_key: str, train_path: Path, stages_dir: Path
) -> tuple[dict[str, Any], Stage]:
    """The resolved trainer config and the cached stage of one condition and seed (``run/`` inside
    the stage holds the run folder). ``train_key`` / ``train_path`` as :func:`ensure_data` gives."""
    tcfg = train_config(cfg, condition, seed, train_path)
    return tcfg, Stage(
        "train", {"train": {**tcfg, "data": {**tcfg["data"], "path": train_key}}, "version": __version__}, stages_dir
    )


def embed_stage(cfg: dict[str, Any], trained: Stage, eval_key: str, stages_dir: Path) -> Stage:
    """The cached stage of the embeddings (``emb/`` inside) of one evaluation set by one trained model."""
    return Stage("embed", {"model": trained.key, "data": eval_key, "embed": cfg["embed"]}, stages_dir)


@holds_folder_lock("tunespace study")  # one writer per study folder (tunespace.lock)
def run_study(
    out: str | Path,
    config: dict[str, Any] | None = None,
    *,
    preset: str | None = None,
    overrides: list[str] | None = None,
    stop_after_stages: int | None = None,
    progress: Callable[[str], None] = _log,
) -> dict[str, Any]:
    """Run (or resume) a study into ``out``; returns the summary (see :func:`report.summarise`).

    Args:
        out: study folder: ``stages/`` (the cache), results, report, plots, ``config.json``.
        config: a study config dict (else ``preset`` / defaults are resolved).
        stop_after_stages: stop after this many newly computed stages (tests interruption).
    """
    from ..embed.extract import embed_dataset, load_encoder
    from ..train import train
    from ..train.checkpoint import latest_checkpoint
    from .analysis import analyse, baseline_embeddings, noise_floor, read_noise_floor
    from .report import write_report

    cfg = config if config is not None else resolve_study_config(None, preset, overrides)
    out = Path(out)
    stages_dir = out / "stages"
    stages_dir.mkdir(parents=True, exist_ok=True)
    write_json(out / "config.json", cfg)
    budget = [stop_after_stages]

    def spent() -> bool:
        if budget[0] is None:
            return False
        budget[0] -= 1
        return budget[0] <= 0

    t_start = time.perf_counter()
    train_key, train_path = ensure_data(cfg["train_data"], stages_dir)
    evals = []
    for spec in cfg["eval_data"]:
        key, path = ensure_data(spec, stages_dir)
        evals.append((spec, key, path))

    rows: list[dict[str, Any]] = []
    embeddings: dict[tuple[str, int, str], Path] = {}
    analyses: dict[tuple[str, int, str], Path] = {}
    for condition in cfg["conditions"]:
        for seed in cfg["seeds"]:
            tcfg, tstage = train_stage(cfg, condition, seed, train_key, train_path, stages_dir)
            if not tstage.done:
                resume = latest_checkpoint(tstage.path / "run") is not None
                progress(f"train {condition} seed {seed} ({'resuming' if resume else 'new'}) -> {tstage.path.name}")
                tstage.begin()
                t0 = time.perf_counter()
                res = train(tstage.path / "run", tcfg, resume=resume)
                tstage.finish({"seconds": time.perf_counter() - t0, "final_loss": res.final_loss, "steps": res.steps})
                if spent():
                    return {"stopped": True}
            for spec, ekey, epath in evals:
                estage = embed_stage(cfg, tstage, ekey, stages_dir)
                if not estage.done:
                    progress(f"embed {condition} seed {seed} on {spec['name']}")
                    estage.begin()
                    t0 = time.perf_counter()
                    bundle = load_encoder(tstage.path / "run")
                    embed_dataset(bundle, epath, estage.path / "emb", progress=False, workers=1, **cfg["embed"])
                    estage.finish({"seconds": time.perf_counter() - t0})
                    if spent():
                        return {"stopped": True}
                embeddings[(condition, seed, spec["name"])] = estage.path / "emb"
                new_rows, computed, apath = _analysed(
                    cfg, spec, epath, estage, condition, seed, stages_dir, analyse, progress
                )
                rows += new_rows
                analyses[(condition, seed, spec["name"])] = apath
                if computed and spent():
                    return {"stopped": True}

    for spec, ekey, epath in evals:
        for kind in cfg.get("baselines", []):
            seeds = cfg["seeds"] if kind == "random" else [0]
            for seed in seeds:
                bstage = Stage(
                    "baseline",
                    {"kind": kind, "data": ekey, "seed": seed, "embed": cfg["embed"], "version": __version__},
                    stages_dir,
                )
                if not bstage.done:
                    progress(f"baseline {kind} seed {seed} on {spec['name']}")
                    bstage.begin()
                    t0 = time.perf_counter()
                    baseline_embeddings(kind, epath, bstage.path / "emb", seed=seed, embed_cfg=cfg["embed"])
                    bstage.finish({"seconds": time.perf_counter() - t0})
                    if spent():
                        return {"stopped": True}
                embeddings[(f"baseline:{kind}", seed, spec["name"])] = bstage.path / "emb"
                new_rows, computed, apath = _analysed(
                    cfg, spec, epath, bstage, f"baseline:{kind}", seed, stages_dir, analyse, progress
                )
                rows += new_rows
                analyses[(f"baseline:{kind}", seed, spec["name"])] = apath
                if computed and spent():
                    return {"stopped": True}

    nulls = {}
    for spec, ekey, epath in evals:
        acfg = _analysis_config(cfg, spec)
        nstage = Stage(
            "null",
            {"data": ekey, "analysis": {k: acfg[k] for k in ("ks", "properties", "null_replicates", "null_seed")}},
            stages_dir,
        )
        if not nstage.done:
            progress(f"noise floor of {spec['name']} ({acfg['null_replicates']} random embeddings)")
            nstage.begin()
            noise_floor(epath, acfg, out=nstage.path)
            nstage.finish({})
        nulls[spec["name"]] = read_noise_floor(nstage.path)

    write_results(out, rows)
    items = study_items(cfg, analyses, nulls)
    summary = write_report(out, cfg, rows, embeddings, evals, items)
    summary["wall_seconds"] = time.perf_counter() - t_start
    write_json(out / "summary.json", summary)
    return summary


def _analysis_config(cfg: dict, spec: dict) -> dict[str, Any]:
    return {**cfg["analysis"], "properties": spec.get("properties", cfg["analysis"]["properties"])}


#: Version of the analysis stage's output (items.npz); a new one recomputes the analyses.
ANALYSIS_FORMAT = 2


def _analysed(
    cfg: dict,
    spec: dict,
    data_path: Path,
    emb_stage: Stage,
    condition: str,
    seed: int,
    stages_dir: Path,
    analyse: Callable,
    progress: Callable[[str], None],
) -> tuple[list[dict[str, Any]], bool, Path]:
    acfg = _analysis_config(cfg, spec)
    astage = Stage("analysis", {"embeddings": emb_stage.key, "analysis": acfg, "format": ANALYSIS_FORMAT}, stages_dir)
    computed = not astage.done
    if computed:
        progress(f"analyse {condition} seed {seed} on {spec['name']}")
        astage.begin()
        rows = analyse(emb_stage.path / "emb", data_path, acfg, seed=seed, out=astage.path)
        write_json(astage.path / "rows.json", rows)
        astage.finish({"rows": len(rows)})
    from ..files import read_json

    rows = read_json(astage.path / "rows.json")
    return [{"condition": condition, "seed": seed, "dataset": spec["name"], **r} for r in rows], computed, astage.path


def study_items(
    cfg: dict[str, Any], analyses: dict[tuple[str, int, str], Path], nulls: dict[str, dict[str, dict[str, list[float]]]]
) -> Any:
    """The per-item values of every analysis, aligned by item id and stacked by seed
    (:class:`tunespace.study.claims.StudyItems`)."""
    import numpy as np

    from .analysis import read_items
    from .claims import StudyItems

    loaded = {key: read_items(path) for key, path in analyses.items()}
    items = StudyItems(ids={}, values={}, chance={}, null={}, roles={})
    for spec in cfg["eval_data"]:
        ds = spec["name"]
        items.roles[ds] = spec.get("role", "exploratory")
        mine = {key: v for key, v in loaded.items() if key[2] == ds}
        ids = sorted({i for v in mine.values() for i in v["ids"]})
        items.ids[ds] = ids
        pos = {i: n for n, i in enumerate(ids)}
        conditions = list(dict.fromkeys(c for c, _, _ in mine))
        for cond in conditions:
            seeds = sorted(s for c, s, _ in mine if c == cond)
            stacks: dict[tuple[str, str, str, str], list[np.ndarray]] = {}
            for seed in seeds:
                it = mine[(cond, seed, ds)]
                where = np.array([pos[i] for i in it["ids"]], dtype=np.int64)

                def full(v: np.ndarray, where: np.ndarray = where, n: int = len(ids)) -> np.ndarray:
                    out = np.full(n, np.nan)
                    out[where] = v
                    return out

                for m, (agr, ch) in it["locality"].items():
                    items.chance.setdefault((ds, m), full(ch))
                    for j, k in enumerate(it["ks"]):
                        stacks.setdefault((ds, m, "locality", str(k)), []).append(full(agr[:, j]))
                for (metric, prop, k), v in it["scores"].items():
                    stacks.setdefault((ds, prop, metric, str(k)), []).append(full(v))
            for key, vals in stacks.items():
                if len(vals) == len(seeds):
                    items.values.setdefault(key, {})[cond] = np.stack(vals)
        for m, byk in nulls.get(ds, {}).items():
            for k, (_, sd) in byk.items():
                items.null[(ds, m, str(k))] = sd
    return items


def write_results(out: Path, rows: list[dict[str, Any]]) -> None:
    """``results.csv`` and ``results.json``: one row per condition x seed x dataset x property x metric."""
    buf = io.StringIO()
    w = csv.DictWriter(buf, fieldnames=list(RESULT_FIELDS), lineterminator="\n")
    w.writeheader()
    for r in rows:
        w.writerow({k: r.get(k, "") for k in RESULT_FIELDS})
    write_text(out / "results.csv", buf.getvalue())
    write_json(out / "results.json", rows)

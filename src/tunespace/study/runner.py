"""``tunespace study``: conditions x seeds -> train -> embed -> analyse -> report, every stage cached.

Stage graph (each a :class:`tunespace.study.cache.Stage`, keyed by its resolved config):

    corpus(train_data) ──► train(condition, seed) ──► embed(model, eval data) ──► analysis
    corpus(eval data)  ──────────────────────────────┘
    corpus(eval data)  ──► baseline(kind) ──────────────────────────────────────► analysis
    corpus(eval data)  ──► null (random embeddings: the noise floor of locality)

:func:`study_graph` lists the stages (:class:`StageTask`, each naming the stages it needs);
a launcher (:mod:`tunespace.study.launcher`) computes those not yet done, here one after the
other or as cluster jobs, each with :func:`run_task`. Once all are done, results are gathered
into ``DIR/results.csv`` / ``DIR/results.json`` (one row per condition x seed x dataset x
property x metric); the per-item values of every analysis (``items.npz``) and the noise floors
are gathered into a :class:`tunespace.study.claims.StudyItems`, from which
:mod:`tunespace.study.report` computes every interval and verdict.
"""

from __future__ import annotations

import copy
import csv
import io
import os
import socket
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..augment import parse_condition
from ..files import read_json, write_json, write_text
from ..lock import holds_folder_lock
from ..train.config import drop_later_keys
from .cache import Stage, code_fingerprint
from .config import condition_overrides, resolve_study_config
from .launcher import resolve_launcher, run_tasks, submitit_module, world_size

RESULT_FIELDS = ("condition", "seed", "dataset", "property", "metric", "k", "value")


def _log(msg: str) -> None:
    print(f"[study {time.strftime('%H:%M:%S')}] {msg}", flush=True)


def data_stage(spec: dict[str, Any], root: Path) -> tuple[Stage | None, Path]:
    """The corpus stage of a data spec (or None for an existing dataset) and the dataset folder."""
    if "corpus" in spec:
        st = Stage("corpus", {"corpus": spec["corpus"]}, root)
        return st, st.path / "corpus"
    return None, Path(spec["path"]).expanduser().resolve()


def data_key(spec: dict[str, Any], root: Path) -> tuple[str, Path]:
    """A cache key for the data of ``spec`` (its corpus stage's, or its path) and its folder."""
    st, path = data_stage(spec, root)
    return (f"path:{path}" if st is None else st.key), path


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
    cfg["augment"]["overrides"] = condition_overrides(policy, cfg["augment"]["overrides"])
    return cfg


def train_stage(
    cfg: dict[str, Any], condition: str, seed: int, train_key: str, train_path: Path, stages_dir: Path
) -> tuple[dict[str, Any], Stage]:
    """The resolved trainer config and the cached stage of one condition and seed (``run/`` inside
    the stage holds the run folder). ``train_key`` / ``train_path`` as :func:`data_key` gives.
    Trained by several processes (the launcher's ``world_size``), the stage's key says how many:
    the global batch is ``train.batch_size`` times that."""
    tcfg = train_config(cfg, condition, seed, train_path)
    n = world_size(cfg)
    return tcfg, Stage(
        "train",
        {
            # keys added later leave the stage key as it was while they keep their earlier behaviour
            "train": {**drop_later_keys(tcfg), "data": {**tcfg["data"], "path": train_key}},
            **({"world_size": n} if n > 1 else {}),
        },
        stages_dir,
    )


def embed_stage(cfg: dict[str, Any], trained: Stage, eval_key: str, stages_dir: Path) -> Stage:
    """The cached stage of the embeddings (``emb/`` inside) of one evaluation set by one trained model."""
    return Stage("embed", {"model": trained.key, "data": eval_key, "embed": cfg["embed"]}, stages_dir)


def analysis_config(cfg: dict, spec: dict) -> dict[str, Any]:
    """The analysis settings of the evaluation set ``spec`` of the study ``cfg``: the study's
    ``analysis`` section with the set's ``properties`` and ``groups``."""
    acfg = {**cfg["analysis"], "properties": spec.get("properties", cfg["analysis"]["properties"])}
    if spec.get("groups"):  # only when set: the stages of ungrouped sets keep their keys
        acfg["groups"] = spec["groups"]
    return acfg


#: Version of the analysis stage's output (items.npz); a new one recomputes the analyses.
ANALYSIS_FORMAT = 2


@dataclass(frozen=True)
class StageTask:
    """One stage of the study graph and how to compute it (picklable: a cluster job runs it).

    Attributes:
        name: for messages (``train ts seed 0``).
        stage: the cached stage it completes.
        action: ``corpus``, ``train``, ``embed``, ``baseline``, ``analysis`` or ``null``.
        args: what :func:`run_task` needs for the action.
        deps: ids of the stages it reads.
        heavy: runs on the launcher's GPUs, one process per GPU (training, embedding).
    """

    name: str
    stage: Stage
    action: str
    args: dict[str, Any] = field(default_factory=dict)
    deps: tuple[str, ...] = ()
    heavy: bool = False

    @property
    def id(self) -> str:
        return self.stage.path.name

    @property
    def done(self) -> bool:
        return self.stage.done


@dataclass
class StudyGraph:
    """Every stage of a study (in an order that puts each after what it needs) and where the
    report finds their outputs."""

    tasks: list[StageTask]
    evals: list[tuple[dict[str, Any], str, Path]]  # (spec, data key, folder) per evaluation set
    embeddings: dict[tuple[str, int, str], Path]  # (condition, seed, dataset) -> EMB folder
    analyses: dict[tuple[str, int, str], Path]  # (condition, seed, dataset) -> analysis stage folder
    nulls: dict[str, Path]  # dataset -> noise-floor stage folder

    def other_code(self) -> list[str]:
        """Code fingerprints, other than this process's, of the stages found (``reading``)."""
        return sorted({t.stage.code for t in self.tasks if t.stage.code and t.stage.code != code_fingerprint()})


def embedding_seeds(condition: str, seeds: list[int]) -> list[int]:
    """The seeds a study embeds ``condition`` with: every seed for a trained condition and the
    random baseline, seed 0 alone for the other baselines (``baseline:KIND``; they draw nothing)."""
    return [0] if condition.startswith("baseline:") and condition != "baseline:random" else list(seeds)


def study_graph(cfg: dict[str, Any], stages_dir: Path, *, device: str = "cpu", reading: bool = False) -> StudyGraph:
    """The stages of the study ``cfg`` under ``stages_dir`` (``device``: of the embedding stages).

    With ``reading``, each stage is :meth:`Stage.existing`: a reader of a finished study also
    finds stages that other code computed (:meth:`StudyGraph.other_code` names that code).
    """
    tasks: dict[str, StageTask] = {}

    def found(st: Stage) -> Stage:
        return st.existing() if reading else st

    def add(task: StageTask) -> StageTask:
        return tasks.setdefault(task.id, task)  # two evaluation sets may share a stage

    def data(spec: dict[str, Any]) -> tuple[str, Path, tuple[str, ...]]:
        st, path = data_stage(spec, stages_dir)
        if st is None:
            return f"path:{path}", path, ()
        st = found(st)
        path = st.path / "corpus"
        c = spec["corpus"]
        add(StageTask(f"corpus {spec['name']} ({c})", st, "corpus", {"corpus": c, "path": path}))
        return st.key, path, (st.path.name,)

    train_key, train_path, train_deps = data(cfg["train_data"])
    evals, eval_deps = [], {}
    for spec in cfg["eval_data"]:
        key, path, deps = data(spec)
        evals.append((spec, key, path))
        eval_deps[spec["name"]] = deps
    embeddings: dict[tuple[str, int, str], Path] = {}
    analyses: dict[tuple[str, int, str], Path] = {}

    def analysis(spec: dict, path: Path, emb: StageTask, condition: str, seed: int) -> None:
        acfg = analysis_config(cfg, spec)
        st = found(
            Stage("analysis", {"embeddings": emb.stage.key, "analysis": acfg, "format": ANALYSIS_FORMAT}, stages_dir)
        )
        a = add(
            StageTask(
                f"analyse {condition} seed {seed} on {spec['name']}",
                st,
                "analysis",
                {"emb": emb.stage.path / "emb", "data": path, "analysis": acfg, "seed": seed},
                (emb.id, *eval_deps[spec["name"]]),
            )
        )
        embeddings[(condition, seed, spec["name"])] = emb.stage.path / "emb"
        analyses[(condition, seed, spec["name"])] = a.stage.path

    for condition in cfg["conditions"]:
        for seed in cfg["seeds"]:
            tcfg, tstage = train_stage(cfg, condition, seed, train_key, train_path, stages_dir)
            tstage = found(tstage)
            tr = add(
                StageTask(f"train {condition} seed {seed}", tstage, "train", {"config": tcfg}, train_deps, heavy=True)
            )
            for spec, ekey, epath in evals:
                emb = add(
                    StageTask(
                        f"embed {condition} seed {seed} on {spec['name']}",
                        found(embed_stage(cfg, tstage, ekey, stages_dir)),
                        "embed",
                        {"model": tstage.path / "run", "data": epath, "embed": cfg["embed"], "device": device},
                        (tr.id, *eval_deps[spec["name"]]),
                        heavy=True,
                    )
                )
                analysis(spec, epath, emb, condition, seed)

    for spec, ekey, epath in evals:
        for kind in cfg.get("baselines", []):
            for seed in embedding_seeds(f"baseline:{kind}", cfg["seeds"]):
                bst = found(
                    Stage("baseline", {"kind": kind, "data": ekey, "seed": seed, "embed": cfg["embed"]}, stages_dir)
                )
                b = add(
                    StageTask(
                        f"baseline {kind} seed {seed} on {spec['name']}",
                        bst,
                        "baseline",
                        {"kind": kind, "data": epath, "seed": seed, "embed": cfg["embed"]},
                        eval_deps[spec["name"]],
                    )
                )
                analysis(spec, epath, b, f"baseline:{kind}", seed)

    nulls = {}
    for spec, ekey, epath in evals:
        acfg = analysis_config(cfg, spec)
        nst = found(
            Stage(
                "null",
                {
                    "data": ekey,
                    "analysis": {
                        k: acfg[k] for k in ("ks", "properties", "null_replicates", "null_seed", "groups") if k in acfg
                    },
                },
                stages_dir,
            )
        )
        n = add(
            StageTask(
                f"noise floor of {spec['name']} ({acfg['null_replicates']} random embeddings)",
                nst,
                "null",
                {"data": epath, "analysis": acfg},
                eval_deps[spec["name"]],
            )
        )
        nulls[spec["name"]] = n.stage.path
    return StudyGraph(list(tasks.values()), evals, embeddings, analyses, nulls)


def run_task(task: StageTask) -> dict[str, Any]:
    """Compute one stage and mark it done (in every process of a job: ranks other than 0 take
    their share of a training or embedding stage and leave the marker to rank 0)."""
    rank = int(os.environ.get("RANK", "0"))
    st, a = task.stage, task.args
    if st.done:  # a duplicate job (resubmitted while the first one finished)
        return st.summary()
    if rank == 0:
        st.begin()
    started, t0 = time.time(), time.perf_counter()
    summary: dict[str, Any] = {}
    if task.action == "corpus":
        from ..corpus import build_corpus

        c = a["corpus"]
        build_corpus(
            a["path"],
            tracks=int(c.get("tracks", 200)),
            seconds=float(c.get("seconds", 30.0)),
            seed=int(c.get("seed", 0)),
            source=c.get("source", "procedural"),
        )
    elif task.action == "train":
        from ..models.checkpoint import latest_checkpoint
        from ..train import train

        run = st.path / "run"
        res = train(run, a["config"], resume=latest_checkpoint(run) is not None)
        summary = {"final_loss": res.final_loss, "steps": res.steps}
        if a["config"]["train"].get("threads"):  # the training's own, restored when it returns
            summary["torch_threads"] = int(a["config"]["train"]["threads"])
    elif task.action == "embed":
        from ..embed.extract import embed_dataset, load_encoder

        device = a.get("device", "cpu")  # auto: CUDA where there is one (tunespace.devices.resolve)
        embed_dataset(
            load_encoder(a["model"]), a["data"], st.path / "emb", progress=False, workers=1, device=device, **a["embed"]
        )
    elif task.action == "baseline":
        from .analysis import baseline_embeddings

        baseline_embeddings(a["kind"], a["data"], st.path / "emb", seed=a["seed"], embed_cfg=a["embed"])
    elif task.action == "analysis":
        from .analysis import analyse

        rows = analyse(a["emb"], a["data"], a["analysis"], seed=a["seed"], out=st.path)
        write_json(st.path / "rows.json", rows)
        summary = {"rows": len(rows)}
    elif task.action == "null":
        from .analysis import noise_floor

        noise_floor(a["data"], a["analysis"], out=st.path)
    else:
        raise ValueError(f"unknown stage action {task.action!r}")
    summary = {
        "seconds": time.perf_counter() - t0,
        **summary,
        "started": started,
        "ended": time.time(),
        "host": socket.gethostname(),
        "pid": os.getpid(),
        "processes": int(os.environ.get("WORLD_SIZE", "1")),
    }
    # torch's CPU results depend on it in the last bits (launcher.threads, train.threads)
    summary.setdefault("torch_threads", sys.modules["torch"].get_num_threads() if "torch" in sys.modules else None)
    if rank == 0:
        st.finish(summary)
    return summary


@holds_folder_lock("tunespace study")  # one writer per study folder (tunespace.lock)
def run_study(
    out: str | Path,
    config: dict[str, Any] | None = None,
    *,
    preset: str | None = None,
    overrides: list[str] | None = None,
    should_stop: Callable[[int], bool] | None = None,
    progress: Callable[[str], None] = _log,
) -> dict[str, Any]:
    """Run (or resume) a study into ``out``; returns the summary (see :func:`report.summarise`).

    Args:
        out: study folder: ``stages/`` (the cache), results, report, plots, ``config.json``;
            with the slurm launcher also ``jobs/`` (submitit's scripts and logs).
        config: a study config dict (else ``preset`` / defaults are resolved); its ``launcher``
            section says where stages run (:mod:`tunespace.study.launcher`).
        should_stop: called after each newly completed stage with the number completed so
            far; True stops the study there (returns ``{"stopped": True}``), as an
            interruption would.
    """
    from .analysis import read_noise_floor
    from .report import write_report

    cfg = config if config is not None else resolve_study_config(None, preset, overrides)
    lc = resolve_launcher(cfg.get("launcher"))
    if lc["kind"] == "slurm":
        submitit_module()  # missing: one line naming the extra, before anything is written
    out = Path(out)
    stages_dir = out / "stages"
    stages_dir.mkdir(parents=True, exist_ok=True)
    write_json(out / "config.json", cfg)
    t_start = time.perf_counter()
    graph = study_graph(cfg, stages_dir, device="cpu" if lc["kind"] == "local" else "auto")
    if not run_tasks(graph.tasks, run_task, lc, out / "jobs", should_stop=should_stop, progress=progress):
        return {"stopped": True}

    rows: list[dict[str, Any]] = []
    for (condition, seed, ds), apath in graph.analyses.items():
        rows += [{"condition": condition, "seed": seed, "dataset": ds, **r} for r in read_json(apath / "rows.json")]
    nulls = {ds: read_noise_floor(path) for ds, path in graph.nulls.items()}
    write_results(out, rows)
    items = study_items(cfg, graph.analyses, nulls)
    summary = write_report(out, cfg, rows, graph.embeddings, graph.evals, items)
    summary["wall_seconds"] = time.perf_counter() - t_start
    write_json(out / "summary.json", summary)
    return summary


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

"""Study configuration: its settings (:data:`STUDY`), presets (``demo``, ``default``, ``paper``),
YAML files, overrides.

Every key (default, type, unit, description) is defined once, in :data:`STUDY` below; the
reference ``docs/config.md`` ("Study") is generated from it. The presets are
``src/tunespace/configs/study-*.yaml``. A study's ``train`` section holds trainer settings
(:data:`tunespace.train.config.TRAIN`) merged over the trainer's defaults for every condition
and seed; its ``launcher`` section says where the stages run (:mod:`tunespace.study.launcher`).
Evaluation sets declare their ``role``: ``exploratory`` (the default: design choices may be
judged on it) or ``confirmatory`` (held back: its verdicts confirm a design fixed beforehand;
see docs/study.md). The report gives the verdicts of each set separately.
"""

from __future__ import annotations

from importlib import resources
from pathlib import Path
from typing import Any

from ..augment import parse_condition
from ..augment.policy import NAMED, build_policy
from ..config import Each, Param, Section, apply_overrides, check_keys, load_yaml, merge, require, yaml_load
from ..corpus.plan import SOURCES
from ..embed.extract import MAX_HOP_SECONDS, MAX_SLICE_SECONDS, MIN_HOP_SECONDS, MIN_SECONDS, SILENCE_DB
from ..errors import ConfigError
from ..features.logmel import input_bands
from ..train.config import TRAIN, validate_config
from .launcher import CLUSTERS, LAUNCHERS, resolve_launcher
from .launcher import DEFAULTS as LAUNCHER_DEFAULTS

PRESETS = ("demo", "default", "paper")
BASELINES = ("chroma", "mfcc", "tempogram", "random")
PROBES = ("linear", "mlp")
ROLES = ("exploratory", "confirmatory")


def _data(doc: str, evaluation: bool) -> Section:
    """A data entry: a corpus to build or an existing dataset (``whole``: a file's entry replaces
    the preset's, since ``corpus`` and ``path`` are alternatives); an evaluation set also has
    ``properties`` and a ``role``."""
    entries: dict[str, Param | Section] = {
        "name": Param(None, str, "name of the set (stages, report)", required=True),
        "corpus": Section(
            "A corpus built by `tunespace corpus build` (instead of `path`); cached as a stage.",
            {
                "tracks": Param(200, int, "number of tracks", unit="tracks", min=1),
                "seconds": Param(30.0, float, "length of each track", unit="s", min=5),
                "seed": Param(0, int, "seed of the compositions", min=0),
                "source": Param("procedural", str, "where the compositions come from", choices=SOURCES),
            },
            fill=False,
            optional=True,
        ),
        "path": Param(None, Path, "an existing dataset, any that `--data` accepts (instead of `corpus`)", fill=False),
        "kind": Param("auto", str, "dataset reader of `path`", fill=False),
    }
    if evaluation:
        entries["properties"] = Param(
            None,
            list,
            "the labelled properties evaluated on this set (null: analysis.properties)",
            item=str,
            also=(None,),
            fill=False,
        )
        entries["groups"] = Param(
            None,
            str,
            "a label column such as piece, artist or album: a query's neighbours sharing its value are left "
            "out of locality, its noise floor and k-NN, and the probes' folds keep them together (null: none)",
            also=(None,),
            fill=False,
        )
        entries["role"] = Param(
            "exploratory",
            str,
            "exploratory: design choices may be judged on it; confirmatory: held back, its verdicts "
            "confirm a design fixed beforehand (docs/study.md)",
            choices=ROLES,
        )
    return Section(doc, entries, whole=True, required=True)


#: Where the stages run; the defaults are applied by :func:`tunespace.study.launcher.resolve_launcher`.
LAUNCHER = Section(
    "Where the stages run: here (one after the other, or `workers` at a time), or as Slurm jobs via submitit "
    "(tunespace.study.launcher; `--launcher` sets kind).",
    {
        "kind": Param(
            LAUNCHER_DEFAULTS["kind"], str, "local: on this machine; slurm: each stage a job", choices=LAUNCHERS
        ),
        "workers": Param(
            LAUNCHER_DEFAULTS["workers"],
            int,
            "local: trainings and embeddings run at once, each in a process of its own, the light stages in "
            "the study's process (1: everything one after another there); each holds its own memory",
            unit="processes",
            min=1,
        ),
        "threads": Param(
            LAUNCHER_DEFAULTS["threads"],
            int,
            "local: torch CPU threads of every stage (a training's train.threads wins); 0: torch's default in "
            "the study's process, cores // workers in each worker. Torch's results depend on it in the last "
            "bits: set it for results that are the same bit for bit whatever workers and the cores are",
            unit="threads",
            min=0,
        ),
        "cluster": Param(
            LAUNCHER_DEFAULTS["cluster"],
            str,
            "submitit's executor: slurm, or local (jobs as processes on this machine; for tests)",
            choices=CLUSTERS,
        ),
        "partition": Param(
            LAUNCHER_DEFAULTS["partition"], str, "Slurm partition of the training and embedding jobs", also=(None,)
        ),
        "cpu_partition": Param(
            LAUNCHER_DEFAULTS["cpu_partition"], str, "Slurm partition of the other jobs (null: partition)", also=(None,)
        ),
        "nodes": Param(LAUNCHER_DEFAULTS["nodes"], int, "nodes of a training or embedding job", unit="nodes", min=1),
        "gpus_per_node": Param(LAUNCHER_DEFAULTS["gpus_per_node"], int, "GPUs per node", unit="GPUs", min=0),
        "tasks_per_node": Param(
            LAUNCHER_DEFAULTS["tasks_per_node"],
            int,
            "processes per node (null: gpus_per_node, or 1 without GPUs)",
            min=1,
            also=(None,),
        ),
        "cpus_per_task": Param(LAUNCHER_DEFAULTS["cpus_per_task"], int, "CPUs per process", unit="CPUs", min=1),
        "mem_gb": Param(
            LAUNCHER_DEFAULTS["mem_gb"],
            float,
            "memory per node (null: Slurm's default)",
            unit="GB",
            min=0,
            min_open=True,
            also=(None,),
        ),
        "timeout_min": Param(LAUNCHER_DEFAULTS["timeout_min"], int, "time limit of one job", unit="min", min=1),
        "max_retries": Param(LAUNCHER_DEFAULTS["max_retries"], int, "resubmissions of a job that fails or dies", min=0),
        "max_timeouts": Param(
            LAUNCHER_DEFAULTS["max_timeouts"],
            int,
            "requeues of a job that reaches its time limit or is preempted",
            min=0,
        ),
        "poll_seconds": Param(
            LAUNCHER_DEFAULTS["poll_seconds"], float, "how often jobs are checked", unit="s", min=0, min_open=True
        ),
        "folder": Param(
            LAUNCHER_DEFAULTS["folder"], str, "where submitit keeps job scripts and logs (null: OUT/jobs)", also=(None,)
        ),
        "setup": Param(
            LAUNCHER_DEFAULTS["setup"],
            list,
            "shell lines run before each job (module load ..., source venv/bin/activate)",
            item=str,
        ),
        "slurm": Param(
            LAUNCHER_DEFAULTS["slurm"], dict, "further sbatch parameters, e.g. {account: myproj, qos: high}"
        ),
    },
    fill=False,
    optional=True,
)

#: Every key a study config may hold (``docs/config.md``, "Study").
STUDY = Section(
    "A study: conditions (augmentation policies) x training seeds, each trained, embedded and analysed.",
    {
        "name": Param(None, str, "the study's name, in the report's title", also=(None,), fill=False),
        "seeds": Param(None, list, "training seeds of every condition", item=int, min=0, min_items=1, required=True),
        "conditions": Param(
            None,
            list,
            "augmentation policies compared (none, ts, ps, eq, ts+ps, ts+ps+eq, ts+ps+eq+rev, lp); "
            "NAME@BACKEND picks the backend (ps@waveform against ps@spectral)",
            item=str,
            min_items=1,
            required=True,
        ),
        "train_data": _data("The data every condition is trained on.", evaluation=False),
        "eval_data": Each(
            _data("An evaluation set.", evaluation=True),
            "The evaluation sets (other data than training may be used); names unique.",
            required=True,
            min_items=1,
        ),
        "train": TRAIN.partial(
            "Trainer settings of every condition and seed.",
            "The trainer's sections and keys (Training, above), holding only what is given: for each "
            "condition and seed they are merged over the trainer's defaults, with `data.path`, "
            "`augment.policy` and `seed` set by the study; of `augment.overrides`, each condition takes "
            "`apply_to` and the augmentations its policy has.",
        ),
        "embed": Section(
            "How each trained model embeds the evaluation sets (as `tunespace embed`).",
            {
                "slice_seconds": Param(
                    3.0,
                    float,
                    "length of the slices a track is cut into",
                    unit="s",
                    min=0,
                    max=MAX_SLICE_SECONDS,
                    min_open=True,
                ),
                "hop_seconds": Param(
                    2.0, float, "hop between slices", unit="s", min=MIN_HOP_SECONDS, max=MAX_HOP_SECONDS
                ),
                "min_seconds": Param(
                    MIN_SECONDS, float, "shorter tracks are reported and left out", unit="s", min=0, fill=False
                ),
                "silence_db": Param(
                    SILENCE_DB,
                    float,
                    "tracks whose peak is below this are reported as silent and left out, slices below it are left "
                    "out of their track's mean (null: neither)",
                    unit="dBFS",
                    max=0,
                    also=(None,),
                    fill=False,
                ),
            },
        ),
        "analysis": Section(
            "What is measured on the embeddings (docs/metrics.md).",
            {
                "ks": Param([1, 5, 10, 20], list, "neighbourhood sizes of locality L@k", item=int, min=1, min_items=1),
                "headline_k": Param(10, int, "the k the claims use; one of ks", min=1),
                "properties": Param(
                    None,
                    list,
                    "labelled properties analysed (null: every property the labels have)",
                    item=str,
                    also=(None,),
                ),
                "bootstrap": Param(200, int, "query resamples of each model's own locality intervals", min=0),
                "knn_k": Param(10, int, "neighbours of the k-NN classifier", min=1),
                "probes": Param(["linear"], list, "probes trained on the embeddings", item=str, choices=PROBES),
                "folds": Param(5, int, "cross-validation folds of the probes (the same for every condition)", min=2),
                "fold_seed": Param(0, int, "seed of the folds", min=0),
                "null_replicates": Param(200, int, "random embeddings of the noise floor", min=2),
                "null_seed": Param(0, int, "seed of the random embeddings", min=0),
                "split_seed": Param(0, int, "seed of the halves of claim 4", min=0),
            },
        ),
        "baselines": Param([], list, "reference embeddings computed alongside", item=str, choices=BASELINES),
        "umap": Param(True, bool, "draw the 2-D maps"),
        "launcher": LAUNCHER,
    },
)


def preset(name: str) -> dict[str, Any]:
    """The study config of a named preset."""
    if name not in PRESETS:
        raise ConfigError(f"unknown preset {name!r}; known: {', '.join(PRESETS)}")
    text = resources.files("tunespace").joinpath(f"configs/study-{name}.yaml").read_text(encoding="utf-8")
    return yaml_load(text)


def resolve_study_config(
    config_file: str | Path | None = None, preset_name: str | None = None, overrides: list[str] | None = None
) -> dict[str, Any]:
    """Preset, then the file merged over it, then ``key=value`` overrides (the merge rule of
    :mod:`tunespace.config`); without either, the ``default`` preset. Checked against :data:`STUDY`."""
    if config_file is None and preset_name is None:
        preset_name = "default"
    cfg = preset(preset_name) if preset_name else {}
    if config_file is not None:
        cfg = merge(cfg, load_yaml(config_file), STUDY)
    cfg = apply_overrides(cfg, overrides or [], STUDY, what="study config key")
    validate_study_config(cfg)
    return cfg


def validate_study_config(cfg: dict[str, Any]) -> None:
    """Fill in the defaults (in place) and check every key, value and relation before any work
    starts (ConfigError naming the key)."""
    STUDY.complete(cfg)
    check_keys(cfg, STUDY, what="study config key")
    require(len(set(cfg["seeds"])) == len(cfg["seeds"]), "seeds must not repeat")
    require(len(set(cfg["conditions"])) == len(cfg["conditions"]), "conditions must not repeat")
    for i, c in enumerate(cfg["conditions"]):
        try:
            policy, backend = parse_condition(c)
            build_policy(policy, backend or "spectral")
        except ConfigError as e:
            raise ConfigError(f"conditions[{i}] {c!r}: {e}") from None
    _check_augment_overrides(cfg)
    for where, spec in [
        ("train_data", cfg["train_data"]),
        *((f"eval_data[{i}]", s) for i, s in enumerate(cfg["eval_data"])),
    ]:
        require(("corpus" in spec) != ("path" in spec), f"{where} needs either corpus or path, got {spec!r}")
    names = [s["name"] for s in cfg["eval_data"]]
    require(len(set(names)) == len(names), "eval_data names must be unique")
    a = cfg["analysis"]
    require(a["headline_k"] in a["ks"], "analysis.headline_k must be one of analysis.ks")
    resolve_launcher(cfg.get("launcher"))  # its relations; its defaults: tunespace.study.launcher
    from ..embed.extract import check_embed_settings
    from ..errors import UsageError

    try:  # the embed settings' relations, before any stage runs
        check_embed_settings(**cfg["embed"])
    except UsageError as e:
        raise ConfigError(f"embed.{e}") from None
    train = merge(TRAIN.defaults(), cfg["train"], TRAIN)  # what every condition resolves from
    TRAIN.complete(train)
    validate_config(train, where="train")
    from ..models.registry import check_encoder

    model = train["model"]
    try:  # as the trainer's prepare() does, but before the corpora are built and without building it
        check_encoder(model["encoder"], n_mels=input_bands(train["frontend"]), **model["encoder_args"])
    except ConfigError as e:
        raise ConfigError(f"train.model: {e}") from None


def condition_overrides(policy: str, overrides: dict[str, Any] | None) -> dict[str, Any]:
    """The part of a study's ``train.augment.overrides`` that applies to the named ``policy``:
    ``apply_to`` and the parameters of the augmentations it has (``none`` has none)."""
    types = NAMED.get(policy, [])
    return {k: v for k, v in (overrides or {}).items() if k == "apply_to" or k in types}


def _check_augment_overrides(cfg: dict[str, Any]) -> None:
    """Each override names an augmentation of some condition, and each condition's policy takes
    its share (values in range), before any work starts."""
    from ..features import FrontEnd

    train = merge(TRAIN.defaults(), cfg["train"], TRAIN)
    overrides = train["augment"]["overrides"]
    if not isinstance(overrides, dict) or not overrides:
        return  # not a mapping: validate_config names it
    policies = [parse_condition(c) for c in cfg["conditions"]]
    used = {t for policy, _ in policies for t in NAMED.get(policy, [])}
    for key in overrides:
        require(
            key == "apply_to" or key in used,
            f"train.augment.overrides.{key}: no condition's policy has this augmentation "
            f"(conditions: {', '.join(cfg['conditions'])})",
        )
    try:
        frontend = FrontEnd.from_dict(train["frontend"] or {})
    except (ConfigError, TypeError):
        return  # validate_config names the front end's problem
    for c, (policy, backend) in zip(cfg["conditions"], policies):
        try:
            build_policy(
                policy,
                backend or train["augment"]["backend"],
                overrides=condition_overrides(policy, overrides),
                frontend=frontend,
            )
        except ConfigError as e:
            raise ConfigError(f"train.augment.overrides (condition {c!r}): {e}") from None

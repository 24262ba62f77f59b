"""How the pretrained models are made: one command, ``tunespace pretrained build --out DIR``.

1. **Data, rendered by tunespace itself.** A procedural corpus (``procedural_tracks`` x 30 s,
   seed 100) and two music21 corpora of real compositions (``music21_tracks`` x 30 s each,
   seeds 101 and 102: the same pieces rendered again with other instruments, tempi and
   transpositions). The music21 pieces are split by a hash of their corpus path
   (:func:`piece_split`: one piece in five is ``"eval"``): the training list
   (``DIR/data/train.txt``) holds every procedural track and the music21 tracks of ``"train"``
   pieces only.
2. **Training.** A study (``DIR/study``, :func:`tunespace.study.run_study`) trains ``small``
   under each of :data:`POLICIES` with each of :data:`SEEDS` (:data:`TRAIN` settings) on that
   list: the second seed puts the training's own variance into every interval of the report.
3. **Evaluation, on data no model saw.** The same study embeds and profiles three evaluation
   sets: ``music21-release7`` (music21 renders of seed 2034 restricted to ``"eval"`` pieces:
   compositions never heard in training; role ``confirmatory``), and ``music21-release4``
   (seed 2031) and ``music21-release3`` (seed 2030), the same held-out pieces rendered again
   (``exploratory``: earlier releases' cards looked at them), next to chroma, MFCC and
   tempogram baselines. Each is analysed with ``groups: piece``: a query's other renders of
   the same composition are left out of its neighbours. Its report (``DIR/study/report.md``)
   is the model card's source (``docs/models.md``).
4. **Export.** Each condition's seed-0 encoder becomes ``DIR/models/<policy>.pt``
   (:func:`tunespace.pretrained.export`); ``--install`` copies them into the package.

Everything flows from the seeds above; the resolved study config is ``DIR/study/config.json``.
"""

from __future__ import annotations

import copy
import csv
import hashlib
import io
import json
import os
import shutil
from pathlib import Path
from typing import Any

from ..errors import UsageError
from ..files import write_json, write_text

#: The policies trained, one shipped model each.
POLICIES = ("none", "ts", "ps", "ts+ps", "ts+ps+eq+rev")
#: Training seeds of each policy; the first one's model is shipped, the others make the report's
#: intervals cover training seeds as well as evaluation tracks. Three, not two: with two seeds an
#: interval over seeds has one degree of freedom, and the fourth release's `none` seeds differed so
#: much (tempo locality 0.46 and 0.26) that claims every seed showed read "not supported"
#: (docs/study.md, "Fifth release").
SEEDS = (0, 1, 2)
#: Trainer settings of the pretrained models (the demo's architecture, trained longer). One torch
#: thread: on a busy machine, torch's spinning intra-op threads cost far more than they give. The
#: spectrogram cache (about 8 GB for the 645 training tracks, hence ``cache_max_gb`` 10) makes a
#: step about 5x cheaper than computing the STFT of every window, which bought 1200 steps instead
#: of 400 in the same time; batches of 64 pairs for 600 steps (the same pairs as 32 x 1200, twice
#: the negatives per pair) made every policy's neighbourhoods less tempo-bound and raised genre
#: locality (design runs: docs/study.md). The second music21 rendering (893 training tracks)
#: raised genre locality again at the same steps (E16, E18); a bfloat16 cache stays within a
#: training seed of float32 (E17) and holds 5-7 GB instead of 8-11, so two trainings fit at once.
TRAIN: dict[str, Any] = {
    # the dense filter-bank product: the float32 rounding the shipped models were trained with, so
    # that the build gives them bit for bit (the banded one trains them as another seed would)
    "frontend": {"mel_product": "dense"},
    "model": {"encoder_args": {"width": 128, "depth": 5}},
    "train": {
        "steps": 600,
        "batch_size": 64,
        "lr": 0.002,
        "warmup_steps": 60,
        "checkpoint_every": 200,
        "log_every": 20,
        "threads": 1,
    },
    "data": {"cache_max_gb": 8.0, "cache_dtype": "bfloat16"},
}
#: Torch threads of the build's other stages (``launcher.threads``; the trainings have
#: ``train.threads``): one, what 2 workers on the 2 cores the releases were built on gave them.
STAGE_THREADS = 1
#: One music21 piece in ``EVAL_ONE_IN`` is held out of training.
EVAL_ONE_IN = 5
#: Tracks rendered for each of ``music21-release3`` (seed 2030) and ``music21-release4`` (seed
#: 2031); their held-out-piece tracks (about one in five, 100+) are kept. Each was the confirmatory
#: set of one release and is exploratory since that release's card looked at it. (The sets of the
#: first releases, ``music21-unseen``, ``music21-heldout``, ``music21-final`` and
#: ``procedural-unseen``, are no longer evaluated by the build: docs/study.md has their results.)
HELDOUT_RENDERED = 640
#: Tracks rendered for the confirmatory set ``music21-release7`` (seed 2034), twice as many as for
#: the sets before the fifth release's, so that the evaluation tracks' part of each interval is
#: narrower (the fifth and sixth releases' ``music21-release5`` and ``music21-release6``, seeds 2032
#: and 2033, are exploratory since their cards looked at them, and no longer evaluated by the build).
CONFIRMATORY_RENDERED = 1280
#: The evaluation sets (name, role) of the build, each the held-out-piece tracks of a music21 render.
EVAL_SETS = (
    ("music21-release7", "confirmatory"),
    ("music21-release4", "exploratory"),
    ("music21-release3", "exploratory"),
)
#: The music21 corpora whose ``"train"``-piece tracks join the training list.
TRAIN_MUSIC21 = ("music21", "music21-b")


def piece_split(piece: str) -> str:
    """``"eval"`` or ``"train"`` for a music21 corpus path (a stable hash: the same on every machine)."""
    h = int(hashlib.sha1(piece.encode("utf-8")).hexdigest()[:8], 16)
    return "eval" if h % EVAL_ONE_IN == 0 else "train"


def track_pieces(corpus: Path) -> dict[str, str]:
    """Track id -> music21 corpus path of its piece, from a corpus folder's ``tracks.csv``
    (empty where the file or its ``piece`` column is missing: procedural corpora have none)."""
    path = Path(corpus) / "tracks.csv"
    if not path.is_file():
        return {}
    with open(path, newline="", encoding="utf-8") as f:
        return {r["track_id"]: r["piece"] for r in csv.DictReader(f) if r.get("piece")}


def subset_corpus(src: Path, dst: Path, split: str) -> int:
    """A tunespace corpus folder ``dst`` holding the tracks of ``src`` whose piece is in ``split``.

    Audio files are hard-linked (copied where links are impossible); ``tracks.csv`` is
    filtered; ``corpus.json`` is copied with the split recorded. Returns the track count.
    """
    with open(src / "tracks.csv", newline="", encoding="utf-8") as f:
        reader = csv.DictReader(f)
        fields = list(reader.fieldnames or [])
        rows = [r for r in reader if piece_split(r["piece"]) == split]
    if not rows:
        raise UsageError(f"{src}: no track of a {split!r} piece")
    (dst / "audio").mkdir(parents=True, exist_ok=True)
    for r in rows:
        a, b = src / r["path"], dst / r["path"]
        if not b.exists():
            try:
                os.link(a, b)
            except OSError:
                shutil.copy2(a, b)
    buf = io.StringIO()
    w = csv.DictWriter(buf, fieldnames=fields, lineterminator="\n")
    w.writeheader()
    w.writerows(rows)
    write_text(dst / "tracks.csv", buf.getvalue())
    meta = json.loads((src / "corpus.json").read_text(encoding="utf-8"))
    meta["piece_split"] = {"split": split, "one_in": EVAL_ONE_IN, "rule": "sha1(piece path) % one_in == 0 -> eval"}
    write_json(dst / "corpus.json", meta)
    return len(rows)


def study_config(data: Path, steps: int | None = None) -> dict[str, Any]:
    """The study that trains and profiles the pretrained models (data folders under ``data``)."""
    train = copy.deepcopy(TRAIN)
    if steps is not None:
        train["train"]["steps"] = int(steps)
    return {
        "name": "pretrained",
        "seeds": list(SEEDS),
        "conditions": list(POLICIES),
        "train_data": {"name": "procedural+music21-train", "path": str(data / "train.txt")},
        "eval_data": [
            {"name": name, "role": role, "path": str(data / name), "groups": "piece"} for name, role in EVAL_SETS
        ],
        "train": train,
        "embed": {"slice_seconds": 3.0, "hop_seconds": 2.0},
        "analysis": {
            "ks": [1, 5, 10, 20],
            "headline_k": 10,
            "properties": ["key", "tempo_bpm", "genre", "mood", "instrument"],
            "bootstrap": 200,
            "knn_k": 10,
            "probes": ["linear"],
            "folds": 5,
        },
        "baselines": ["chroma", "mfcc", "tempogram"],
        "umap": False,
    }


def model_card(policy: str) -> dict[str, Any]:
    """The ``card`` stored in a shipped model file: its policy, seed, data, command and study."""
    confirmatory = [name for name, role in EVAL_SETS if role == "confirmatory"]
    exploratory = [name for name, role in EVAL_SETS if role == "exploratory"]
    return {
        "policy": policy,
        "seed": SEEDS[0],
        "training_data": "procedural corpus (400 x 30 s, seed 100) + music21 "
        "compositions of train-split pieces (300 x 30 s each, seeds 101 and 102)",
        "command": "tunespace pretrained build --out DIR",
        "study": f"DIR/study (report.md: locality and retrieval on the confirmatory set {' and '.join(confirmatory)} "
        f"and the exploratory sets {' and '.join(exploratory)})",
    }


def build_data(
    out: Path, procedural_tracks: int = 400, music21_tracks: int = 300, eval_renders: int = CONFIRMATORY_RENDERED
) -> Path:
    """Render the corpora and write the training list; returns the data folder ``out/data``."""
    from ..corpus import build_corpus
    from ..datasets import open_dataset

    data = out / "data"
    corpora = {
        "procedural": (procedural_tracks, 100, "procedural"),
        "music21": (music21_tracks, 101, "music21"),
        "music21-b": (music21_tracks, 102, "music21"),
        "music21-release3-all": (HELDOUT_RENDERED, 2030, "music21"),
        "music21-release4-all": (HELDOUT_RENDERED, 2031, "music21"),
        "music21-release7-all": (eval_renders, 2034, "music21"),
    }
    for name, (n, seed, source) in corpora.items():
        if not (data / name / "corpus.json").is_file():
            build_corpus(data / name, tracks=n, seconds=30.0, seed=seed, source=source)
    for subset, _ in EVAL_SETS:  # each the held-out-piece tracks of its "-all" render
        if not (data / subset / "corpus.json").is_file():
            subset_corpus(data / f"{subset}-all", data / subset, "eval")
    lines = [str(t.path) for t in open_dataset(data / "procedural").tracks]
    for name in TRAIN_MUSIC21:
        piece = track_pieces(data / name)
        lines += [str(t.path) for t in open_dataset(data / name).tracks if piece_split(piece[t.id]) == "train"]
    write_text(
        data / "train.txt",
        "# procedural (seed 100) + music21 train-split pieces (seeds 101, 102)\n"
        + "".join(f"{line}\n" for line in lines),
    )
    return data


def build_pretrained(
    out: str | Path,
    *,
    steps: int | None = None,
    install: bool = False,
    workers: int = 1,
    procedural_tracks: int = 400,
    music21_tracks: int = 300,
    eval_renders: int = CONFIRMATORY_RENDERED,
) -> dict[str, Path]:
    """Run the whole recipe into ``out`` (resumable: every stage is cached); returns name -> model file.

    ``workers``: stages run at once on this machine (``launcher.workers``). Every stage computes
    with one torch thread whatever it is (``train.threads`` and :data:`STAGE_THREADS`): torch's
    CPU results depend on the thread count in their last bits (docs/benchmarks.md, "Local
    launcher"), so the models, embeddings and ``results.csv`` are the same with any ``workers`` on
    any machine with the same torch build. The release builds ran with 2 workers on 2 cores,
    which gave every stage one thread too."""
    from .. import pretrained
    from ..study.config import validate_study_config
    from ..study.runner import data_stage, run_study, train_stage

    out = Path(out)
    data = build_data(out, procedural_tracks, music21_tracks, eval_renders)
    cfg = study_config(data, steps)
    cfg["launcher"] = {"kind": "local", "workers": int(workers), "threads": STAGE_THREADS}
    validate_study_config(cfg)
    run_study(out / "study", cfg)
    stages = out / "study" / "stages"
    _, train_path = data_stage(cfg["train_data"], stages)
    train_key = f"path:{train_path}"
    made: dict[str, Path] = {}
    for policy in POLICIES:
        _, st = train_stage(cfg, policy, SEEDS[0], train_key, train_path, stages)
        if not st.done:
            raise UsageError(f"{st.path}: the {policy} training stage is not finished")
        made[policy] = pretrained.export(st.path / "run", policy, out / "models", model_card(policy))
        if install:
            shutil.copy2(made[policy], pretrained.FOLDER / made[policy].name)
    return made

"""Diagnostic: how much of the MFCC baseline's genre / mood / instrument k-NN accuracy is its level.

The MFCC baseline is the means and standard deviations of 20 MFCCs; the first coefficient, c0, is
the frame's log energy, i.e. the level, which the encoders cannot see (each input slice is
standardised, as the base model's is). For each exploratory set of the pretrained recipe this
analyses the MFCC baseline's stored embeddings three ways (all 40 dimensions; without c0's mean
and std; c0's mean and std alone) with the study's analysis (neighbours of the same piece left
out) and prints k-NN accuracy (k = 10) per property.

Run: .venv/bin/python bench/mfcc_level_probe.py --data DIR/data --study DIR/design/eN
(a design run made with ``--baselines``).
"""

import argparse
import dataclasses
import tempfile
from pathlib import Path

import numpy as np

from tunespace.embed.format import read_embeddings, write_embeddings
from tunespace.files import read_json
from tunespace.pretrained.recipe import study_config
from tunespace.study.analysis import analyse, read_items
from tunespace.study.runner import analysis_config

#: Dimensions of c0 in the MFCC baseline: its mean (0) and its standard deviation (20; 20 means, then 20 stds).
C0 = (0, 20)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", required=True, help="the recipe's data folder (DIR/data)")
    ap.add_argument("--study", required=True, help="a design run's study folder, made with --baselines")
    args = ap.parse_args()
    cfg = study_config(Path(args.data))
    for spec in [s for s in cfg["eval_data"] if s["role"] == "exploratory"]:
        ds = spec["name"]
        stages = Path(args.study, "stages")
        stage = next(
            d
            for d in sorted(stages.glob("baseline-*"))
            if (c := read_json(d / "stage.json")["config"])["kind"] == "mfcc" and c["data"].endswith("/" + ds)
        )
        acfg = {**analysis_config(cfg, spec), "probes": [], "bootstrap": 0}
        e = read_embeddings(stage / "emb", mmap=False)
        x = np.asarray(e.vectors)
        for name, keep in (
            ("all 40", list(range(x.shape[1]))),
            ("without c0 mean/std", [i for i in range(x.shape[1]) if i not in C0]),
            ("c0 mean/std only", list(C0)),
        ):
            with tempfile.TemporaryDirectory(prefix="mfcc-level-") as tmp_dir:
                tmp = Path(tmp_dir)
                write_embeddings(tmp / "emb", dataclasses.replace(e, vectors=np.ascontiguousarray(x[:, keep])))
                analyse(tmp / "emb", Path(spec["path"]), acfg, seed=0, out=tmp / "a")
                it = read_items(tmp / "a")
            res = []
            for prop in ("genre", "mood", "instrument"):
                knn = float(np.mean(it["scores"][("knn_accuracy", prop, "10")]))
                res.append(f"{prop} kNN {knn:.3f}")
            print(ds, name, "; ".join(res), flush=True)


if __name__ == "__main__":
    main()

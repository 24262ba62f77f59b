"""One design run of the pretrained models: the recipe's study on the exploratory sets only.

The rows of "Design runs for the pretrained models" in docs/study.md were made with this script:
the study of ``tunespace pretrained build`` (same data, same analysis) restricted to the given
conditions and to the evaluation sets of role ``exploratory``, with the recipe's trainer settings
(and, with ``--embed``, its embedding settings) changed by a JSON object (merged key by key).
The confirmatory set is never evaluated here.

Run (after ``tunespace pretrained build --out DIR`` has rendered DIR/data):
    .venv/bin/python bench/pretrained_design_run.py --data DIR/data --out DIR/design/e3 \\
        --conditions ts+ps --train '{"train": {"steps": 1200, "warmup_steps": 60}, "data": {"cache_max_gb": 10}}'
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from tunespace.config import merge
from tunespace.pretrained.recipe import STAGE_THREADS, study_config
from tunespace.study.config import validate_study_config
from tunespace.study.runner import run_study


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", required=True, help="the recipe's data folder (DIR/data)")
    ap.add_argument("--out", required=True, help="study folder of this run")
    ap.add_argument("--conditions", default="none", help="comma-separated policies")
    ap.add_argument("--train", default="{}", help="JSON merged into the recipe's trainer settings")
    ap.add_argument(
        "--embed",
        default="{}",
        help="JSON merged into the recipe's embedding settings (slice_seconds, hop_seconds), e.g. for a model "
        "trained on longer excerpts",
    )
    ap.add_argument("--seeds", default="0", help="comma-separated training seeds (default 0, the recipe's)")
    ap.add_argument("--workers", type=int, default=1, help="stages run at once (launcher.workers; default 1)")
    ap.add_argument(
        "--baselines",
        action="store_true",
        help="also embed the recipe's hand-crafted baselines (for bench/policy_vs_baselines.py on this run)",
    )
    ap.add_argument(
        "--extra-sets",
        default="",
        help="comma-separated evaluation sets under DATA evaluated too, as exploratory (e.g. music21-release5, an "
        "earlier release's confirmatory set that its card looked at); never the current confirmatory set",
    )
    args = ap.parse_args()
    cfg = study_config(Path(args.data))
    cfg["name"] = f"design-{Path(args.out).name}"
    cfg["conditions"] = args.conditions.split(",")
    cfg["seeds"] = [int(x) for x in args.seeds.split(",")]
    confirmatory = {e["name"] for e in cfg["eval_data"] if e["role"] != "exploratory"}
    cfg["eval_data"] = [e for e in cfg["eval_data"] if e["role"] == "exploratory"]
    for name in filter(None, args.extra_sets.split(",")):
        if name in confirmatory:
            raise SystemExit(f"pretrained_design_run: {name} is the recipe's confirmatory set")
        path = Path(args.data) / name
        cfg["eval_data"].append({"name": name, "role": "exploratory", "path": str(path), "groups": "piece"})
    if not args.baselines:
        cfg["baselines"] = []
    cfg["train"] = merge(cfg["train"], json.loads(args.train))
    cfg["embed"] = merge(cfg["embed"], json.loads(args.embed))
    cfg["launcher"] = {"kind": "local", "workers": args.workers, "threads": STAGE_THREADS}
    validate_study_config(cfg)
    run_study(Path(args.out), cfg)


if __name__ == "__main__":
    main()

"""What one augmentation does to one property's locality, with the other augmentation held fixed.

The study judges claims 1 and 2 against ``none`` only (``tunespace.study.claims``): claim 1 is
"pitch-shift lowers key locality", L@k(ps) - L@k(none). Where ``none`` itself keeps little key
(the pretrained models: key L@10 0.03-0.04), that difference is small whatever pitch-shift does.
``ts`` keeps more key (0.07-0.08: without tempo, other cues are used), so L@k(ts+ps) - L@k(ts)
asks the same question of a model that has key to lose. Likewise for claim 2 and tempo:
L@k(ts+ps) - L@k(ps) next to L@k(ts) - L@k(none).

For each contrast: both conditions' mean L@k and the paired difference with its 95 % interval
over training seeds and evaluation tracks (:func:`tunespace.study.stats.two_source`, the study's
own estimator; seeds and tracks paired). These are secondary analyses: they do not change the
study's verdicts.

Run: .venv/bin/python bench/augmentation_contrasts.py --study DIR/study --dataset NAME [--k 10]
"""

from __future__ import annotations

import argparse
from pathlib import Path

from policy_vs_baselines import stack_values
from tunespace.files import read_json
from tunespace.study.analysis import read_items
from tunespace.study.runner import study_graph
from tunespace.study.stats import two_source

#: (property measure, condition, reference): the difference is condition - reference.
CONTRASTS = (
    ("key", "ps", "none"),
    ("key", "ts+ps", "ts"),
    ("tempo_bpm", "ts", "none"),
    ("tempo_bpm", "ts+ps", "ps"),
)


def contrasts(study: Path, dataset: str, k: int) -> list[dict]:
    """One row per contrast of :data:`CONTRASTS` whose two conditions the study trained."""
    cfg = read_json(study / "config.json")
    graph = study_graph(cfg, study / "stages", reading=True)
    seeds = cfg["seeds"]
    items = {key: read_items(path) for key, path in graph.analyses.items() if key[2] == dataset}
    rows = []
    for prop, cond, ref in CONTRASTS:
        if cond not in cfg["conditions"] or ref not in cfg["conditions"]:
            continue
        a, chance = stack_values(items, cond, seeds, dataset, prop, "locality", k)
        b, _ = stack_values(items, ref, seeds, dataset, prop, "locality", k)
        diff = two_source(a, b, chance=chance)
        rows.append(
            {
                "property": prop,
                "contrast": f"{cond} - {ref}",
                "condition": float(two_source(a, chance=chance).mean),
                "reference": float(two_source(b, chance=chance).mean),
                "difference": float(diff.mean),
                "ci_low": float(diff.low),
                "ci_high": float(diff.high),
                "seeds": len(seeds),
            }
        )
    return rows


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--study", required=True, type=Path)
    ap.add_argument("--dataset", required=True)
    ap.add_argument("--k", type=int, default=10)
    args = ap.parse_args()
    rows = contrasts(args.study, args.dataset, args.k)
    print(f"{args.dataset}: L@{args.k} differences, paired by seed and track (95 % interval)\n")
    print("| property | contrast | condition | reference | difference [95 % CI] |")
    print("|---|---|---:|---:|---|")
    for r in rows:
        print(
            f"| {r['property']} | {r['contrast']} | {r['condition']:.3f} | {r['reference']:.3f} | "
            f"{r['difference']:+.3f} [{r['ci_low']:+.3f}, {r['ci_high']:+.3f}] |"
        )


if __name__ == "__main__":
    main()

"""``tunespace study``: which augmentation policy gives the neighbourhoods I want? (see :mod:`tunespace.study`)."""

from __future__ import annotations

import argparse

NAME = "study"
HELP = "run the augmentation study: conditions x seeds -> train, embed, locality, retrieval, probes, claims"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--config", help="study YAML (keys override the preset's; see src/tunespace/configs/)")
    parser.add_argument("--preset", choices=["demo", "default", "paper"], help="named study config")
    parser.add_argument("--out", required=True, help="study folder (stages cache, results, report, plots)")
    parser.add_argument(
        "--launcher",
        choices=["local", "slurm"],
        help="where stages run: local (here, one after the other; the default) or slurm (each stage a job, "
        "via submitit; the config's launcher section sets partition, nodes, GPUs, time limit)",
    )
    parser.add_argument("overrides", nargs="*", metavar="key=value", help="e.g. seeds=[0,1] conditions=[none,ps]")


def run(args: argparse.Namespace) -> int:
    from ..study import resolve_study_config, run_study
    from ..study.report import format_summary

    overrides = list(args.overrides) + ([f"launcher.kind={args.launcher}"] if args.launcher else [])
    cfg = resolve_study_config(args.config, args.preset, overrides)
    summary = run_study(args.out, cfg)
    print(format_summary(summary))
    print(f"report: {args.out}/report.md  results: {args.out}/results.csv  plots: {args.out}/plots/")
    return 0

"""``tunespace locality``: which musical properties the neighbourhoods of embeddings share."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..errors import UsageError

if TYPE_CHECKING:
    from ..labels import LabelTable

NAME = "locality"
HELP = "measure neighbourhood locality (agreement vs chance) of musical properties of embeddings"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--embeddings", nargs="+", metavar="EMB", help="EMB folder(s): every item is a query")
    parser.add_argument(
        "--index",
        metavar="INDEX",
        help="instead of --embeddings, at catalogue scale: an index (tunespace index build) searched for "
        "--sample-queries sampled queries; locality is estimated with its sampling error (normal 95 %% "
        "interval; chance computed exactly from all labels)",
    )
    parser.add_argument(
        "--sample-queries",
        type=int,
        default=None,
        metavar="N",
        help="with --index: queries sampled (seeded by --seed) per property",
    )
    parser.add_argument("--labels", required=True, help="labels CSV (e.g. tracks.csv) or dataset folder")
    parser.add_argument("--id-column", default="track_id", help="id column of the labels CSV")
    parser.add_argument("--k", default="1,5,10,50", help="neighbourhood sizes, comma-separated")
    parser.add_argument(
        "--properties",
        default=None,
        help="properties to measure, e.g. 'key,tempo_bpm,genre' or 'arousal:tempo' (default: all)",
    )
    parser.add_argument(
        "--groups",
        default=None,
        metavar="COLUMN",
        help="label column of group ids; neighbours of the query's group are excluded",
    )
    parser.add_argument(
        "--bootstrap", type=int, default=None, help="bootstrap resamples (1000; 0: no intervals; not with --index)"
    )
    parser.add_argument(
        "--null-replicates",
        type=int,
        default=None,
        metavar="R",
        help="random-embedding sets for the noise floor (SD of locality by chance; 100; 0: none; "
        "each costs one exact neighbour search; not with --index)",
    )
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--method", default="exact", choices=["exact", "ivf", "hnsw"])
    parser.add_argument("--backend", default="auto", choices=["auto", "faiss", "torch"])
    parser.add_argument("--out", required=True, help="report folder")


def parse_ks(text: str) -> list[int]:
    """``"1,5,10"`` -> [1, 5, 10]; raises UsageError on anything else."""
    try:
        ks = [int(s) for s in text.split(",") if s.strip()]
    except ValueError:
        raise UsageError(f"--k: expected comma-separated integers, got {text!r}") from None
    if not ks or min(ks) < 1:
        raise UsageError(f"--k: expected positive integers, got {text!r}")
    return ks


def property_labels(args: argparse.Namespace) -> tuple[LabelTable, list[str] | None]:
    """The labels of ``--labels`` (``--id-column``) and the ``--properties`` asked for (None: all),
    with the ``--groups`` column read too, as a categorical (shared with ``tunespace evaluate``)."""
    from ..labels import load_labels, parse_properties

    names, kinds = parse_properties(args.properties)
    wanted = None if names is None else names + ([args.groups] if args.groups and args.groups not in names else [])
    if args.groups:
        kinds.setdefault(args.groups, "categorical")
    return load_labels(args.labels, id_column=args.id_column, properties=wanted, kinds=kinds), names


def run_config(args: argparse.Namespace, **resolved: Any) -> dict[str, Any]:
    """The arguments as written to ``config.json``, with the ``resolved`` values (e.g. ``k`` parsed)."""
    return {**{k: v for k, v in vars(args).items() if not k.startswith("_")}, **resolved}


def unique_names(paths: list[Path]) -> list[str]:
    """Report names of EMB folders: the folder name, with the parent's added when names clash."""
    names = [p.name for p in paths]
    if len(set(names)) < len(names):
        names = [f"{p.parent.name}/{p.name}" for p in paths]
    if len(set(names)) < len(names):
        names = [f"{n}#{i}" for i, n in enumerate(names)]
    return names


def run(args: argparse.Namespace) -> int:
    from ..embed.format import read_embeddings
    from ..labels import JoinReport
    from ..locality import locality_profile, write_locality_report

    ks = parse_ks(args.k)
    if (args.embeddings is None) == (args.index is None):
        raise UsageError("give either --embeddings EMB [EMB ...] or --index INDEX --sample-queries N")
    if args.index is not None:
        if args.sample_queries is None:
            raise UsageError("--index needs --sample-queries N (queries sampled from the index)")
        for opt, v in (("--bootstrap", args.bootstrap), ("--null-replicates", args.null_replicates)):
            if v is not None:
                raise UsageError(f"{opt} does not apply to --index (the interval there is the sampling error)")
        for opt in ("method", "backend"):
            if getattr(args, opt) != parser_default(opt):
                raise UsageError(f"--{opt} does not apply to --index (the index's own search is used)")
    elif args.sample_queries is not None:
        raise UsageError("--sample-queries needs --index INDEX")
    args.bootstrap = 1000 if args.bootstrap is None else args.bootstrap
    args.null_replicates = 100 if args.null_replicates is None else args.null_replicates
    if args.bootstrap < 0 or args.null_replicates < 0:
        raise UsageError("--bootstrap and --null-replicates must be >= 0")
    labels, names = property_labels(args)
    if args.index is not None:
        return _run_sampled(args, labels, ks, names)
    paths = [Path(p) for p in args.embeddings]
    profiles = {}
    for name, path in zip(unique_names(paths), paths):
        emb = read_embeddings(path)
        emb.name = name
        prof = locality_profile(
            emb,
            labels,
            ks,
            names,
            groups=args.groups,
            bootstrap=args.bootstrap,
            null_replicates=args.null_replicates,
            seed=args.seed,
            method=args.method,
            backend=args.backend,
        )
        print(f"{name}: {JoinReport(**prof['join']).summary()}")
        profiles[name] = prof
    write_locality_report(args.out, profiles, run_config(args, k=ks))
    print(f"wrote {Path(args.out) / 'locality.json'} and {Path(args.out) / 'locality.csv'}")
    return 0


def parser_default(option: str) -> str:
    """Defaults of the options that --index does not take."""
    return {"method": "exact", "backend": "auto"}[option]


def _run_sampled(args: argparse.Namespace, labels: LabelTable, ks: list[int], names: list[str] | None) -> int:
    from ..labels import JoinReport
    from ..locality import sampled_locality, write_locality_report

    prof = sampled_locality(args.index, labels, args.sample_queries, ks, names, groups=args.groups, seed=args.seed)
    print(f"{prof['name']}: {JoinReport(**prof['join']).summary()}")
    for measure, by_k in prof["properties"].items():
        for k, r in by_k.items():
            if r["locality"] is not None:
                lo, hi = r["locality_ci"]
                print(
                    f"  {measure} k={k}: L = {r['locality']:.4f} +- {r['locality_se']:.4f} (SE; 95 % [{lo:.4f}, "
                    f"{hi:.4f}]) from {r['n_queries']} of {r['n_population']} queries"
                )
    write_locality_report(args.out, {prof["name"]: prof}, run_config(args, k=ks))
    print(f"wrote {Path(args.out) / 'locality.json'} and {Path(args.out) / 'locality.csv'}")
    return 0

"""Training throughput of ``small`` on this CPU, and whether the data pipeline keeps up.

For each policy/backend, in one run on the same corpus (64 procedural tracks x 30 s):

- ``pipeline``: the data pipeline alone (pair sampling, the CPU stage in the loader, the
  device stage: spectrogram windows or STFT, spectral augmentation, log-mel), pairs/s;
- ``model``: encoder + projector + NT-Xent forward/backward/AdamW on ready inputs, pairs/s;
- ``trainer``: the whole ``tunespace.train.train`` loop as run (pairs/s from metrics.jsonl).

The pipeline keeps up when its pairs/s exceed the model's. Anchor: the model alone.

With ``--recipe`` (the pretrained models' settings: 64 pairs per step, one torch thread, a
bfloat16 spectrogram cache) the pipeline is also timed with a new float32 batch tensor per view
and step (``collate_pairs`` without ``buffers``, the anchor of that column) against the buffers
the trainer reuses.

With ``--bf16`` the model and the trainer are also timed with ``train.amp: bf16`` (bfloat16
autocast of the forward pass on the CPU), against their float32 rates of the same run (the anchor).

Run: .venv/bin/python bench/bench_train.py [--steps 30] [--batch 32] [--recipe] [--bf16]
"""

from __future__ import annotations

import argparse
import functools
import json
import tempfile
import time
from pathlib import Path

import torch

from tunespace.corpus import build_corpus
from tunespace.losses import NTXentLoss
from tunespace.pairs import DistinctTrackBatches, PairDataset, collate_pairs
from tunespace.train import build_model, resolve_config, train
from tunespace.train.step import autocast
from tunespace.train.trainer import prepare

ENCODER = {"width": 128, "depth": 5}  # the demo study's small encoder


def pipeline_rate(cfg: dict, steps: int, workers: int, reuse: bool = False) -> float:
    prep = prepare(cfg)
    t = prep["transform"]
    ds = PairDataset(
        prep["dataset"].tracks,
        prep["durations"],
        prep["sample_rate"],
        t.input_seconds(),
        cfg["pairs"]["max_centre_distance_s"],
        t.cpu_stage,
        0,
        prep["cache"],
        prep["spectrograms"],
        t.input_frames(),
    )
    sampler = DistinctTrackBatches(len(ds), cfg["train"]["batch_size"], 0, steps + 1)
    collate = functools.partial(collate_pairs, buffers={} if reuse else None)
    loader = torch.utils.data.DataLoader(ds, batch_sampler=sampler, num_workers=workers, collate_fn=collate)
    g = torch.Generator().manual_seed(0)
    n, t0 = 0, None
    for i, b in enumerate(loader):
        if b["wave_a"] is None:
            t.device_stage_power(b["power_a"], b["power_b"], g)
        else:
            t.device_stage(b["wave_a"], b["wave_b"], g)
        if i == 0:
            t0 = time.perf_counter()
        else:
            n += b["index"].shape[0]
    return n / (time.perf_counter() - t0)


def model_rate(cfg: dict, steps: int, amp: str = "off") -> float:
    torch.manual_seed(0)
    net = build_model(cfg)
    opt = torch.optim.AdamW(net.parameters(), 1e-3)
    loss_fn = NTXentLoss(0.1)
    b = cfg["train"]["batch_size"]
    x = torch.randn(2 * b, 1, 96, 300)
    for i in range(steps + 1):
        if i == 1:
            t0 = time.perf_counter()
        with autocast(torch.device("cpu"), amp):
            _, z = net(x)
        loss = loss_fn(z[:b].float(), z[b:].float())
        opt.zero_grad()
        loss.backward()
        opt.step()
    return steps * b / (time.perf_counter() - t0)


def trainer_rate(cfg: dict, out: Path) -> float:
    train(out, cfg)
    rows = [json.loads(line) for line in (out / "metrics.jsonl").read_text().splitlines()]
    return sum(r["pairs_per_s"] for r in rows[1:]) / max(1, len(rows) - 1)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--steps", type=int, default=30)
    ap.add_argument("--batch", type=int, default=32)
    ap.add_argument("--recipe", action="store_true", help="the pretrained recipe's settings (see above)")
    ap.add_argument("--bf16", action="store_true", help="also time model and trainer with train.amp bf16")
    args = ap.parse_args()
    batch, threads = (64, 1) if args.recipe else (args.batch, 2)
    torch.set_num_threads(threads)
    extra = ["data.cache_dtype=bfloat16", "train.threads=1"] if args.recipe else []
    runs = (("none", "spectral", 0), ("ts+ps", "spectral", 0))
    if not args.recipe:
        runs += (("ts+ps", "waveform", 2),)
    with tempfile.TemporaryDirectory() as tmp:
        corpus = build_corpus(Path(tmp) / "corpus", tracks=64, seconds=30.0, seed=0)
        head = "| policy | backend | pipeline pairs/s | model pairs/s (anchor) | trainer pairs/s | pipeline / model |"
        rule = "|---|---|---:|---:|---:|---:|"
        if args.recipe:
            head += " pipeline, new batch tensors (anchor) | pipeline, reused buffers | ratio |"
            rule += "---:|---:|---:|"
        if args.bf16:
            head += " model pairs/s, bf16 | trainer pairs/s, bf16 | trainer bf16 / float32 |"
            rule += "---:|---:|---:|"
        print(f"torch threads {threads}, batch {batch}{', bfloat16 cache' if args.recipe else ''}")
        print(head)
        print(rule)
        for policy, backend, workers in runs:
            over = [
                f"train.batch_size={batch}",
                f"train.steps={args.steps}",
                "train.progress=false",
                f"train.log_every={max(1, args.steps // 5)}",
                f"train.checkpoint_every={args.steps}",
                f"train.num_workers={workers}",
                f"model.encoder_args={json.dumps(ENCODER)}",
                *extra,
            ]
            cfg = resolve_config(
                None, over, **{"data.path": str(corpus), "augment.policy": policy, "augment.backend": backend}
            )
            p = pipeline_rate(cfg, min(args.steps, 10), workers, reuse=workers == 0)
            m = model_rate(cfg, 10)
            tr = trainer_rate(cfg, Path(tmp) / f"run-{policy}-{backend}")
            row = f"| {policy} | {backend} | {p:.1f} | {m:.1f} | {tr:.1f} | {p / m:.2f} |"
            if args.recipe:
                fresh = pipeline_rate(cfg, min(args.steps, 10), workers, reuse=False)
                row += f" {fresh:.1f} | {p:.1f} | {p / fresh:.2f}x |"
            if args.bf16:
                mb = model_rate(cfg, 10, amp="bf16")
                cfg_b = resolve_config(
                    None,
                    [*over, "train.amp=bf16"],
                    **{"data.path": str(corpus), "augment.policy": policy, "augment.backend": backend},
                )
                tb = trainer_rate(cfg_b, Path(tmp) / f"run-{policy}-{backend}-bf16")
                row += f" {mb:.1f} | {tb:.1f} | {tb / tr:.2f}x |"
            print(row, flush=True)


if __name__ == "__main__":
    main()

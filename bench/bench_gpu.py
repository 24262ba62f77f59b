"""Training and embedding throughput on a CUDA device, against the same machine's CPU.

Three measurements, each against its anchor in the same run:

- ``model``: encoder + projector + NT-Xent forward/backward/AdamW on ready inputs
  ``(2B, 1, 96, 300)``, pairs/s: ``small`` (the demo's and the pretrained models' size, B = 64)
  and ``sfnfnet_f0`` (the paper preset's, B = 120 per GPU) on the CPU (anchor: all its cores),
  on the GPU in float32 (TF32 convolutions, torch's default) and under bf16 autocast;
- ``trainer``: the whole ``tunespace.train.train`` loop on the GPU (bf16), pairs/s from
  metrics.jsonl, for the spectral and the waveform (Rubber Band) back ends with several
  data-loader sizes: whether the data pipeline keeps the GPU busy (anchor: the model alone);
- ``embed``: ``tunespace embed`` of the corpus with ``pretrained:ts`` on the CPU (anchor) and
  on the GPU, tracks/s.

Run (on a machine with a CUDA device): python bench/bench_gpu.py [--json FILE]
"""

from __future__ import annotations

import argparse
import json
import os
import tempfile
import time
import traceback
from pathlib import Path

import torch

from tunespace.corpus import build_corpus
from tunespace.embed.extract import embed_dataset
from tunespace.embed.model import load_model
from tunespace.losses import NTXentLoss
from tunespace.train import build_model, resolve_config, train
from tunespace.train.step import autocast

SMALL = {"model.encoder_args": {"width": 128, "depth": 5}}
PAPER = {"model.encoder": "sfnfnet_f0", "model.projector.hidden_dims": [4096, 4096], "model.projector.out_dim": 4096}


def model_rate(over: dict, batch: int, device: str, amp: str, steps: int) -> float:
    """Pairs/s of forward + backward + AdamW on random ready inputs (after one warm-up step)."""
    torch.manual_seed(0)
    cfg = resolve_config(None, [], **over)
    net = build_model(cfg).to(device)
    opt = torch.optim.AdamW(net.parameters(), 1e-3)
    loss_fn = NTXentLoss(0.1)
    dev = torch.device(device)
    x = torch.randn(2 * batch, 1, 96, 300, device=dev)
    for i in range(steps + 1):
        if i == 1:
            if dev.type == "cuda":
                torch.cuda.synchronize()
            t0 = time.perf_counter()
        with autocast(dev, amp):
            _, z = net(x)
            loss = loss_fn(z[:batch].float(), z[batch:].float())
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
    if dev.type == "cuda":
        torch.cuda.synchronize()
    return steps * batch / (time.perf_counter() - t0)


def trainer_rate(
    corpus: Path,
    out: Path,
    policy: str,
    backend: str,
    workers: int,
    steps: int,
    device: str = "cuda",
    amp: str = "bf16",
) -> float:
    over = [
        "train.batch_size=64",
        f"train.steps={steps}",
        "train.progress=false",
        f"train.log_every={max(1, steps // 5)}",
        f"train.checkpoint_every={steps}",
        f"train.num_workers={workers}",
        f"train.device={device}",
        f"train.amp={amp}",
    ]
    cfg = resolve_config(
        None,
        over,
        **{"data.path": str(corpus), "augment.policy": policy, "augment.backend": backend},
        **SMALL,
    )
    train(out, cfg)
    rows = [json.loads(line) for line in (out / "metrics.jsonl").read_text().splitlines()]
    return sum(r["pairs_per_s"] for r in rows[1:]) / max(1, len(rows) - 1)


def embed_rate(corpus: Path, out: Path, device: str, n: int) -> float:
    model = load_model("pretrained:ts", device=device)
    t0 = time.perf_counter()
    embed_dataset(model, corpus, out, workers=4, device=device, progress=False)
    return n / (time.perf_counter() - t0)


def _try(results: dict, key: str, fn, *args) -> None:
    try:
        results[key] = round(float(fn(*args)), 2)
    except Exception:  # a bench reports every row it can
        results[key] = traceback.format_exc(limit=3).strip().splitlines()[-1]
    print(f"{key}: {results[key]}", flush=True)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--json", type=Path, help="write the results here too")
    ap.add_argument("--tracks", type=int, default=128)
    ap.add_argument("--steps", type=int, default=40)
    ap.add_argument("--parts", default="model,trainer,embed", help="which measurements (comma-separated)")
    args = ap.parse_args()
    if not torch.cuda.is_available():
        raise SystemExit("bench_gpu: no CUDA device here")
    r: dict = {
        "gpu": torch.cuda.get_device_name(0),
        "torch": torch.__version__,
        "cpu_threads": torch.get_num_threads(),
        "cpus": os.cpu_count(),
    }
    print(json.dumps(r), flush=True)
    parts = set(args.parts.split(","))
    for name, over, batch, cpu_steps in (("small", SMALL, 64, 3), ("sfnfnet_f0", PAPER, 120, 1)):
        if "model" not in parts:
            break
        _try(r, f"model/{name}/cpu", model_rate, over, batch, "cpu", "off", cpu_steps)
        _try(r, f"model/{name}/cuda-fp32", model_rate, over, batch, "cuda", "off", 10)
        _try(r, f"model/{name}/cuda-bf16", model_rate, over, batch, "cuda", "bf16", 10)
    with tempfile.TemporaryDirectory() as tmp:
        t0 = time.perf_counter()
        corpus = build_corpus(Path(tmp) / "corpus", tracks=args.tracks, seconds=30.0, seed=0, workers=os.cpu_count())
        r["corpus_build_s"] = round(time.perf_counter() - t0, 1)
        for policy, backend, workers, amp in (
            ()
            if "trainer" not in parts
            else (
                ("none", "spectral", 0, "off"),
                ("none", "spectral", 0, "bf16"),
                ("ts+ps", "spectral", 0, "bf16"),
                ("ts+ps", "waveform", 4, "bf16"),
                ("ts+ps", "waveform", 14, "bf16"),
            )
        ):
            key = f"trainer/{policy}/{backend}/workers{workers}/{amp}"
            run = Path(tmp) / key.replace("/", "-")
            _try(r, key, trainer_rate, corpus, run, policy, backend, workers, args.steps, "cuda", amp)
        for device in ("cpu", "cuda") if "embed" in parts else ():
            _try(r, f"embed/{device}", embed_rate, corpus, Path(tmp) / f"emb-{device}", device, args.tracks)
    if args.json:
        args.json.write_text(json.dumps(r, indent=1) + "\n")
    print(json.dumps(r, indent=1))


if __name__ == "__main__":
    main()

"""Forward+backward time of the tunespace encoders on CPU.

Measures one training step's compute (forward, mean-square loss, backward) of ``small`` on
a batch of 64 x (1, 96, 300) (3 s excerpts), against the anchor ``sfnfnet_f0`` (MULE's
SF-NFNet-F0 port) on a batch of 4 (it is too slow on CPU for 64), compared per example.
Also prints the ratio of ``small``'s step time to the 1 s budget of the task.

Run: .venv/bin/python bench/bench_encoders.py [--repeats 5]
"""

from __future__ import annotations

import argparse
import statistics
import time

import torch

from tunespace.models import build_encoder


def step_times(name: str, batch: int, frames: int, repeats: int) -> tuple[float, float, int]:
    """(min, median) seconds of forward+backward over ``repeats`` runs after one warm-up,
    and the parameter count. The minimum is the least disturbed by other jobs."""
    torch.manual_seed(0)
    enc = build_encoder(name).train()
    x = torch.randn(batch, 1, 96, frames)
    times = []
    for i in range(repeats + 1):
        enc.zero_grad(set_to_none=True)
        t0 = time.perf_counter()
        enc(x).square().mean().backward()
        if i:
            times.append(time.perf_counter() - t0)
    return min(times), statistics.median(times), enc.num_parameters()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads")
    rows = []
    for name, batch, reps in (("small", 64, args.repeats), ("sfnfnet_f0", 4, max(2, args.repeats // 2))):
        best, med, params = step_times(name, batch, 300, reps)
        rows.append((name, batch, params, best, best / batch, med))
    print(f"{'encoder':<12} {'batch':>5} {'params':>12} {'min s':>8} {'median s':>9} {'ms/example':>11}")
    for name, batch, params, best, per, med in rows:
        print(f"{name:<12} {batch:>5} {params:>12,} {best:>8.3f} {med:>9.3f} {1000 * per:>11.2f}")
    small, anchor = rows[0], rows[1]
    print(f"anchor sfnfnet_f0 / small, per example (min): {anchor[4] / small[4]:.1f}x")
    print(f"small step (B=64, min) / 1 s budget: {small[3]:.2f}")


if __name__ == "__main__":
    main()

"""The mel projection: the banded filter-bank product against the dense one (the anchor).

Times ``LogMel.mel`` (one filter bank for the batch: the unaugmented view, extraction) and the
fused spectral path's per-item product (per-item frequency gains on the filter bank:
an EQ'd view, whose non-zeros are the filter bank's; a filter bank moved by a pitch shift of -6..+6
semitones per item: the ``ps`` view), each against ``torch.matmul`` / ``torch.bmm`` of the same
tensors in the same run, on one torch thread, batches of 64 power spectrograms (the pretrained
recipe's batch; 1 025 bins, 300 frames for the first, 447 for the second, as in training).

Run: .venv/bin/python bench/bench_mel.py [--repeats 10]
"""

from __future__ import annotations

import argparse
import time

import torch

from tunespace.augment.spectral.fused import _scatter_through_shift
from tunespace.features.banded import banded_matmul, row_groups
from tunespace.features.logmel import LogMel


def ms(fn, repeats: int) -> float:
    fn()
    t0 = time.perf_counter()
    for _ in range(repeats):
        fn()
    return (time.perf_counter() - t0) / repeats * 1000


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeats", type=int, default=10)
    args = ap.parse_args()
    torch.set_num_threads(1)
    g = torch.Generator().manual_seed(0)
    fe = LogMel()
    fb = fe.filterbank
    b = 64
    power = torch.rand(b, fb.shape[1], 300, generator=g) ** 4
    shifts = torch.randint(-6, 7, (b, 1), generator=g).float()
    pos = torch.arange(fb.shape[1], dtype=torch.float32)[None] * 2 ** (shifts / 12)
    w = _scatter_through_shift(fb[None].expand(b, -1, -1).contiguous(), pos)
    power_in = torch.rand(b, fb.shape[1], 447, generator=g) ** 4
    eq = fb[None] * (0.5 + torch.rand(b, 1, fb.shape[1], generator=g))
    groups = row_groups(fb != 0)
    print(f"filter bank {tuple(fb.shape)}, {float((fb != 0).float().mean()):.1%} non-zero; one torch thread")
    print("| product | dense (anchor) ms | banded ms | speed-up | max relative difference |")
    print("|---|---:|---:|---:|---:|")
    for name, dense, banded in (
        (
            "one filter bank, 64 x 300 frames",
            lambda: torch.matmul(fb, power),
            lambda: banded_matmul(fb, power, groups),
        ),
        (
            "per-item gains (EQ), no shift, 64 x 447 frames",
            lambda: torch.bmm(eq, power_in),
            lambda: banded_matmul(eq, power_in, groups),
        ),
        (
            "pitch-shifted per item, 64 x 447 frames",
            lambda: torch.bmm(w, power_in),
            lambda: banded_matmul(w, power_in),
        ),
    ):
        d, s = ms(dense, args.repeats), ms(banded, args.repeats)
        ref, out = dense(), banded()
        rel = float(((out - ref).abs() / ref.abs().clamp_min(1e-30)).max())
        print(f"| {name} | {d:.1f} | {s:.1f} | {d / s:.2f}x | {rel:.1e} |")


if __name__ == "__main__":
    main()

"""Augment + log-mel throughput (3 s excerpts per second), policy TS+PS+EQ with p = 1.

Pipelines, on identical raw windows of ``input_seconds`` (4.46 s at 16 kHz) from one seed:

- ``audiomentations``: TimeStretch(0.7-1.4, length kept) + PitchShift(+-6) +
  SevenBandParametricEQ, p = 1, per excerpt; centre crop to 3 s; tunespace log-mel (anchor).
- ``waveform``: tunespace waveform backend (Rubber Band TS, PS; RBJ EQ) per excerpt, as a
  loader worker does; centre crop; log-mel.
- ``spectral``: tunespace spectral backend, batches of B = 64 on the CPU, STFT + mel included:
  power -> TS, PS, EQ fused with the mel projection (as ``PairTransform.device_stage``)
  -> log -> standardise.

Run: ``.venv/bin/python bench/bench_augment.py`` (1 and 2 torch threads).
"""

from __future__ import annotations

import time

import numpy as np
import torch

from tunespace.augment import make_pair_transform
from tunespace.augment.spectral.fused import fused_mel
from tunespace.features import standardise


def _windows(n: int, samples: int) -> np.ndarray:
    rng = np.random.default_rng(0)
    t = np.arange(samples) / 16000
    out = []
    for _ in range(n):  # tone + noise bursts: something for the stretchers to work on
        f = rng.uniform(110, 880)
        env = np.exp(-((t * rng.uniform(1.5, 3)) % 1.0) * 6)
        out.append(0.3 * np.sin(2 * np.pi * f * t) * env + 0.02 * rng.standard_normal(samples))
    return np.asarray(out, dtype=np.float32)


def _rate(fn, n_items: int, repeats: int = 1) -> float:
    fn()  # warm up
    t0 = time.perf_counter()
    for _ in range(repeats):
        fn()
    return n_items * repeats / (time.perf_counter() - t0)


def main() -> None:
    import audiomentations as A

    wf = make_pair_transform("ts+ps+eq", "waveform", None, 3.0)
    sp = make_pair_transform("ts+ps+eq", "spectral", None, 3.0)
    assert wf.input_samples == sp.input_samples
    n_cpu, batch = 12, 64
    wins = _windows(batch, sp.input_samples)
    fe = sp.frontend
    tgt = wf.target_samples
    am = A.Compose(
        [
            A.TimeStretch(min_rate=0.7, max_rate=1.4, leave_length_unchanged=True, p=1.0),
            A.PitchShift(min_semitones=-6, max_semitones=6, p=1.0),
            A.SevenBandParametricEQ(p=1.0),
        ]
    )

    def crop_logmel(y: np.ndarray) -> torch.Tensor:
        s = (len(y) - tgt) // 2
        return standardise(fe(torch.from_numpy(np.ascontiguousarray(y[s : s + tgt]))[None])[..., :300])

    def run_audiomentations() -> None:
        np.random.seed(0)
        for w in wins[:n_cpu]:
            crop_logmel(am(samples=w, sample_rate=16000))

    def run_waveform() -> None:
        rng = np.random.default_rng(0)
        for w in wins[:n_cpu]:
            params = wf.policy.sample(rng, 1)
            crop_logmel(wf.policy.apply_view(w, params["b"]))

    x = torch.from_numpy(wins)

    def run_spectral() -> None:
        params = sp.policy.sample(np.random.default_rng(0), batch)
        m = fused_mel(fe.power(x), fe.filterbank, sp.policy.augmentations, params["b"], 300)
        standardise(fe.compress(m))

    print(f"{'threads':>7} {'pipeline':>16} {'excerpts/s':>11} {'ms/excerpt':>11} {'x anchor':>9}")
    for threads in (1, 2):
        torch.set_num_threads(threads)
        rates = {
            "audiomentations": _rate(run_audiomentations, n_cpu),
            "waveform": _rate(run_waveform, n_cpu),
            "spectral (B=64)": _rate(run_spectral, batch, repeats=3),
        }
        for name, r in rates.items():
            print(f"{threads:>7} {name:>16} {r:>11.1f} {1000 / r:>11.2f} {r / rates['audiomentations']:>9.2f}")


if __name__ == "__main__":
    main()

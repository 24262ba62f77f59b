"""How much a silent stretch moves track embeddings, with and without silent slices in the mean.

Each of the first N tracks of a folder is embedded as is, with a digitally silent tail of half
its length, and with a tail of noise at -80 dBFS RMS. Printed for ``silence_db`` -60 (the
default: silent slices left out of the mean) and None (every slice averaged, as before):
the cosine similarity of each track to its tailed version, and the mean cosine similarity
between different tracks, plain and tailed (silence pulling tracks together raises it).

Run: .venv/bin/python bench/silence_probe.py --data FOLDER [--model pretrained:ts] [--tracks 40]
"""

from __future__ import annotations

import argparse

import numpy as np

import tunespace
from tunespace.audio import load
from tunespace.datasets import open_dataset


def _unit(rows: list[np.ndarray]) -> np.ndarray:
    v = np.stack(rows).astype(np.float64)
    return v / np.linalg.norm(v, axis=1, keepdims=True)


def _mean_between(v: np.ndarray) -> float:
    s = v @ v.T
    return float(s[~np.eye(len(v), dtype=bool)].mean())


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--data", required=True)
    ap.add_argument("--model", default="pretrained:ts")
    ap.add_argument("--tracks", type=int, default=40)
    args = ap.parse_args()
    tracks = open_dataset(args.data).tracks[: args.tracks]
    rng = np.random.default_rng(0)
    for silence_db in (-60.0, None):
        model = tunespace.load_model(args.model, silence_db=silence_db)
        plain, silent, noisy = [], [], []
        for t in tracks:
            x = load(t.path, sr=model.sample_rate)
            half = len(x) // 2
            plain.append(model.embed(x, model.sample_rate))
            silent.append(model.embed(np.concatenate([x, np.zeros(half, np.float32)]), model.sample_rate))
            noise = 1e-4 * rng.standard_normal(half).astype(np.float32)
            noisy.append(model.embed(np.concatenate([x, noise]), model.sample_rate))
        p, s, n = _unit(plain), _unit(silent), _unit(noisy)
        print(
            f"silence_db={silence_db}: {len(tracks)} tracks; cos(plain, + silent tail) mean "
            f"{(p * s).sum(1).mean():.3f} min {(p * s).sum(1).min():.3f}; cos(plain, + noise tail) mean "
            f"{(p * n).sum(1).mean():.3f}; mean cos between tracks: plain {_mean_between(p):.3f}, "
            f"silent tails {_mean_between(s):.3f}, noise tails {_mean_between(n):.3f}",
            flush=True,
        )


if __name__ == "__main__":
    main()

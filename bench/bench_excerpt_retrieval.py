"""Excerpt-to-source retrieval under transformations (results: docs/models.md, docs/benchmarks.md).

What a search user feels: cut a 10 s excerpt of every catalogue track, transform it with a
tool other than tunespace's training augmentation (librosa's phase-vocoder time-stretch and
pitch-shift, a scipy peaking EQ), and ask whether the nearest catalogue track is its source.

Catalogue vectors: each model's track embedding (mean over 3 s slices, as ``tunespace embed``);
two search modes: ``track`` (the excerpt's embedding against track embeddings) and ``slices``
(the excerpt's embedding against every slice embedding of the catalogue, the track of the best
slice wins: a slice-level index). Reference: the MFCC mean+std vector (z-scored with the
catalogue's statistics), the hand-crafted feature a trained model should beat.

Run: .venv/bin/python bench/bench_excerpt_retrieval.py --data DATASET --models pretrained:none pretrained:ts ...
     [--excerpt-seconds 10] [--start-seconds 8]
"""

from __future__ import annotations

import argparse
import time

import numpy as np


def _transforms(sr: int) -> dict:
    import librosa
    from scipy import signal

    def eq(y: np.ndarray) -> np.ndarray:  # +9 dB peak at 1 kHz, Q 1 (RBJ cookbook), then -6 dB high shelf region
        b, a = signal.iirpeak(1000.0, 1.0, fs=sr)
        return (y + 1.8 * signal.lfilter(b, a, y)).astype(np.float32)

    return {
        "unmodified": lambda y: y,
        "time-stretch x1.15": lambda y: librosa.effects.time_stretch(y, rate=1.15),
        "time-stretch x0.87": lambda y: librosa.effects.time_stretch(y, rate=0.87),
        "pitch-shift +2": lambda y: librosa.effects.pitch_shift(y, sr=sr, n_steps=2),
        "pitch-shift -3": lambda y: librosa.effects.pitch_shift(y, sr=sr, n_steps=-3),
        "EQ +9 dB at 1 kHz": eq,
    }


def main() -> None:
    import tunespace
    from tunespace.audio import load
    from tunespace.baselines import track_features
    from tunespace.datasets import open_dataset

    ap = argparse.ArgumentParser()
    ap.add_argument("--data", required=True)
    ap.add_argument("--models", nargs="+", required=True)
    ap.add_argument("--excerpt-seconds", type=float, default=10.0)
    ap.add_argument("--start-seconds", type=float, default=8.0)
    args = ap.parse_args()
    ds = open_dataset(args.data)
    sr = 16000
    audio = {t.id: load(t.path, sr=sr) for t in ds.tracks}
    ids = list(audio)
    a, b = int(args.start_seconds * sr), int((args.start_seconds + args.excerpt_seconds) * sr)
    excerpts = {i: x[a:b] for i, x in audio.items()}
    tf = _transforms(sr)
    t0 = time.perf_counter()
    queries = {name: {i: f(e) for i, e in excerpts.items()} for name, f in tf.items()}
    print(
        f"{len(ids)} tracks of {args.data}; {args.excerpt_seconds:g} s excerpts from {args.start_seconds:g} s; "
        f"transformed in {time.perf_counter() - t0:.0f} s"
    )
    results: dict[str, dict[str, float]] = {}

    # reference: MFCC mean + std, z-scored with the catalogue's statistics
    cat = np.stack([track_features("mfcc", audio[i], sr) for i in ids])
    mu, sd = cat.mean(0), cat.std(0) + 1e-8
    cat_n = (cat - mu) / sd
    cat_n /= np.linalg.norm(cat_n, axis=1, keepdims=True)
    row = {}
    for name, q in queries.items():
        qv = np.stack([(track_features("mfcc", q[i], sr) - mu) / sd for i in ids])
        qv /= np.linalg.norm(qv, axis=1, keepdims=True)
        row[name] = float(np.mean(np.argmax(qv @ cat_n.T, axis=1) == np.arange(len(ids))))
    results["MFCC mean+std (reference)"] = row

    for spec in args.models:
        model = tunespace.load_model(spec)
        tls = [model.timeline(audio[i], sr).embeddings for i in ids]
        track = np.stack([tl.astype(np.float64).mean(0) for tl in tls]).astype(np.float32)
        track /= np.linalg.norm(track, axis=1, keepdims=True)
        slices = np.concatenate(tls)
        slices /= np.linalg.norm(slices, axis=1, keepdims=True)
        owner = np.concatenate([np.full(len(tl), n) for n, tl in enumerate(tls)])
        rows: dict[str, dict[str, float]] = {"track": {}, "slices": {}}
        for name, q in queries.items():
            qv = model.embed_batch([q[i] for i in ids], sr)  # each excerpt embedded once
            qv /= np.linalg.norm(qv, axis=1, keepdims=True)
            truth = np.arange(len(ids))
            rows["track"][name] = float(np.mean(np.argmax(qv @ track.T, axis=1) == truth))
            rows["slices"][name] = float(np.mean(owner[np.argmax(qv @ slices.T, axis=1)] == truth))
        for mode, row in rows.items():
            results[f"{spec} ({mode} index)"] = row

    names = list(tf)
    print("\n| embedding | " + " | ".join(names) + " |")
    print("|---|" + "---|" * len(names))
    for emb, row in results.items():
        print(f"| {emb} | " + " | ".join(f"{row[n]:.2f}" for n in names) + " |")
    print(f"\ntotal {time.perf_counter() - t0:.0f} s")


if __name__ == "__main__":
    main()

"""How much key a pitch-class profile carries, before any training (docs/study.md, third round of design runs).

Each track's embedding is a time-mean pitch-class profile; the number is key locality L@10
(``tunespace.locality.locality_profile``, the definition of docs/metrics.md, without the
intervals). Profiles compared:

- the front end's pitch-class bands (``frontend.chroma_bins: 12``, 25 ms window) of each 3 s
  slice (every 2 s, cut as ``tunespace embed`` cuts them), standardised like an encoder input,
  averaged over time and slices; then with each frame first
  normalised to its strongest pitch class, ``exp(s (x - max x))``, at sharpness ``s``;
- the same bands from a 128 ms window (``win_length`` 2048);
- the ``chroma`` baseline (librosa ``chroma_stft``, n_fft 4096).

Run: .venv/bin/python bench/key_profile_probe.py --data DATASET
"""

from __future__ import annotations

import argparse

import numpy as np
import torch


def key_locality(ids: list[str], profiles: np.ndarray, data: str) -> float:
    """Key L@10 of ``profiles`` (one row per id; centred across pitch classes, cosine neighbours)
    by :func:`tunespace.locality.locality_profile`, the study's definition."""
    from tunespace.embed.format import EmbeddingSet
    from tunespace.labels import load_labels
    from tunespace.locality import locality_profile

    centred = (profiles - profiles.mean(axis=1, keepdims=True)).astype(np.float32)
    emb = EmbeddingSet(ids=ids, vectors=centred, name="profile")
    prof = locality_profile(emb, load_labels(data, properties=["key"]), ks=[10], bootstrap=0)
    return float(prof["properties"]["key"]["10"]["locality"])


def main() -> None:
    from tunespace.audio import load
    from tunespace.baselines import track_features
    from tunespace.datasets import open_dataset
    from tunespace.embed.model import cut_slices, slice_starts
    from tunespace.features.logmel import FrontEnd, LogMel, standardise

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", required=True)
    args = ap.parse_args()
    ds = open_dataset(args.data)
    ids = [t.id for t in ds.tracks]
    fronts = {"25 ms": LogMel(FrontEnd(chroma_bins=12)), "128 ms": LogMel(FrontEnd(chroma_bins=12, win_length=2048))}
    sharpness = (0.0, 1.0, 2.3, 5.0, 10.0)
    rows: dict[str, list[np.ndarray]] = {}
    for t in ds.tracks:
        y = load(t.path, sr=16000)
        cuts = torch.from_numpy(cut_slices(y, slice_starts(len(y) / 16000, 3.0, 2.0), 16000, 3.0))
        for name, fe in fronts.items():
            with torch.no_grad():
                bands = standardise(fe(cuts))[:, -12:]  # (slices, 12, frames)
            for s in sharpness if name == "25 ms" else (0.0,):
                c = bands if s == 0 else torch.exp(s * (bands - bands.max(dim=1, keepdim=True).values))
                label = f"{name} window, " + ("time mean of the log bands" if s == 0 else f"frame-normalised, s={s:g}")
                rows.setdefault(label, []).append(c.mean(dim=-1).mean(dim=0).numpy())
        rows.setdefault("chroma baseline (librosa chroma_stft)", []).append(track_features("chroma", y, 16000))
    print(f"{len(ids)} tracks of {args.data}\n\n| profile | key L@10 |\n|---|---|")
    for label, profiles in rows.items():
        print(f"| {label} | {key_locality(ids, np.stack(profiles), args.data):.3f} |")


if __name__ == "__main__":
    main()

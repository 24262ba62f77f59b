"""Behaviour check for refactors of ``tunespace.augment`` and ``tunespace.pairs``: same seeds, same bits.

Two kinds of fingerprint, each a SHA-256:

- ``train/<policy>@<backend>``: a tiny model (``tests/conftest.py``'s ``tiny_overrides(steps=3)``,
  ``train.log_views=true``) trained on a 16-track corpus (10 s, seed 5): every tensor of the
  final checkpoint's weights (bit-exact) and the text of ``views.jsonl`` (every view's logged
  parameters). Policies: ``ts+ps+eq`` on the spectral backend (spectrogram cache, and again
  with windows read from disk), ``ts+ps`` on the waveform one (audio cache).
- ``pipeline/<policy>@<backend>``: :class:`~tunespace.augment.pipeline.PairTransform` on fixed
  random windows (CPU stage with a seeded generator, then the device stage with a seeded torch
  generator): the two model inputs and the parameters as JSON. Covers every augmentation type,
  both backends, ``apply_to: both``, the fused spectral path and the step-by-step one (noise).

Run::

    .venv/bin/python bench/augment_determinism.py save REF.json   # before the change
    .venv/bin/python bench/augment_determinism.py check REF.json  # after: exit 1 on any difference

``--pipeline-only`` skips the two training runs (seconds instead of minutes).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import sys
import tempfile
from pathlib import Path

import numpy as np
import torch

#: (policy, backend, extra overrides): the spectrogram cache, the audio cache, and windows read from disk.
TRAIN_RUNS = [
    ("ts+ps+eq", "spectral", []),
    ("ts+ps", "waveform", []),
    ("ts+ps+eq", "spectral", ["data.cache_audio=false"]),
]
ALL = ["time_stretch", "pitch_shift", "eq", "gain", "noise"]
PIPELINES = [
    ("ts+ps+eq", "spectral"),
    ("ts+ps+eq", "waveform"),
    ("none", "spectral"),
    ("none", "waveform"),
    (
        {
            "name": "fusable-both",
            "apply_to": "both",
            "augmentations": [
                {"type": "gain"},
                {"type": "pitch_shift", "p": 0.5},
                {"type": "eq", "n_peaks": 3},
                {"type": "time_stretch", "distribution": "uniform"},
            ],
        },
        "spectral",
    ),
    ({"name": "all-spectral", "augmentations": [{"type": t, "p": 0.7} for t in ALL]}, "spectral"),
    (
        {
            "name": "all-waveform",
            "apply_to": "both",
            "augmentations": [{"type": t, "p": 0.7} for t in ALL + ["reverb"]],
        },
        "waveform",
    ),
    (
        {
            "name": "integer-ps",
            "augmentations": [{"type": "pitch_shift", "integer": True}, {"type": "eq", "shelves": False}],
        },
        "waveform",
    ),
]

TINY = [
    "train.steps=3",
    "train.batch_size=4",
    "train.checkpoint_every=2",
    "train.log_every=1",
    "train.progress=false",
    "train.warmup_steps=1",
    "train.threads=1",
    "model.encoder_args={width: 16, depth: 1, embedding_dim: 16}",
    "model.projector.hidden_dims=[16]",
    "model.projector.out_dim=8",
    "train.log_views=true",
]


def _sha(*chunks: bytes) -> str:
    h = hashlib.sha256()
    for c in chunks:
        h.update(c)
    return h.hexdigest()


def _tensor_bytes(x: torch.Tensor | np.ndarray) -> bytes:
    a = x.detach().cpu().numpy() if isinstance(x, torch.Tensor) else np.asarray(x)
    return str(a.dtype).encode() + str(a.shape).encode() + np.ascontiguousarray(a).tobytes()


def _json(params: object) -> bytes:
    from tunespace.augment.pipeline import params_to_json

    return json.dumps(params_to_json(params), sort_keys=True).encode()


def pipeline_fingerprints() -> dict[str, str]:
    from tunespace.augment.pipeline import PairTransform
    from tunespace.augment.policy import build_policy
    from tunespace.features import FrontEnd, LogMel

    out = {}
    fe = FrontEnd()
    for spec, backend in PIPELINES:
        pt = PairTransform(build_policy(spec, backend, None, fe), LogMel(fe), target_seconds=3.0)
        rng = np.random.default_rng(3)
        t = np.arange(pt.input_samples) / 16000
        wins = [
            (
                0.3 * np.sin(2 * np.pi * f * t) * np.exp(-((t * 2) % 1.0) * 5) + 0.02 * rng.standard_normal(t.shape)
            ).astype(np.float32)
            for f in (220.0, 330.0, 495.0, 660.0)
        ]
        cpu_rng = np.random.default_rng(11)
        items = [pt.cpu_stage(wins[i], wins[(i + 1) % 4], cpu_rng) for i in range(4)]
        a = torch.from_numpy(np.stack([it[0] for it in items]))
        b = torch.from_numpy(np.stack([it[1] for it in items]))
        xa, xb, dparams = pt.device_stage(a, b, torch.Generator().manual_seed(7))
        name = spec if isinstance(spec, str) else spec["name"]
        out[f"pipeline/{name}@{backend}"] = _sha(
            _tensor_bytes(xa), _tensor_bytes(xb), _json([it[2] for it in items]), _json(dparams)
        )
    return out


def train_fingerprints(work: Path) -> dict[str, str]:
    from tunespace.corpus import build_corpus
    from tunespace.train import resolve_config, train

    torch.set_num_threads(2)
    corpus = build_corpus(work / "corpus", tracks=16, seconds=10.0, seed=5, workers=2)
    out = {}
    for policy, backend, extra in TRAIN_RUNS:
        name = f"{policy}@{backend}" + "".join(f"/{e}" for e in extra)
        run = work / f"run-{len(out)}"
        cfg = resolve_config(
            None, TINY + extra, **{"data.path": str(corpus), "augment.policy": policy, "augment.backend": backend}
        )
        result = train(run, cfg)
        state = torch.load(result.checkpoint, map_location="cpu", weights_only=True)["model"]
        weights = _sha(*(k.encode() + _tensor_bytes(v) for k, v in sorted(state.items())))
        views = (run / "views.jsonl").read_bytes()
        out[f"train/{name}/weights"] = weights
        out[f"train/{name}/views.jsonl"] = _sha(views)
        out[f"train/{name}/loss"] = repr(result.final_loss)
    return out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("mode", choices=["save", "check"])
    ap.add_argument("reference", type=Path)
    ap.add_argument("--pipeline-only", action="store_true")
    args = ap.parse_args(argv)
    got = pipeline_fingerprints()
    if not args.pipeline_only:
        with tempfile.TemporaryDirectory() as tmp:
            got.update(train_fingerprints(Path(tmp)))
    if args.mode == "save":
        args.reference.write_text(json.dumps(got, indent=1, sort_keys=True) + "\n")
        print(f"saved {len(got)} fingerprints to {args.reference}")
        return 0
    ref = json.loads(args.reference.read_text())
    bad = [k for k in sorted(got) if ref.get(k) != got[k]]
    missing = [k for k in sorted(ref) if k not in got and not (args.pipeline_only and k.startswith("train/"))]
    for k in sorted(got):
        print(f"{'same' if k not in bad else 'DIFFERENT':>9}  {k}")
    for k in missing:
        print(f"{'MISSING':>9}  {k}")
    print("identical" if not bad and not missing else f"{len(bad) + len(missing)} difference(s)")
    return 1 if bad or missing else 0


if __name__ == "__main__":
    sys.exit(main())

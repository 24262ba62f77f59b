"""A user's folder, end to end (results: docs/benchmarks.md, "## A plain folder, end to end").

1. Render 60 real compositions (music21 corpus, seed 11) and store them as a user would have
   them: a plain folder of OGG/Vorbis (44.1 kHz) and OGG/Opus (48 kHz) stereo files with no
   CSV, plus one corrupt file and one text file.
2. ``tunespace train --data FOLDER --augment ps`` (150 steps of 32 pairs, ``small`` width 64).
3. ``tunespace embed``, ``tunespace index build``.
4. For every track, a 10 s excerpt (8-18 s) is queried by audio, unmodified and pitch-shifted
   by +2 and -3 semitones with librosa's phase vocoder (a tool other than the spectral
   augmentation used in training): is the excerpt's own track the first neighbour?

Run: .venv/bin/python bench/bench_folder_workflow.py [--work DIR] [--steps N]
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np


def _cli(*args: str) -> None:
    subprocess.run([sys.executable, "-m", "tunespace", *args], check=True)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--work", default=None)
    ap.add_argument("--steps", type=int, default=150)
    ap.add_argument("--tracks", type=int, default=60)
    args = ap.parse_args()
    work = Path(args.work or tempfile.mkdtemp(prefix="tunespace-folder-"))
    import librosa
    import soundfile as sf
    import soxr

    import tunespace
    from tunespace.audio import load
    from tunespace.corpus import build_corpus
    from tunespace.datasets import open_dataset

    t0 = time.perf_counter()
    build_corpus(work / "corpus", tracks=args.tracks, seconds=30.0, seed=11, source="music21")
    music = work / "music"
    music.mkdir(parents=True, exist_ok=True)
    for i, t in enumerate(open_dataset(work / "corpus").tracks):
        x = load(t.path, sr=16000)
        if i % 2:
            y = soxr.resample(x, 16000, 44100).astype(np.float32)
            sf.write(music / f"{t.id}.ogg", np.stack([y, 0.9 * y], 1), 44100, format="OGG", subtype="VORBIS")
        else:
            y = soxr.resample(x, 16000, 48000).astype(np.float32)
            sf.write(music / f"{t.id}.opus", np.stack([y, 0.9 * y], 1), 48000, format="OGG", subtype="OPUS")
    (music / "broken.ogg").write_bytes(b"OggS" + b"\0" * 100)
    (music / "readme.txt").write_text("not audio")
    t1 = time.perf_counter()
    _cli(
        "train",
        "--data",
        str(music),
        "--augment",
        "ps",
        "--out",
        str(work / "run"),
        f"train.steps={args.steps}",
        "train.batch_size=32",
        "train.progress=false",
        "model.encoder_args={width: 64, depth: 4}",
    )
    t2 = time.perf_counter()
    _cli("embed", "--model", str(work / "run"), "--data", str(music), "--out", str(work / "emb"), "--no-progress")
    _cli("index", "build", "--embeddings", str(work / "emb"), "--out", str(work / "idx"))
    t3 = time.perf_counter()
    idx = tunespace.Index.load(work / "idx")
    model = tunespace.load_model(idx.model_path)
    shifts = (0, 2, -3)
    hits = dict.fromkeys(shifts, 0)
    for tid in idx.ids:
        path = next(music.glob(f"{tid}.*"))
        x, sr = sf.read(path, dtype="float32")
        ex = x.mean(axis=1)[int(8 * sr) : int(18 * sr)]
        for st in shifts:
            y = ex if st == 0 else librosa.effects.pitch_shift(ex, sr=sr, n_steps=st)
            hits[st] += idx.search(model.embed(y, sr), 1)[0][0].id == tid
    t4 = time.perf_counter()
    print(
        f"\nfolder: {work / 'music'} ({len(idx)} tracks embedded; skipped.csv: "
        f"{(work / 'run' / 'skipped.csv').read_text().count(chr(10)) - 1} file(s); "
        f"errors.csv: {(work / 'emb' / 'errors.csv').read_text().count(chr(10)) - 1} file(s))"
    )
    print("| query (10 s excerpt) | own track first |")
    print("|---|---|")
    for st in shifts:
        what = "unmodified" if st == 0 else f"pitch-shifted {st:+d} semitones (librosa)"
        print(f"| {what} | {hits[st]}/{len(idx)} ({hits[st] / len(idx):.0%}) |")
    print(
        f"\ntimes: data {t1 - t0:.0f} s, train {t2 - t1:.0f} s, embed + index {t3 - t2:.0f} s, "
        f"{3 * len(idx)} queries {t4 - t3:.0f} s"
    )


if __name__ == "__main__":
    main()

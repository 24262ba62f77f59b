"""Benchmark of tunespace.audio.load: a 3 s window of a long file against decoding the whole file.

Anchor: ``soundfile.read`` of the whole file (what a loader without seeking does).
Writes its test files to a temporary folder; prints a table of median times in ms.
Run: .venv/bin/python bench/bench_audio.py
"""

from __future__ import annotations

import tempfile
import time
from pathlib import Path

import numpy as np
import soundfile as sf

from tunespace import audio


def _median_ms(fn, repeat: int = 5) -> float:
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return 1000 * float(np.median(times))


def main() -> None:
    rng = np.random.default_rng(0)
    with tempfile.TemporaryDirectory() as d:
        rows = []
        for name, fmt, subtype, minutes in (
            ("long.flac", "FLAC", "PCM_16", 10),
            ("long.mp3", "MP3", "MPEG_LAYER_III", 5),
        ):
            path = Path(d) / name
            with sf.SoundFile(path, "w", 44100, 2, format=fmt, subtype=subtype) as f:
                for _ in range(minutes):
                    f.write((rng.standard_normal((44100 * 60, 2)) * 0.05).astype(np.float32))
            full = _median_ms(lambda p=path: sf.read(p, dtype="float32"), repeat=3)
            mid = minutes * 30.0
            win_mid = _median_ms(lambda p=path, m=mid: audio.load(p, 16000, offset_s=m, duration_s=3.0))
            win_start = _median_ms(lambda p=path: audio.load(p, 16000, offset_s=10.0, duration_s=3.0))
            rows.append((f"{name} ({minutes} min, 44.1 kHz stereo)", full, win_start, win_mid))
        print(
            f"{'file':<36} {'full decode ms':>15} {'3 s @10 s ms':>13} {'3 s @middle ms':>15} {'ratio middle/full':>18}"
        )
        for name, full, a, b in rows:
            print(f"{name:<36} {full:>15.1f} {a:>13.1f} {b:>15.1f} {b / full:>18.3f}")


if __name__ == "__main__":
    main()

"""Full and read-only file systems for real: every writing command on a small tmpfs.

The test suite (tests/reliability/test_storage.py) injects ENOSPC/EROFS so that it runs as any
user; this script checks the same outcomes on a real file system. It needs root (it mounts a
tmpfs) and is not part of ``make bench``::

    sudo .venv/bin/python bench/faults_fs.py

For each command: fill the tmpfs so that the command runs out of space part-way, check that it
exits with status 1 and one line naming a file and "No space left on device", that no
temporary file is left and what was complete before still reads; free the space and check that
the same command completes; then remount read-only and check "Read-only file system".
"""

from __future__ import annotations

import errno
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np
import soundfile as sf

ROOT = Path(__file__).resolve().parents[1]
ENV = {**os.environ, "PYTHONPATH": str(ROOT / "src")}
TINY = [
    "train.steps=4",
    "train.batch_size=4",
    "train.checkpoint_every=2",
    "train.log_every=1",
    "train.progress=false",
    "train.warmup_steps=1",
    "train.threads=1",
    "model.encoder_args={width: 16, depth: 1, embedding_dim: 16}",
    "model.projector.hidden_dims=[16]",
    "model.projector.out_dim=8",
]


def tunespace(*args: str) -> tuple[int, str]:
    p = subprocess.run([sys.executable, "-m", "tunespace", *args], env=ENV, capture_output=True, text=True)
    return p.returncode, p.stderr


def fill(mount: Path, leave: int) -> Path:
    """A ballast file that leaves about ``leave`` bytes free on ``mount``."""
    ballast = mount / "ballast"
    free = shutil.disk_usage(mount).free
    with open(ballast, "wb") as f:
        try:
            f.write(b"\0" * max(0, free - leave))
        except OSError as e:
            assert e.errno == errno.ENOSPC
    return ballast


def temporaries(folder: Path) -> list[Path]:
    return [p for p in folder.rglob(".*") if p.is_file() and ".parts" not in p.parts and p.name != ".tunespace.lock"]


def main() -> int:
    if os.geteuid() != 0:
        print("needs root (mounts a tmpfs); skipped")
        return 0
    work = Path(tempfile.mkdtemp())
    data = work / "data"
    data.mkdir()
    rng = np.random.default_rng(0)
    for i in range(24):
        t = np.arange(16000 * 5) / 16000
        sf.write(
            data / f"t{i}.wav",
            (0.3 * np.sin(2 * np.pi * (200 + 20 * i) * t) + 0.02 * rng.standard_normal(len(t))).astype(np.float32),
            16000,
        )
    mount = work / "fs"
    mount.mkdir()
    subprocess.run(["mount", "-t", "tmpfs", "-o", "size=4m", "tmpfs", str(mount)], check=True)
    rows = []
    try:
        commands = {
            "embed": (
                ["embed", "--model", "random:small", "--data", str(data), "--workers", "0", "--no-progress"],
                40_000,
            ),
            "train": (["train", "--data", str(data), "--augment", "none", *TINY], 60_000),
            # corpus build refuses up front when the uncompressed size does not fit (exit 2)
            "corpus build": (["corpus", "build", "--tracks", "2", "--seconds", "5", "--workers", "1"], 100_000),
            "baseline": (["baseline", "--kind", "random", "--data", str(data), "--workers", "0"], 20_000),
        }
        for name, (args, leave) in commands.items():
            out = mount / name.replace(" ", "_")
            pos = 2 if name == "corpus build" else 1
            argv = [*args[:pos], "--out", str(out), *args[pos:]]
            ballast = fill(mount, leave)
            code, err = tunespace(*argv)
            lines = [x for x in err.splitlines() if x.strip()]
            expected = ("GB free there", 2) if name == "corpus build" else ("No space left on device", 1)
            full_ok = (
                code == expected[1]
                and len(lines) == 1
                and expected[0] in lines[0]
                and "Traceback" not in err
                and not (out.exists() and temporaries(out))
            )
            ballast.unlink()
            code2, err2 = tunespace(*argv) if name != "train" else tunespace("train", "--out", str(out), "--resume")
            rows.append((name, "disk full", code, lines[-1] if lines else "", full_ok and code2 == 0))
        for p in mount.iterdir():
            shutil.rmtree(p) if p.is_dir() else p.unlink()
        subprocess.run(["mount", "-o", "remount,ro", str(mount)], check=True)
        for name, (args, _) in commands.items():
            out = mount / f"ro_{name.replace(' ', '_')}"
            pos = 2 if name == "corpus build" else 1
            code, err = tunespace(*args[:pos], "--out", str(out), *args[pos:])
            lines = [x for x in err.splitlines() if x.strip()]
            ok = code == 1 and len(lines) == 1 and "Read-only file system" in lines[0] and str(out) in lines[0]
            rows.append((name, "read-only", code, lines[-1] if lines else "", ok))
    finally:
        subprocess.run(["umount", str(mount)], check=False)
        shutil.rmtree(work, ignore_errors=True)
    print("| command | fault | exit | message | as expected (then completes) |")
    print("|---|---|---|---|---|")
    for name, fault, code, line, ok in rows:
        print(f"| {name} | {fault} | {code} | `{line.replace(str(work), 'TMP')}` | {'yes' if ok else 'NO'} |")
    return 0 if all(r[-1] for r in rows) else 1


if __name__ == "__main__":
    sys.exit(main())

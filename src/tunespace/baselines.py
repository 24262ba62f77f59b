"""Reference embeddings of known character, and import of external embeddings.

Hand-crafted embeddings (librosa features over each track's audio at 22.05 kHz mono):

- ``chroma`` (12-d, key-sensitive): mean of ``librosa.feature.chroma_stft`` (n_fft 4096,
  hop 1024) over the track, centred across the 12 pitch classes so that cosine similarity is
  the Pearson correlation of the two pitch-class profiles (as in profile-based key finding).
- ``mfcc`` (40-d, timbre): means and standard deviations of 20 MFCCs (n_fft 2048, hop 512),
  each of the 40 dimensions then standardised over the whole set (z-score), so no single
  coefficient dominates cosine similarity.
- ``tempogram`` (90-d, tempo-sensitive): mean autocorrelation tempogram (onset strength at
  hop 256, window 512 frames) resampled onto a log-tempo grid of 90 points from 40 to 240 BPM
  (2 % apart), centred across the grid (cosine = correlation of periodicity profiles).
- ``random``: a randomly initialised encoder — not available yet (raises UsageError; the
  lead wires it to ``tunespace.embed.extract`` when the encoders land).

Unreadable tracks are skipped and listed in ``errors.csv``, never fatal. Tracks are processed by
a pool of processes (``workers``, default 2).

Imported embeddings (:func:`import_embeddings`): ``.npy`` (N, D) with ``--ids`` (one id a
line); ``.npz`` with arrays ``embeddings`` and ``ids`` (otherwise the first 2-D numeric array
and the first 1-D string array; ``--ids`` overrides); ``.csv`` with the id in the first column
and the D values in the others (a header row is detected and skipped). Rows with non-finite
values are excluded and listed in ``errors.csv``; duplicate ids are an error.
"""

from __future__ import annotations

import csv
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from typing import Any

import numpy as np

from . import __version__
from .datasets.base import is_number
from .embed.format import EmbeddingSet
from .errors import TunespaceError, UsageError

KINDS = ("chroma", "mfcc", "tempogram", "random")
SAMPLE_RATE = 22050
TEMPO_GRID_BPM = np.geomspace(40.0, 240.0, 90)
_PARAMS: dict[str, dict[str, Any]] = {
    "chroma": {"n_fft": 4096, "hop_length": 1024, "summary": "mean, centred across pitch classes"},
    "mfcc": {"n_mfcc": 20, "n_fft": 2048, "hop_length": 512, "summary": "mean and std, z-scored over the set"},
    "tempogram": {
        "hop_length": 256,
        "win_length": 512,
        "grid_bpm": [40.0, 240.0, 90],
        "summary": "mean autocorrelation tempogram on a log-tempo grid, centred",
    },
}


def track_features(kind: str, audio: np.ndarray, sr: int = SAMPLE_RATE) -> np.ndarray:
    """The per-track feature vector (float32 (D,)) of ``kind`` for mono audio at ``sr`` Hz."""
    import librosa

    y = np.asarray(audio, dtype=np.float32)
    if kind == "chroma":
        p = _PARAMS["chroma"]
        c = librosa.feature.chroma_stft(y=y, sr=sr, n_fft=p["n_fft"], hop_length=p["hop_length"]).mean(axis=1)
        return (c - c.mean()).astype(np.float32)
    if kind == "mfcc":
        p = _PARAMS["mfcc"]
        m = librosa.feature.mfcc(y=y, sr=sr, n_mfcc=p["n_mfcc"], n_fft=p["n_fft"], hop_length=p["hop_length"])
        return np.concatenate([m.mean(axis=1), m.std(axis=1)]).astype(np.float32)
    if kind == "tempogram":
        p = _PARAMS["tempogram"]
        onset = librosa.onset.onset_strength(y=y, sr=sr, hop_length=p["hop_length"])
        tg = librosa.feature.tempogram(
            onset_envelope=onset, sr=sr, hop_length=p["hop_length"], win_length=p["win_length"]
        ).mean(axis=1)
        lags = np.arange(1, len(tg))
        bpm = 60.0 * sr / (p["hop_length"] * lags)  # decreasing with lag
        g = np.interp(np.log(TEMPO_GRID_BPM), np.log(bpm[::-1]), tg[1:][::-1])
        return (g - g.mean()).astype(np.float32)
    raise UsageError(f"--kind: unknown baseline {kind!r}; expected one of {KINDS}")


def _track_job(job: tuple[str, str, str, int]) -> tuple[str, np.ndarray | None, str]:
    kind, track_id, path, sr = job
    try:
        try:
            from .audio import load
        except ImportError:  # pragma: no cover - tunespace.audio is part of the package
            load = None
        if load is not None:
            y = load(path, sr=sr)
        else:  # pragma: no cover
            import soundfile as sf
            import soxr

            y, file_sr = sf.read(path, dtype="float32", always_2d=True)
            y = soxr.resample(y.mean(axis=1), file_sr, sr)
        if len(y) < sr:
            return track_id, None, "shorter than 1 s"
        return track_id, track_features(kind, y, sr), ""
    except TunespaceError as e:
        return track_id, None, str(e)
    except Exception as e:  # noqa: BLE001 - any undecodable file is reported, not fatal
        return track_id, None, f"{type(e).__name__}: {e}"


def random_baseline(
    data: str | Path, seed: int = 0, workers: int = 2, encoder: str = "small", embed: dict[str, Any] | None = None
) -> EmbeddingSet:
    """Embeddings of a randomly initialised encoder (seeded), extracted like a trained one.

    What the architecture alone, with no training, makes local: the reference point that says
    how much of a trained model's locality training added. ``embed``: the
    :func:`~tunespace.embed.extract.embed_dataset` settings of the trained models it is compared
    with (a study's ``embed`` section, which the study gives its models as it is; default 3 s
    slices every 2 s).
    """
    import tempfile

    from .embed.extract import embed_dataset, random_encoder

    with tempfile.TemporaryDirectory() as tmp:
        emb = embed_dataset(
            random_encoder(encoder, seed=seed),
            data,
            Path(tmp) / "emb",
            workers=workers,
            progress=False,
            **(embed or {}),
        )
    assert emb is not None
    emb.vectors = np.asarray(emb.vectors)
    emb.meta = {**emb.meta, "kind": "baseline", "baseline": "random", "seed": seed}
    emb.name = "random"
    return emb


def compute_baseline(
    kind: str,
    data: str | Path,
    workers: int = 2,
    sr: int = SAMPLE_RATE,
    seed: int = 0,
    embed: dict[str, Any] | None = None,
) -> EmbeddingSet:
    """Hand-crafted embeddings of ``kind`` for every track of the dataset folder ``data``.

    Args:
        kind: ``"chroma"``, ``"mfcc"``, ``"tempogram"`` or ``"random"`` (a randomly initialised
            ``small`` encoder, see :func:`random_baseline`).
        data: a dataset folder readable by :func:`tunespace.datasets.open_dataset`.
        workers: processes (1: in this process).
        sr: analysis sample rate in Hz.
        seed: initialisation seed of the ``random`` encoder.
        embed: slicing of the ``random`` encoder (:func:`random_baseline`); the hand-crafted
            kinds are track-level features and take none.
    Returns:
        the embeddings (ids in dataset order, unreadable tracks in ``errors``).
    Raises:
        UsageError: unknown kind, or no track could be read.
    """
    if kind == "random":
        return random_baseline(data, seed=seed, workers=workers, embed=embed)
    if kind not in KINDS:
        raise UsageError(f"--kind: unknown baseline {kind!r}; expected one of {KINDS}")
    from .datasets import open_dataset

    ds = open_dataset(data)
    jobs = [(kind, t.id, str(t.path), sr) for t in ds.tracks]
    if workers <= 1 or len(jobs) <= 1:
        results = [_track_job(j) for j in jobs]
    else:
        # compile librosa's numba functions here first: forked workers inherit them, so they do
        # not compile and write numba's on-disk cache concurrently (concurrent writes left a
        # cache that crashed later processes)
        track_features(
            kind, np.zeros(sr * 4, dtype=np.float32) + 1e-3 * np.sin(np.arange(sr * 4, dtype=np.float32)), sr
        )
        with ProcessPoolExecutor(max_workers=workers) as pool:
            results = list(pool.map(_track_job, jobs, chunksize=max(1, len(jobs) // (8 * workers))))
    paths = {t.id: str(t.path) for t in ds.tracks}
    ids = [i for i, v, _ in results if v is not None]
    errors = [(paths[i], r) for i, v, r in results if v is None]
    if not ids:
        raise UsageError(f"{data}: no track could be read ({errors[0][1] if errors else 'no tracks'})")
    vectors = np.stack([v for _, v, _ in results if v is not None]).astype(np.float32)
    if kind == "mfcc":
        vectors = (vectors - vectors.mean(axis=0)) / (vectors.std(axis=0) + 1e-8)
    meta = {
        "kind": "baseline",
        "baseline": kind,
        "source": str(data),
        "sample_rate": sr,
        "dim": int(vectors.shape[1]),
        "parameters": _PARAMS[kind],
        "tunespace_version": __version__,
        "description": __doc__.split("\n\n")[1] if __doc__ else "",
    }
    return EmbeddingSet(ids=ids, vectors=vectors.astype(np.float32), meta=meta, errors=errors, name=f"{kind}")


def import_embeddings(path: str | Path, ids_path: str | Path | None = None) -> EmbeddingSet:
    """Convert external embeddings (``.npy``, ``.npz`` or ``.csv``) into an :class:`EmbeddingSet`.

    Raises:
        UsageError: unreadable file, unknown extension, missing ids, shape mismatch, duplicate ids.
    """
    path = Path(path)
    if not path.is_file():
        raise UsageError(f"--import {path}: file not found")
    ids: list[str] | None = None
    suffix = path.suffix.lower()
    try:
        if suffix == ".npy":
            x = np.load(path, allow_pickle=False)
        elif suffix == ".npz":
            with np.load(path, allow_pickle=False) as z:
                names = list(z.files)
                if "embeddings" in names:
                    x = z["embeddings"]
                else:
                    two_d = [n for n in names if z[n].ndim == 2 and z[n].dtype.kind in "fiu"]
                    if not two_d:
                        raise UsageError(f"--import {path}: no 2-D numeric array (arrays: {', '.join(names)})")
                    x = z[two_d[0]]
                if "ids" in names:
                    ids = [str(i) for i in z["ids"]]
                else:
                    str_1d = [n for n in names if z[n].ndim == 1 and z[n].dtype.kind in "US"]
                    ids = [str(i) for i in z[str_1d[0]]] if str_1d else None
        elif suffix == ".csv":
            ids, x = _read_csv(path)
        else:
            raise UsageError(f"--import {path}: unknown format {suffix!r}; expected .npy, .npz or .csv")
    except (ValueError, OSError) as e:
        raise UsageError(f"--import {path}: cannot read ({e})") from None
    if ids_path is not None:
        ids = Path(ids_path).read_text(encoding="utf-8").splitlines()
    if ids is None:
        raise UsageError(f"--import {path}: no ids (give --ids IDS.txt with one id a line)")
    x = np.asarray(x)
    if x.ndim != 2 or x.dtype.kind not in "fiu":
        raise UsageError(f"--import {path}: expected a 2-D numeric array, got shape {x.shape} dtype {x.dtype}")
    if len(ids) != x.shape[0]:
        raise UsageError(f"--import {path}: {x.shape[0]} rows but {len(ids)} ids")
    seen: set[str] = set()
    for i in ids:
        if i in seen:
            raise UsageError(f"--import {path}: duplicate id {i!r}")
        seen.add(i)
    x = x.astype(np.float32)
    finite = np.isfinite(x).all(axis=1)
    errors = [(i, "non-finite values") for i, ok in zip(ids, finite) if not ok]
    keep = [i for i, ok in zip(ids, finite) if ok]
    meta = {
        "kind": "imported",
        "source": str(path.resolve()),
        "dim": int(x.shape[1]),
        "n_excluded": len(errors),
        "tunespace_version": __version__,
    }
    return EmbeddingSet(ids=keep, vectors=np.ascontiguousarray(x[finite]), meta=meta, errors=errors, name=path.stem)


def _read_csv(path: Path) -> tuple[list[str], np.ndarray]:
    with open(path, newline="", encoding="utf-8") as f:
        rows = [r for r in csv.reader(f) if r]
    if rows and len(rows[0]) > 1 and not is_number(rows[0][1]):
        rows = rows[1:]  # header
    if not rows:
        raise UsageError(f"--import {path}: no rows")
    width = len(rows[0])
    for n, r in enumerate(rows):
        if len(r) != width:
            raise UsageError(f"--import {path}: row {n + 1} has {len(r)} columns, expected {width}")
    try:
        x = np.array([[float(v) for v in r[1:]] for r in rows], dtype=np.float64)
    except ValueError as e:
        raise UsageError(f"--import {path}: {e}") from None
    return [r[0] for r in rows], x

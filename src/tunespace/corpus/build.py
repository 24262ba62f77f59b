"""``build_corpus``: plan the labels, render every track to FLAC, write ``tracks.csv`` and
``corpus.json``.

Layout of a corpus folder::

    DIR/audio/<track_id>.flac   16 kHz mono, 16-bit FLAC
    DIR/tracks.csv              one row per track, columns :func:`.plan.csv_columns`
    DIR/corpus.json             parameters, label vocabularies, genre/mood definitions, version

Every file is written atomically, and one process at a time builds into a folder
(:class:`tunespace.lock.FolderLock`). The size of a build is bounded (:data:`MAX_TRACKS`
tracks of at most :data:`MAX_SECONDS` s) and checked against the free space before anything
is written. Tracks are rendered in parallel worker processes; each
depends only on its own row (see :mod:`.plan`), so the output is identical for any number of
workers. A rebuild into a folder whose ``tracks.csv`` already lists an identical row (and
whose audio file exists) keeps that file instead of rendering it again.
"""

from __future__ import annotations

import csv
import io
import math
import numbers
import os
import shutil
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import numpy as np
import soundfile as sf

from .. import __version__
from ..errors import UsageError
from ..files import atomic_path, write_json, write_text
from ..keys import KEY_NAMES
from ..lock import FolderLock
from . import plan as _plan
from .plan import TrackSpec, check_args, csv_columns
from .procedural import PieceSpec, compose
from .render import PEAK_DBFS, RENDER_RATE, TARGET_RMS_DBFS, default_soundfont, render_midi
from .styles import GENRES, INSTRUMENT_NAMES, MOODS

SAMPLE_RATE = 16000
#: Largest build: tracks, and seconds per track (beyond them a build would take days or fill disks).
MAX_TRACKS = 100_000
MAX_SECONDS = 600.0
#: Bytes per second of audio before FLAC compression (16-bit mono at 16 kHz): the size bound.
_PCM_BYTES_PER_S = 2 * SAMPLE_RATE


def check_size(tracks: object, seconds: object, seed: object = 0, workers: object = None) -> None:
    """Refuse arguments out of bounds (before :func:`.plan.check_args`, which checks the rest).

    Raises:
        UsageError: naming the option, its value and the bound.
    """
    if isinstance(tracks, numbers.Integral) and not isinstance(tracks, bool) and tracks > MAX_TRACKS:
        raise UsageError(f"--tracks must be at most {MAX_TRACKS}, got {tracks}")
    if (
        not isinstance(seconds, numbers.Real)
        or isinstance(seconds, bool)
        or not math.isfinite(seconds)
        or seconds > MAX_SECONDS
    ):
        if isinstance(seconds, numbers.Real) and not isinstance(seconds, bool) and seconds < 5:
            return  # check_args says it
        raise UsageError(f"--seconds must be a number of seconds in [5, {MAX_SECONDS:g}], got {seconds!r}")
    if not isinstance(seed, numbers.Integral) or isinstance(seed, bool) or seed < 0:
        raise UsageError(f"--seed must be an integer >= 0, got {seed!r}")
    limit = max(64, os.cpu_count() or 1)
    if workers is not None and (
        not isinstance(workers, numbers.Integral) or isinstance(workers, bool) or not 0 <= workers <= limit
    ):
        raise UsageError(f"--workers must be an integer in [0, {limit}] (0: one per CPU), got {workers!r}")


def _check_space(out: Path, tracks: int, seconds: float) -> None:
    """Refuse a build whose uncompressed audio would not fit in the free space at ``out``."""
    need = tracks * seconds * _PCM_BYTES_PER_S
    where = out
    while not where.exists() and where != where.parent:
        where = where.parent
    try:
        free = shutil.disk_usage(where).free
    except OSError:
        return
    if need > free:
        raise UsageError(
            f"{out}: {tracks} tracks x {seconds:g} s need up to {need / 1e9:.3g} GB "
            f"(16 kHz 16-bit before FLAC compression), only {free / 1e9:.3g} GB free there"
        )


def plan_tracks(
    tracks: int, seconds: float, seed: int, source: str, cache_dir: str | Path | None = None
) -> list[TrackSpec]:
    """The rows of ``tracks.csv`` for a build (no audio is made)."""
    check_size(tracks, seconds, seed)
    check_args(tracks, seconds, source)
    if source == "procedural":
        return _plan.plan_procedural(tracks, seconds, seed)
    from .music21_source import plan_music21

    return plan_music21(tracks, seconds, seed, cache_dir)


def render_track(spec: TrackSpec, cache_dir: str | Path | None = None) -> np.ndarray:
    """The audio of one track, float32 mono at 16 kHz, shape ``(duration_s * 16000,)``."""
    if spec.source == "procedural":
        piece = PieceSpec(spec.genre, spec.mood, spec.key, spec.tempo_bpm, spec.instrument, spec.duration_s)
        pm = compose(piece, np.random.default_rng(spec.seed))
    else:
        from .music21_source import perform

        pm = perform(spec, cache_dir)
    return render_midi(pm, spec.duration_s, SAMPLE_RATE)


def _render_to_file(job: tuple[TrackSpec, str, str | None]) -> str:
    spec, out, cache_dir = job
    audio = render_track(spec, cache_dir)
    with atomic_path(Path(out) / spec.path) as tmp:
        sf.write(tmp, audio, SAMPLE_RATE, subtype="PCM_16", format="FLAC")
    return spec.track_id


def _existing_rows(out: Path) -> dict[str, dict[str, str]]:
    p = out / "tracks.csv"
    if not p.is_file():
        return {}
    with open(p, newline="", encoding="utf-8") as f:
        return {r["track_id"]: r for r in csv.DictReader(f)}


def build_corpus(
    out: str | Path,
    tracks: int = 200,
    seconds: float = 30.0,
    seed: int = 0,
    source: str = "procedural",
    workers: int | None = None,
    cache_dir: str | Path | None = None,
) -> Path:
    """Build a labelled corpus of rendered music into ``out``.

    Args:
        out: corpus folder (created; must not be a file).
        tracks: number of tracks (>= 1).
        seconds: duration of each track in seconds (>= 5).
        seed: build seed; same arguments give identical CSV and audio samples.
        source: ``"procedural"`` (composed by :mod:`.procedural`) or ``"music21"`` (pieces of
            the corpus shipped with music21, see :mod:`.music21_source`).
        workers: rendering processes (default: number of CPUs; 1 renders in this process).
        cache_dir: cache of parsed music21 scores (default ``$TUNESPACE_CACHE/music21`` or
            ``~/.cache/tunespace/music21``).
    Returns:
        the corpus folder.
    Raises:
        UsageError: bad or out-of-bounds arguments, not enough free space, ``out`` is a file,
            or another process is building into ``out``.
    """
    check_size(tracks, seconds, seed, workers)
    check_args(tracks, seconds, source)
    out = Path(out)
    if out.exists() and not out.is_dir():
        raise UsageError(f"--out {out} is a file, expected a folder")
    _check_space(out, tracks, seconds)
    with FolderLock(out, "tunespace corpus build"):
        return _build(out, tracks, seconds, seed, source, workers, cache_dir)


def _build(
    out: Path, tracks: int, seconds: float, seed: int, source: str, workers: int | None, cache_dir: str | Path | None
) -> Path:
    specs = plan_tracks(tracks, seconds, seed, source, cache_dir)
    old = _existing_rows(out)
    todo = [s for s in specs if old.get(s.track_id) != s.row() or not (out / s.path).is_file()]
    (out / "audio").mkdir(parents=True, exist_ok=True)
    jobs = [(s, str(out), None if cache_dir is None else str(cache_dir)) for s in todo]
    n_workers = max(1, min(workers or os.cpu_count() or 1, len(jobs)))
    if n_workers == 1:
        for j in jobs:
            _render_to_file(j)
    else:
        with ProcessPoolExecutor(max_workers=n_workers) as pool:
            for _ in pool.map(_render_to_file, jobs, chunksize=4):
                pass
    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=list(csv_columns(source)), lineterminator="\n")
    writer.writeheader()
    for s in specs:
        writer.writerow(s.row())
    write_text(out / "tracks.csv", buf.getvalue())
    write_json(out / "corpus.json", corpus_metadata(specs, tracks, seconds, seed, source))
    return out


def corpus_metadata(specs: list[TrackSpec], tracks: int, seconds: float, seed: int, source: str) -> dict:
    """The content of ``corpus.json``: parameters, vocabularies, definitions, version."""
    if source == "procedural":
        genres = {
            n: {
                "description": g.description,
                "tempo_bpm": list(g.tempo_bpm),
                "meter": f"{g.meter}/4",
                "instruments": list(g.palette),
            }
            for n, g in GENRES.items()
        }
        instruments = list(INSTRUMENT_NAMES)
    else:
        from .music21_source import M21_GENRES, M21_PALETTE

        genres = {
            n: {"description": g["description"], "tempo_bpm": list(g["tempo_bpm"]), "instruments": list(M21_PALETTE)}
            for n, g in M21_GENRES.items()
        }
        instruments = sorted(M21_PALETTE)
    return {
        "tunespace_version": __version__,
        "parameters": {"tracks": tracks, "seconds": seconds, "seed": seed, "source": source},
        "audio": {
            "sample_rate": SAMPLE_RATE,
            "channels": 1,
            "format": "FLAC PCM_16",
            "render_rate": RENDER_RATE,
            "synth": "tinysoundfont",
            "soundfont": default_soundfont().name,
            "loudness": f"RMS {TARGET_RMS_DBFS:g} dBFS, peak <= {PEAK_DBFS:g} dBFS",
        },
        "label_kinds": {
            "genre": "categorical",
            "mood": "categorical",
            "instrument": "categorical",
            "key": "key",
            "tempo_bpm": "tempo",
        },
        "vocabularies": {
            "genre": sorted(genres),
            "mood": sorted(MOODS),
            "instrument": instruments,
            "key": list(KEY_NAMES),
        },
        "genres": genres,
        "moods": {n: m.description for n, m in MOODS.items()},
        "label_drawing": (_plan.__doc__ or "").strip(),
        "tempo_definition": "beats per minute of the notated beat (quarter note; dotted "
        "quarter in compound metres), constant within a track",
        "tracks": len(specs),
    }

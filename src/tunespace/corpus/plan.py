"""The labels of every corpus track, drawn before any audio is made.

Track ``i`` of a build with seed ``s`` draws its labels from
``SeedSequence(s, spawn_key=(i, 0))`` and composes from the per-track seed
``SeedSequence(s, spawn_key=(i, 1))`` (the ``seed`` column of ``tracks.csv``), so a track
depends only on (s, i), never on worker scheduling or on the number of tracks.

How labels are drawn (procedural source), each independently of the others:

- genre: round-robin over the genres (track i gets genre ``i mod 6``), so classes are balanced;
- key: uniform over the 24 major/minor keys (:data:`tunespace.keys.KEY_NAMES`);
- tempo: uniform integer BPM in the genre's range (ranges overlap; 60-180 BPM overall);
- mood: uniform over the moods (mood never sets the mode; see :mod:`.styles`);
- instrument: uniform over the genre's lead palette.

For the music21 source the genre cycles over the music21 genres, the piece is drawn
uniformly within the genre, the tonic uniformly (the mode is the piece's own), the tempo
uniformly in the genre's range and the instrument uniformly from its palette.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np

from ..errors import UsageError
from ..keys import KEY_NAMES
from .styles import GENRE_NAMES, GENRES, MOOD_NAMES

SOURCES: tuple[str, ...] = ("procedural", "music21")
#: Columns of ``tracks.csv``, in order; music21 builds add a ``piece`` column.
CSV_COLUMNS: tuple[str, ...] = (
    "track_id",
    "path",
    "duration_s",
    "key",
    "tempo_bpm",
    "genre",
    "mood",
    "instrument",
    "source",
    "seed",
)


def csv_columns(source: str) -> tuple[str, ...]:
    """Columns of ``tracks.csv`` for a build from ``source``."""
    return CSV_COLUMNS + (("piece",) if source == "music21" else ())


@dataclass(frozen=True)
class TrackSpec:
    """One row of ``tracks.csv``: everything needed to render the track again.

    Attributes:
        track_id: ``t0000``-style id; path: audio path relative to the corpus folder.
        duration_s: duration in seconds. key: canonical key name. tempo_bpm: beat tempo.
        genre, mood, instrument: labels. source: ``procedural`` or ``music21``.
        seed: per-track composition seed. piece: music21 corpus piece (empty if procedural).
    """

    track_id: str
    path: str
    duration_s: float
    key: str
    tempo_bpm: float
    genre: str
    mood: str
    instrument: str
    source: str
    seed: int
    piece: str = ""

    def row(self) -> dict[str, str]:
        """The CSV row (all values as strings, floats without spurious digits)."""
        d = asdict(self)
        d["duration_s"] = f"{self.duration_s:g}"
        d["tempo_bpm"] = f"{self.tempo_bpm:g}"
        return {k: str(d[k]) for k in csv_columns(self.source)}


def track_spec(
    i: int,
    seconds: float,
    seed: int,
    source: str,
    key: str,
    tempo_bpm: float,
    genre: str,
    mood: str,
    instrument: str,
    piece: str = "",
) -> TrackSpec:
    """Row ``i`` of a build of ``seed`` (every source): id ``t0000``, audio ``audio/t0000.flac``,
    composition seed :func:`track_seed`."""
    tid = f"t{i:04d}"
    return TrackSpec(
        tid,
        f"audio/{tid}.flac",
        float(seconds),
        key,
        float(tempo_bpm),
        genre,
        mood,
        instrument,
        source,
        track_seed(seed, i),
        piece,
    )


def check_args(tracks: int, seconds: float, source: str) -> None:
    """Raise :class:`UsageError` for arguments a build cannot work with."""
    if not isinstance(tracks, int) or tracks < 1:
        raise UsageError(f"--tracks must be an integer >= 1, got {tracks!r}")
    if not seconds >= 5.0:
        raise UsageError(f"--seconds must be >= 5, got {seconds!r}")
    if source not in SOURCES:
        raise UsageError(f"unknown --source {source!r}; expected one of {', '.join(SOURCES)}")


def track_seed(seed: int, index: int) -> int:
    """The composition seed of track ``index`` in a build with ``seed`` (a uint32)."""
    return int(np.random.SeedSequence(seed, spawn_key=(index, 1)).generate_state(1)[0])


def label_rng(seed: int, index: int) -> np.random.Generator:
    """The generator that draws the labels of track ``index``."""
    return np.random.default_rng(np.random.SeedSequence(seed, spawn_key=(index, 0)))


def plan_procedural(tracks: int, seconds: float, seed: int) -> list[TrackSpec]:
    """Labels of ``tracks`` procedural tracks of ``seconds`` s each (see the module docstring)."""
    check_args(tracks, seconds, "procedural")
    out = []
    for i in range(tracks):
        rng = label_rng(seed, i)
        genre = GENRE_NAMES[i % len(GENRE_NAMES)]
        g = GENRES[genre]
        key = KEY_NAMES[int(rng.integers(len(KEY_NAMES)))]
        tempo = int(rng.integers(g.tempo_bpm[0], g.tempo_bpm[1] + 1))
        mood = MOOD_NAMES[int(rng.integers(len(MOOD_NAMES)))]
        inst = g.palette[int(rng.integers(len(g.palette)))]
        out.append(track_spec(i, seconds, seed, "procedural", key, tempo, genre, mood, inst))
    return out

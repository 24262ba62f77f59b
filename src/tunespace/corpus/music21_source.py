"""The ``music21`` source: real compositions from the corpus that ships inside music21.

Pieces: the Bach chorales (genre ``chorale``, four voices) and the dance tunes of Ryan's
Mammoth Collection (ABC; the ``R:`` field gives the genre: ``reel``, ``jig``, ``hornpipe``,
``strathspey``; one melody, played over a soft bass-drum pulse on every beat). Each piece
is transposed to a tonic drawn uniformly (its mode is its own, from music21's key
analysis), played at a tempo drawn from the genre's range (BPM of the notated beat: the
dotted quarter in 6/8), given a lead instrument (the melody / soprano; the lower chorale
voices are played by the ensemble instrument), shaped by the mood's dynamics and
articulation, and looped to the duration.

The lead instruments (:data:`M21_INSTRUMENTS`: harpsichord, marimba, harmonica, oboe,
recorder, banjo) and the string ensemble of the lower voices are General MIDI programs that
no procedural track uses (neither as lead nor in its accompaniment), so a model trained and
tuned on procedural corpora meets these timbres for the first time: a music21 corpus can
serve as a confirmatory evaluation set (docs/study.md).

Parsing a score costs up to a second, so each parsed piece is cached as a small JSON file
of notes (onset and duration in quarter notes, MIDI pitch, part) in ``cache_dir``.
"""

from __future__ import annotations

import json
import os
import re
from functools import lru_cache
from pathlib import Path

import numpy as np
import pretty_midi

from ..errors import DatasetError
from ..extras import import_extra
from ..files import write_json
from ..keys import KEY_NAMES, key_name, parse_key
from .plan import TrackSpec, check_args, label_rng, track_spec
from .styles import MOOD_NAMES, MOODS, Instrument

M21_GENRES: dict[str, dict] = {
    "chorale": {"description": "J. S. Bach four-part chorale harmonisation", "tempo_bpm": (60, 110)},
    "reel": {"description": "reel (2/4 or 4/4 dance tune, Ryan's Mammoth Collection)", "tempo_bpm": (90, 140)},
    "jig": {"description": "jig (6/8 dance tune, beat = dotted quarter)", "tempo_bpm": (90, 130)},
    "hornpipe": {"description": "hornpipe (dotted 4/4 or 2/4 dance tune)", "tempo_bpm": (70, 120)},
    "strathspey": {"description": "strathspey (Scottish 4/4 dance with snaps)", "tempo_bpm": (60, 100)},
}
#: Lead instruments of music21 tracks (label -> GM program and range), none of them used by
#: the procedural source.
M21_INSTRUMENTS: dict[str, Instrument] = {
    "harpsichord": Instrument(6, 41, 89),
    "marimba": Instrument(12, 45, 96),
    "harmonica": Instrument(22, 60, 96),
    "oboe": Instrument(68, 58, 91),
    "recorder": Instrument(74, 60, 98),
    "banjo": Instrument(105, 48, 86),
}
M21_PALETTE: tuple[str, ...] = tuple(M21_INSTRUMENTS)
#: GM program of the lower chorale voices.
ENSEMBLE_PROGRAM = 48  # string ensemble


def default_cache_dir() -> Path:
    """``$TUNESPACE_CACHE/music21``, or ``~/.cache/tunespace/music21``."""
    return Path(os.environ.get("TUNESPACE_CACHE", "~/.cache/tunespace")).expanduser() / "music21"


def _corpus():
    """``music21.corpus`` (a one-line error naming the extra when music21 is not installed)."""
    return import_extra("music21.corpus", "the music21 corpus source")


@lru_cache(maxsize=1)
def candidates() -> dict[str, tuple[str, ...]]:
    """Genre -> sorted corpus-relative paths of its pieces (read from the files, no parsing)."""
    corpus = _corpus()
    root = Path(corpus.__file__).parent
    out: dict[str, list[str]] = {g: [] for g in M21_GENRES}
    for p in sorted((root / "bach").glob("bwv*.mxl")):
        out["chorale"].append(str(p.relative_to(root)))
    for p in sorted((root / "ryansMammoth").glob("*.abc")):
        m = re.search(r"^R:\s*(.+)$", p.read_text(encoding="latin-1"), re.M)
        kind = m.group(1).strip().lower() if m else ""
        if kind in out and p.read_text(encoding="latin-1").count("\nX:") == 0:
            out[kind].append(str(p.relative_to(root)))
    return {g: tuple(v) for g, v in out.items()}


def load_piece(rel_path: str, cache_dir: str | Path | None = None) -> dict:
    """Notes of a corpus piece: ``{"key", "beat_ql", "length_ql", "parts": [[[on, dur, pitch]]]}``.

    Onsets and durations are in quarter notes; parts are ordered top voice first. Cached.
    Raises:
        DatasetError: the piece cannot be parsed or has no notes.
    """
    corpus = _corpus()
    import music21

    cache = Path(cache_dir) if cache_dir else default_cache_dir()
    cfile = cache / f"{music21.__version__}" / (rel_path.replace("/", "__") + ".json")
    if cfile.is_file():
        return json.loads(cfile.read_text(encoding="utf-8"))
    try:
        score = corpus.parse(str(Path(corpus.__file__).parent / rel_path))
        k = score.analyze("key")
        key = key_name(k.tonic.pitchClass, "minor" if k.mode == "minor" else "major")
        ts = score.recurse().getElementsByClass("TimeSignature").first()
        beat_ql = float(ts.beatDuration.quarterLength) if ts is not None else 1.0
        parts = []
        for part in score.parts:
            notes = []
            for n in part.stripTies().flatten().notes:
                for p in n.pitches:
                    notes.append([float(n.offset), float(n.duration.quarterLength), int(p.midi)])
            if notes:
                parts.append(notes)
        length = float(score.highestTime)
    except Exception as e:  # music21 raises many exception types on odd files
        raise DatasetError(f"{rel_path}: cannot parse with music21 ({type(e).__name__})") from e
    if not parts or length <= 0:
        raise DatasetError(f"{rel_path}: no notes")
    piece = {"key": key, "beat_ql": beat_ql, "length_ql": length, "parts": parts}
    write_json(cfile, piece)
    return piece


def plan_music21(tracks: int, seconds: float, seed: int, cache_dir: str | Path | None = None) -> list[TrackSpec]:
    """Rows for ``tracks`` music21 tracks (see :mod:`.plan` for how labels are drawn)."""
    check_args(tracks, seconds, "music21")
    cands = candidates()
    genres = [g for g in sorted(M21_GENRES) if cands[g]]
    if not genres:
        raise DatasetError("music21 corpus: no chorales or dance tunes found")
    out = []
    for i in range(tracks):
        rng = label_rng(seed, i)
        genre = genres[i % len(genres)]
        for _ in range(20):  # a piece that does not parse is replaced by another draw
            rel = cands[genre][int(rng.integers(len(cands[genre])))]
            try:
                piece = load_piece(rel, cache_dir)
                break
            except DatasetError:
                continue
        else:
            raise DatasetError(f"music21 corpus: no parsable {genre} piece")
        _, mode = parse_key(piece["key"])
        tonic = int(rng.integers(12))
        lo, hi = M21_GENRES[genre]["tempo_bpm"]
        tempo = int(rng.integers(lo, hi + 1))
        mood = MOOD_NAMES[int(rng.integers(len(MOOD_NAMES)))]
        inst = M21_PALETTE[int(rng.integers(len(M21_PALETTE)))]
        out.append(track_spec(i, seconds, seed, "music21", key_name(tonic, mode), tempo, genre, mood, inst, rel))
    assert all(s.key in KEY_NAMES for s in out)
    return out


def perform(spec: TrackSpec, cache_dir: str | Path | None = None) -> pretty_midi.PrettyMIDI:
    """The performance of a music21 track row: transposed, timed, orchestrated, looped."""
    piece = load_piece(spec.piece, cache_dir)
    rng = np.random.default_rng(spec.seed)
    src_pc, _ = parse_key(piece["key"])
    dst_pc, _ = parse_key(spec.key)
    shift = (dst_pc - src_pc) % 12
    shift = shift - 12 if shift > 5 else shift
    mood = MOODS[spec.mood]
    reg = {"sombre": -12, "playful": 12}.get(spec.mood, 0)
    quarter_s = 60.0 / (spec.tempo_bpm * piece["beat_ql"])
    loops = int(np.ceil(spec.duration_s / (piece["length_ql"] * quarter_s))) + 1
    pm = pretty_midi.PrettyMIDI(initial_tempo=spec.tempo_bpm)
    lead = M21_INSTRUMENTS[spec.instrument]
    for vi, notes in enumerate(piece["parts"]):
        prog = lead.program if vi == 0 else ENSEMBLE_PROGRAM
        inst = pretty_midi.Instrument(program=prog, name="lead" if vi == 0 else f"voice{vi}")
        inst.control_changes.append(pretty_midi.ControlChange(7, 118 if vi == 0 else 85, 0.0))
        for lp in range(loops):
            base = lp * piece["length_ql"]
            for on, dur, pitch in notes:
                p = pitch + shift + (reg if vi == 0 else 0)
                if not 0 <= p <= 127:
                    continue
                on_beat = (on / piece["beat_ql"]) % 1 == 0
                v = mood.velocity + (mood.accent if on_beat else 0) + int(rng.integers(-4, 5))
                start = (base + on) * quarter_s
                end = start + max(0.04, dur * quarter_s * mood.gate)
                inst.notes.append(pretty_midi.Note(int(np.clip(v, 1, 127)), int(p), start, end))
        pm.instruments.append(inst)
    if len(piece["parts"]) == 1:  # dance tunes: a soft bass-drum pulse on every beat
        drums = pretty_midi.Instrument(program=0, is_drum=True, name="drums")
        beat_s = 60.0 / spec.tempo_bpm
        for b in range(int(spec.duration_s / beat_s) + 2):
            drums.notes.append(pretty_midi.Note(mood.velocity - 10, 36, b * beat_s, b * beat_s + 0.1))
        pm.instruments.append(drums)
    return pm

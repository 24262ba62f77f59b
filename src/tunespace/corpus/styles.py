"""Label vocabularies of the procedural corpus: instruments, genres and moods, and what each means.

Every genre and mood is defined by musical means that do not involve key or tempo, so the
five labels can be drawn independently (see :mod:`tunespace.corpus.plan`):

- a **genre** fixes the drum kit and pattern (or none), the bass pattern, the accompaniment
  texture and its instruments, the metre, the harmonic rhythm, the progression style, swing,
  and the palette the lead instrument is drawn from. Its tempo range overlaps the others.
- a **mood** fixes the lead's register, rhythmic density and articulation (note length), and
  the dynamics (velocity level and accent contrast) of every part. Mood never sets the mode:
  the key (tonic and major/minor) is drawn uniformly from the 24 keys, independently of mood.
  Absolute loudness is normalised per track, so dynamics are heard through the SoundFont's
  velocity-dependent timbre and the accent pattern, not through level.
- an **instrument** label is the General MIDI lead instrument that plays the melody.

These tables are plain data; :mod:`tunespace.corpus.procedural` turns them into notes.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Instrument:
    """A lead instrument: General MIDI program (0-based) and comfortable MIDI pitch range."""

    program: int
    low: int
    high: int


#: Lead instrument vocabulary (label -> GM program and range in MIDI note numbers).
INSTRUMENTS: dict[str, Instrument] = {
    "piano": Instrument(0, 48, 96),
    "electric piano": Instrument(4, 48, 91),
    "vibraphone": Instrument(11, 53, 89),
    "organ": Instrument(16, 48, 91),
    "accordion": Instrument(21, 53, 89),
    "nylon guitar": Instrument(24, 52, 84),
    "clean guitar": Instrument(27, 52, 86),
    "overdrive guitar": Instrument(29, 52, 88),
    "violin": Instrument(40, 55, 96),
    "trumpet": Instrument(56, 55, 82),
    "saxophone": Instrument(65, 49, 81),
    "clarinet": Instrument(71, 50, 91),
    "flute": Instrument(73, 60, 96),
    "synth lead": Instrument(81, 48, 96),
}


@dataclass(frozen=True)
class Genre:
    """How one genre sounds. Steps are sixteenth notes; a bar has ``meter * 4`` steps.

    Attributes:
        description: human-readable definition (written to ``corpus.json``).
        tempo_bpm: (low, high) quarter-note tempo range in BPM, inclusive.
        meter: beats (quarter notes) per bar.
        drums: drum pattern name, or None for no drums.
        kits: GM drum kit programs (bank 128) one is drawn from.
        bass: bass pattern name; bass_program: its GM program.
        texture: accompaniment texture name; texture_programs: GM programs of its parts.
        bars_per_chord: harmonic rhythm (0.5 = two chords per bar).
        progressions: chord progressions as 0-based scale degrees (0 = tonic), each starting
            on the tonic; one is drawn per track.
        sevenths: chords carry their diatonic seventh.
        swing: off-beat eighths are played late (triplet swing); melodies then use no
            sixteenths.
        palette: lead instrument labels (keys of :data:`INSTRUMENTS`).
    """

    description: str
    tempo_bpm: tuple[int, int]
    meter: int
    drums: str | None
    kits: tuple[int, ...]
    bass: str
    bass_program: int
    texture: str
    texture_programs: tuple[int, ...]
    bars_per_chord: float
    progressions: tuple[tuple[int, ...], ...]
    sevenths: bool
    swing: bool
    palette: tuple[str, ...]


GENRES: dict[str, Genre] = {
    "rock": Genre(
        "4/4 backbeat: kick on 1 and 3, snare on 2 and 4, eighth hi-hats, crash every 4 bars; "
        "driving eighth-note root bass (picked bass); overdriven power chords in eighths; "
        "one triad per bar (I-V-vi-IV style pop/rock progressions)",
        (90, 170),
        4,
        "rock",
        (0, 16),
        "eighths",
        34,
        "power_chords",
        (29,),
        1.0,
        ((0, 4, 5, 3), (0, 3, 4, 3), (0, 5, 3, 4), (0, 3, 0, 4)),
        False,
        False,
        ("overdrive guitar", "clean guitar", "organ", "synth lead", "piano"),
    ),
    "jazz": Genre(
        "4/4 swing: ride cymbal 'ding ding-a' pattern, hi-hat pedal on 2 and 4, feathered kick "
        "(jazz or brush kit); walking acoustic bass in quarter notes with chromatic approach "
        "notes; syncopated rootless seventh-chord piano comping; ii-V-I seventh-chord "
        "progressions, one chord per bar; swung eighths",
        (80, 180),
        4,
        "swing",
        (32, 40),
        "walking",
        32,
        "comping",
        (0,),
        1.0,
        ((0, 5, 1, 4), (0, 3, 1, 4), (0, 0, 1, 4), (0, 2, 1, 4)),
        True,
        True,
        ("saxophone", "trumpet", "piano", "vibraphone", "clean guitar"),
    ),
    "electronic": Genre(
        "4/4 four-on-the-floor: kick on every beat, clap on 2 and 4, open hi-hat on off-beats, "
        "sixteenth closed hats (electronic or TR-808 kit); off-beat synth bass; sustained warm "
        "pad plus a sixteenth-note synth arpeggio; slow harmonic rhythm (two bars per chord)",
        (100, 150),
        4,
        "four_on_floor",
        (24, 25),
        "offbeat",
        38,
        "pad_arpeggio",
        (89, 90),
        2.0,
        ((0, 5, 3, 4), (0, 3, 5, 4), (0, 5, 2, 4)),
        False,
        False,
        ("synth lead", "electric piano", "vibraphone", "organ"),
    ),
    "folk": Genre(
        "3/4 waltz: soft kick on 1 with tambourine on 2 and 3; oom-pah-pah: acoustic bass on "
        "beat 1 alternating root and fifth, strummed steel-string guitar chords on beats 2 and 3; "
        "simple I-IV-V progressions, one chord per bar",
        (80, 160),
        3,
        "waltz",
        (0,),
        "oom",
        32,
        "strum",
        (25,),
        1.0,
        ((0, 3, 0, 4), (0, 0, 3, 4, 0, 3, 4, 0), (0, 4, 0, 3, 0, 4, 4, 0)),
        False,
        False,
        ("violin", "flute", "accordion", "nylon guitar", "clarinet"),
    ),
    "classical": Genre(
        "4/4 chamber style without drums: Alberti-bass piano accompaniment (low-high-middle-high "
        "eighths) giving the pulse, cello on half-note roots; two chords per bar with "
        "authentic cadences (I-IV-V-I, I-ii-V-I)",
        (60, 140),
        4,
        None,
        (),
        "half_notes",
        42,
        "alberti",
        (0,),
        0.5,
        ((0, 3, 4, 0), (0, 1, 4, 0), (0, 5, 3, 4), (0, 4, 5, 3, 1, 4, 0, 0)),
        False,
        False,
        ("piano", "violin", "flute", "clarinet"),
    ),
    "latin": Genre(
        "4/4 bossa nova: kick on 1 and the 'a' of 2 / 3 and the 'a' of 4, side-stick 3-2 clave "
        "over two bars, eighth-note shaker; bass root-fifth dotted rhythm; syncopated "
        "nylon-guitar seventh chords; ii-V-I progressions, one chord per bar",
        (80, 140),
        4,
        "bossa",
        (0, 8),
        "bossa",
        33,
        "bossa_guitar",
        (24,),
        1.0,
        ((0, 1, 4, 0), (0, 5, 1, 4), (0, 3, 1, 4)),
        True,
        False,
        ("nylon guitar", "flute", "saxophone", "trumpet", "vibraphone", "electric piano"),
    ),
}


@dataclass(frozen=True)
class Mood:
    """How one mood sounds (never through mode: see the module docstring).

    Attributes:
        description: human-readable definition (written to ``corpus.json``).
        centre: preferred MIDI pitch at the centre of the lead's range (clipped to the
            instrument's range).
        durations: lead note durations in sixteenth-note steps, with ``weights``.
        rest: probability that a lead rhythm slot is a rest.
        gate: sounding fraction of each note's duration (1 = legato, 0.4 = staccato).
        velocity: base MIDI velocity of all parts (1-127); accent: added on strong beats.
    """

    description: str
    centre: int
    durations: tuple[int, ...]
    weights: tuple[float, ...]
    rest: float
    gate: float
    velocity: int
    accent: int


MOODS: dict[str, Mood] = {
    "calm": Mood(
        "soft and even dynamics (velocity ~55, little accent), legato, sparse lead of long "
        "notes (quarter to whole notes) in the middle register",
        67,
        (4, 8, 16),
        (0.4, 0.4, 0.2),
        0.1,
        1.0,
        55,
        5,
    ),
    "energetic": Mood(
        "loud with strong accents (velocity ~105), dense lead of eighths and sixteenths in a "
        "high register, detached (70 % note length)",
        76,
        (1, 2, 4),
        (0.25, 0.5, 0.25),
        0.05,
        0.7,
        105,
        18,
    ),
    "sombre": Mood(
        "low register lead (around middle C and below), moderate-soft dynamics (velocity ~70), "
        "legato, slow quarter and half notes",
        57,
        (4, 8),
        (0.6, 0.4),
        0.15,
        0.95,
        70,
        8,
    ),
    "playful": Mood(
        "high register, staccato (40 % note length), bouncy eighths with frequent rests, "
        "medium-loud with strong accent contrast (velocity ~85)",
        81,
        (2, 4),
        (0.7, 0.3),
        0.3,
        0.4,
        85,
        22,
    ),
}

GENRE_NAMES: tuple[str, ...] = tuple(sorted(GENRES))
MOOD_NAMES: tuple[str, ...] = tuple(sorted(MOODS))
INSTRUMENT_NAMES: tuple[str, ...] = tuple(sorted(INSTRUMENTS))

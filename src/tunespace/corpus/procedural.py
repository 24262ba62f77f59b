"""Procedural composition: a seeded piece in a given genre, mood, key, tempo and lead instrument.

Written by hand (no library composes style-controlled pieces); the result is a
:class:`pretty_midi.PrettyMIDI` that :mod:`tunespace.corpus.render` turns into audio.
The piece is a loop of the genre's chord progression (starting on the tonic, cadencing
V -> I) under four parts: drums (if the genre has them), bass on chord roots, the genre's
accompaniment texture, and a lead melody built from a two-bar rhythmic motif, chord tones
on the beats, stepwise diatonic motion between them, and the tonic at every four-bar
phrase end. Key and tempo are constant for the whole piece. Positions are sixteenth-note
steps; a bar has ``meter * 4`` steps.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import pretty_midi

from ..errors import ConfigError
from ..keys import parse_key
from .harmony import chord_offsets, place, scale_pitches, voice
from .styles import GENRES, INSTRUMENTS, MOODS, Genre, Mood

#: MIDI channel volume (CC 7) of each part, setting the mix: the lead on top.
PART_VOLUME = {"lead": 118, "drums": 100, "bass": 105, "texture": 80}


@dataclass(frozen=True)
class PieceSpec:
    """What to compose.

    Attributes:
        genre, mood, instrument: labels from :mod:`tunespace.corpus.styles`.
        key: key name, e.g. ``"F# minor"``.
        tempo_bpm: quarter-note tempo in beats per minute.
        seconds: minimum duration to cover, in seconds.
    """

    genre: str
    mood: str
    key: str
    tempo_bpm: float
    instrument: str
    seconds: float


class _Score:
    """Accumulates notes of named parts on the sixteenth-note grid (with optional swing)."""

    def __init__(self, tempo_bpm: float, swing: bool, rng: np.random.Generator) -> None:
        self.step_s = 60.0 / tempo_bpm / 4.0
        self.swing = swing
        self.rng = rng
        self.parts: dict[str, pretty_midi.Instrument] = {}

    def part(self, name: str, program: int, is_drum: bool = False) -> pretty_midi.Instrument:
        if name not in self.parts:
            inst = pretty_midi.Instrument(program=program, is_drum=is_drum, name=name)
            vol = PART_VOLUME.get(name.split(":")[0], 90)
            inst.control_changes.append(pretty_midi.ControlChange(7, vol, 0.0))
            self.parts[name] = inst
        return self.parts[name]

    def time(self, step: float) -> float:
        """Seconds at grid position ``step``; swung off-beat eighths land on the last triplet."""
        if self.swing and step % 4 == 2:
            step = step + 2.0 / 3.0
        return step * self.step_s

    def add(
        self,
        part: pretty_midi.Instrument,
        step: float,
        dur: float,
        pitch: int,
        velocity: int,
        gate: float = 0.9,
        delay_s: float = 0.0,
    ) -> None:
        start = self.time(step) + delay_s
        end = start + max(0.04, (self.time(step + dur) - self.time(step)) * gate)
        v = int(np.clip(velocity + self.rng.integers(-4, 5), 1, 127))
        part.notes.append(pretty_midi.Note(velocity=v, pitch=int(pitch), start=start, end=end))


def compose(spec: PieceSpec, rng: np.random.Generator) -> pretty_midi.PrettyMIDI:
    """Compose one piece.

    Args:
        spec: labels, tempo (BPM) and minimum duration (s).
        rng: the only source of randomness (progression, kit, melody, velocities).
    Returns:
        a PrettyMIDI whose notes cover at least ``spec.seconds`` seconds.
    Raises:
        ConfigError: an unknown genre, mood, instrument or key.
    """
    for name, table in (("genre", GENRES), ("mood", MOODS), ("instrument", INSTRUMENTS)):
        if getattr(spec, name) not in table:
            raise ConfigError(f"unknown {name} {getattr(spec, name)!r}; expected one of {sorted(table)}")
    genre, mood = GENRES[spec.genre], MOODS[spec.mood]
    tonic, mode = parse_key(spec.key)
    score = _Score(spec.tempo_bpm, genre.swing, rng)
    bar = genre.meter * 4
    n_bars = int(math.ceil(spec.seconds / (bar * score.step_s))) + 1
    prog = genre.progressions[int(rng.integers(len(genre.progressions)))]
    chord_steps = max(1, int(round(genre.bars_per_chord * bar)))

    def degree_at(step: int) -> int:
        return prog[(step // chord_steps) % len(prog)]

    def chord_at(step: int) -> list[int]:
        return chord_offsets(mode, degree_at(step), genre.sevenths)

    ctx = _Ctx(score, genre, mood, tonic, mode, bar, n_bars, chord_steps, degree_at, chord_at)
    if genre.drums is not None:
        _drums(ctx, genre.kits[int(rng.integers(len(genre.kits)))])
    _bass(ctx)
    _texture(ctx)
    _melody(ctx, spec.instrument)
    pm = pretty_midi.PrettyMIDI(initial_tempo=float(spec.tempo_bpm))
    pm.instruments.extend(score.parts.values())
    return pm


@dataclass
class _Ctx:
    score: _Score
    genre: Genre
    mood: Mood
    tonic: int
    mode: str
    bar: int
    n_bars: int
    chord_steps: int
    degree_at: object
    chord_at: object

    def vel(self, step: int, offset: int = 0) -> int:
        strong = step % self.bar == 0 or (self.bar == 16 and step % self.bar == 8)
        return self.mood.velocity + offset + (self.mood.accent if strong else 0)


_DRUMS: dict[str, tuple[tuple[int, tuple[int, ...], int], ...]] = {
    # (GM drum note, steps in the bar, velocity offset)
    "rock": ((36, (0, 8, 10), 10), (38, (4, 12), 10), (42, (0, 2, 4, 6, 8, 10, 12, 14), -15)),
    "swing": ((51, (0, 4, 6, 8, 12, 14), -5), (44, (4, 12), -10), (36, (0, 4, 8, 12), -30)),
    "four_on_floor": (
        (36, (0, 4, 8, 12), 15),
        (39, (4, 12), 0),
        (46, (2, 6, 10, 14), -15),
        (42, tuple(range(16)), -35),
    ),
    "waltz": ((36, (0,), 0), (54, (4, 8), -10)),
    "bossa": ((36, (0, 8), 5), (36, (6, 14), -20), (70, (0, 4, 8, 12), -15), (70, (2, 6, 10, 14), -30)),
}


def _drums(ctx: _Ctx, kit: int) -> None:
    s = ctx.score
    part = s.part("drums", kit, is_drum=True)
    for b in range(ctx.n_bars):
        base = b * ctx.bar
        for note, steps, off in _DRUMS[ctx.genre.drums]:
            for st in steps:
                s.add(part, base + st, 1, note, ctx.vel(st, off), gate=1.0)
        if ctx.genre.drums == "rock" and b % 4 == 0:
            s.add(part, base, 4, 49, ctx.vel(0, 0), gate=1.0)
        if ctx.genre.drums == "bossa":  # 3-2 son clave on side stick over two bars
            for st in (0, 6, 12) if b % 2 == 0 else (4, 8):
                s.add(part, base + st, 1, 37, ctx.vel(st, -5), gate=1.0)


def _bass(ctx: _Ctx) -> None:
    s, g = ctx.score, ctx.genre
    part = s.part("bass", g.bass_program)
    centre = 40
    for b in range(ctx.n_bars):
        base = b * ctx.bar
        if g.bass == "eighths":
            for st in range(0, ctx.bar, 2):
                root = place(ctx.tonic + ctx.chord_at(base + st)[0], centre)
                s.add(part, base + st, 2, root, ctx.vel(st, 0), gate=0.85)
        elif g.bass == "walking":
            ch = ctx.chord_at(base)
            nxt = place(ctx.tonic + ctx.chord_at(base + ctx.bar)[0], centre)
            root = place(ctx.tonic + ch[0], centre)
            near = scale_pitches(ctx.tonic, ctx.mode, ctx.degree_at(base), nxt - 2, nxt + 2)
            approach = [p for p in near if p != nxt]  # diatonic neighbour of the next root
            line = [root, root + ch[1] - ch[0], root + ch[2] - ch[0], approach[int(s.rng.integers(len(approach)))]]
            for i, p in enumerate(line):
                s.add(part, base + 4 * i, 4, p, ctx.vel(4 * i, 0), gate=0.9)
        elif g.bass == "offbeat":
            for i, st in enumerate((2, 6, 10, 14)):
                root = place(ctx.tonic + ctx.chord_at(base + st)[0], centre)
                s.add(part, base + st, 2, root + (12 if i % 2 else 0), ctx.vel(st, 5), gate=0.6)
        elif g.bass == "oom":
            ch = ctx.chord_at(base)
            root = place(ctx.tonic + ch[0], centre)
            p = root if b % 2 == 0 else place(ctx.tonic + ch[2], centre - 5)
            s.add(part, base, 4, p, ctx.vel(0, 5), gate=0.9)
        elif g.bass == "half_notes":
            for st in range(0, ctx.bar, 8):
                root = place(ctx.tonic + ctx.chord_at(base + st)[0], 43)
                s.add(part, base + st, 8, root, ctx.vel(st, -5), gate=0.95)
        elif g.bass == "bossa":
            ch = ctx.chord_at(base)
            root = place(ctx.tonic + ch[0], centre)
            fifth = place(ctx.tonic + ch[2], centre)
            for st, dur, p in ((0, 6, root), (6, 2, fifth), (8, 6, fifth), (14, 2, root)):
                s.add(part, base + st, dur, p, ctx.vel(st, 0), gate=0.9)


def _texture(ctx: _Ctx) -> None:
    s, g, rng = ctx.score, ctx.genre, ctx.score.rng
    t = g.texture
    part = s.part("texture", g.texture_programs[0])
    for b in range(ctx.n_bars):
        base = b * ctx.bar
        if t == "power_chords":
            for st in range(0, ctx.bar, 2):
                root = place(ctx.tonic + ctx.chord_at(base + st)[0], 47)
                for p in (root, root + 7, root + 12):
                    s.add(part, base + st, 2, p, ctx.vel(st, -15), gate=0.8)
        elif t == "comping":
            ch = ctx.chord_at(base)
            pitches = voice(ctx.tonic, ch, 58)[1:]
            pattern = ((0, 6), (4, 14), (6, 12), (0, 10, 12))[int(rng.integers(4))]
            for st in pattern:
                for p in pitches:
                    s.add(part, base + st, 2, p, ctx.vel(st, -15), gate=0.8)
        elif t == "pad_arpeggio":
            if base % ctx.chord_steps == 0:
                for p in voice(ctx.tonic, ctx.chord_at(base), 60):
                    s.add(part, base, ctx.chord_steps, p, ctx.vel(0, -25), gate=1.0)
            arp = s.part("texture:arp", g.texture_programs[1])
            for st in range(ctx.bar):
                tones = voice(ctx.tonic, ctx.chord_at(base + st), 72)[:3]
                tones = tones + [tones[0] + 12]  # four tones: the pattern repeats every beat
                s.add(arp, base + st, 1, tones[st % len(tones)], ctx.vel(st, -25), gate=0.7)
        elif t == "strum":
            ch = ctx.chord_at(base)
            pitches = voice(ctx.tonic, ch, 52) + voice(ctx.tonic, ch, 64)
            for st in range(4, ctx.bar, 4):
                for i, p in enumerate(pitches):
                    s.add(part, base + st, 4, p, ctx.vel(st, -10), gate=0.8, delay_s=0.012 * i)
        elif t == "alberti":
            for st in range(0, ctx.bar, 2):
                lo, mid, hi = voice(ctx.tonic, ctx.chord_at(base + st), 53)[:3]
                p = (lo, hi, mid, hi)[(st // 2) % 4]
                s.add(part, base + st, 2, p, ctx.vel(st, -15), gate=0.9)
        elif t == "bossa_guitar":
            pitches = voice(ctx.tonic, ctx.chord_at(base), 55)
            for st in (0, 6, 12) if b % 2 == 0 else (4, 10):
                for p in pitches:
                    s.add(part, base + st, 2, p, ctx.vel(st, -15), gate=0.7)


def _rhythm(ctx: _Ctx, length: int) -> list[tuple[int, int, bool]]:
    """A rhythm of ``length`` steps: (start step, duration in steps, is_rest) items."""
    m, rng = ctx.mood, ctx.score.rng
    durs = [d for d in m.durations if not (ctx.genre.swing and d == 1)] or [2]
    w = np.array([m.weights[m.durations.index(d)] for d in durs])
    out, pos = [], 0
    while pos < length:
        d = int(rng.choice(durs, p=w / w.sum()))
        if pos % 2 and d > 1:
            d = 1 if not ctx.genre.swing else d
        d = min(d, length - pos)
        out.append((pos, d, pos > 0 and rng.random() < m.rest))
        pos += d
    return out


def _melody(ctx: _Ctx, instrument: str) -> None:
    s, rng, m = ctx.score, ctx.score.rng, ctx.mood
    inst = INSTRUMENTS[instrument]
    centre = int(np.clip(m.centre, inst.low + 9, inst.high - 9))
    low, high = max(inst.low, centre - 9), min(inst.high, centre + 9)
    part = s.part("lead", inst.program)
    motif_len = 2 * ctx.bar
    phrase = 4 * ctx.bar
    motif = _rhythm(ctx, motif_len)
    prev = place(ctx.tonic, centre)
    total = ctx.n_bars * ctx.bar
    for block in range(0, total, motif_len):
        rhythm = motif if (block == 0 or rng.random() < 0.65) else _rhythm(ctx, motif_len)
        for st, dur, rest in rhythm:
            step = block + st
            if rest:
                continue
            deg = ctx.degree_at(step)
            scale = scale_pitches(ctx.tonic, ctx.mode, deg, low, high)
            if step == 0 or (step + dur) % phrase == 0:  # start and phrase ends: the tonic
                tonics = [q for q in range(low, high + 1) if (q - ctx.tonic) % 12 == 0]
                p = min(tonics, key=lambda q: abs(q - prev))
            elif st % 4 == 0:
                tones = [
                    p for p in range(low, high + 1) if (p - ctx.tonic) % 12 in {o % 12 for o in ctx.chord_at(step)}
                ]
                tones.sort(key=lambda p: abs(p - prev))
                p = tones[int(rng.integers(min(2, len(tones))))]
            else:
                j = int(np.argmin([abs(q - prev) for q in scale]))
                j += int(rng.choice([-2, -1, 1, 2], p=[0.15, 0.35, 0.35, 0.15]))
                j = len(scale) - 1 - abs(len(scale) - 1 - abs(j))  # reflect into range
                p = scale[int(np.clip(j, 0, len(scale) - 1))]
            p = int(np.clip(p, low, high))
            s.add(part, step, dur, p, ctx.vel(step, 5), gate=m.gate)
            prev = p

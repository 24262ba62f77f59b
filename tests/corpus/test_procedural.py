"""Composition: determinism, constant diatonic key, beat-aligned drums, duration."""

from __future__ import annotations

import numpy as np
import pytest

from tunespace.corpus.harmony import chord_offsets, scale_offsets
from tunespace.corpus.procedural import PieceSpec, compose
from tunespace.corpus.styles import GENRES
from tunespace.errors import ConfigError
from tunespace.keys import parse_key


def _spec(genre, key="F# minor", tempo=97.0, mood="energetic"):
    return PieceSpec(genre, mood, key, tempo, GENRES[genre].palette[0], 12.0)


def _notes(pm, drums):
    return [n for i in pm.instruments if i.is_drum == drums for n in i.notes]


def test_harmony():
    assert chord_offsets("major", 0) == [0, 4, 7]
    assert chord_offsets("minor", 0) == [0, 3, 7]
    assert chord_offsets("minor", 4) == [7, 11, 14]  # major dominant in minor
    assert chord_offsets("major", 1, seventh=True) == [2, 5, 9, 12]
    assert scale_offsets("minor", 4)[-1] == 11 and scale_offsets("minor", 0)[-1] == 10


@pytest.mark.parametrize("genre", sorted(GENRES))
@pytest.mark.parametrize("key", ["F# minor", "A# major"])
def test_pitches_diatonic_and_duration(genre, key):
    pm = compose(_spec(genre, key), np.random.default_rng(1))
    tonic, mode = parse_key(key)
    allowed = {(tonic + o) % 12 for o in scale_offsets(mode)} | {(tonic + 11) % 12}
    pitched = _notes(pm, drums=False)
    assert pitched and {n.pitch % 12 for n in pitched} <= allowed
    assert max(n.end for n in pitched) >= 12.0
    # the tonic is the most or second most frequent pitch class
    hist = np.bincount([n.pitch % 12 for n in pitched], minlength=12)
    assert tonic in np.argsort(hist)[-2:]


@pytest.mark.parametrize("genre", [g for g in sorted(GENRES) if GENRES[g].drums])
def test_drums_on_the_grid(genre):
    tempo = 123.0
    pm = compose(_spec(genre, tempo=tempo), np.random.default_rng(2))
    beat = 60.0 / tempo
    onsets = np.array([n.start for n in _notes(pm, drums=True)])
    assert len(onsets) > 0
    on_beat = np.abs(onsets / beat - np.round(onsets / beat)) < 1e-6
    # kick/snare/hats put a hit on every beat of every bar
    beats_hit = set(np.round(onsets[on_beat] / beat).astype(int))
    assert set(range(int(12.0 / beat))) <= beats_hit


def test_deterministic_and_seed_dependent():
    a = compose(_spec("jazz"), np.random.default_rng(7))
    b = compose(_spec("jazz"), np.random.default_rng(7))
    c = compose(_spec("jazz"), np.random.default_rng(8))

    def key(pm):
        return [(n.start, n.end, n.pitch, n.velocity) for i in pm.instruments for n in i.notes]

    assert key(a) == key(b) != key(c)


def test_unknown_labels():
    with pytest.raises(ConfigError, match="genre"):
        compose(PieceSpec("polka", "calm", "C major", 100, "piano", 10), np.random.default_rng(0))
    with pytest.raises(ConfigError, match="mood"):
        compose(PieceSpec("rock", "angry", "C major", 100, "piano", 10), np.random.default_rng(0))

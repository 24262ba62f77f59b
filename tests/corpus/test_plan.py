"""Label drawing: vocabularies, balance and independence of genre from key and tempo."""

from __future__ import annotations

from collections import defaultdict

import pytest

from tunespace.corpus import plan_tracks
from tunespace.corpus.plan import CSV_COLUMNS, track_seed
from tunespace.corpus.styles import GENRES, INSTRUMENTS, MOODS
from tunespace.errors import UsageError
from tunespace.keys import KEY_NAMES, parse_key


@pytest.fixture(scope="module")
def plan():
    return plan_tracks(600, 30.0, seed=11, source="procedural")


def test_labels_in_vocabularies(plan):
    assert len(GENRES) >= 6 and len(MOODS) >= 4
    for s in plan:
        assert s.key in KEY_NAMES
        assert s.genre in GENRES and s.mood in MOODS
        assert s.instrument in GENRES[s.genre].palette and s.instrument in INSTRUMENTS
        lo, hi = GENRES[s.genre].tempo_bpm
        assert lo <= s.tempo_bpm <= hi and 60 <= s.tempo_bpm <= 180
        assert tuple(s.row()) == CSV_COLUMNS


def test_genre_independent_of_key_and_tempo(plan):
    keys, modes, moods = defaultdict(set), defaultdict(set), defaultdict(set)
    for s in plan:
        keys[s.genre].add(s.key)
        modes[s.genre].add(parse_key(s.key)[1])
        moods[s.genre].add(s.mood)
    for g in GENRES:
        assert len(keys[g]) >= 18, g  # 100 tracks per genre cover most of the 24 keys
        assert modes[g] == {"major", "minor"}
        assert moods[g] == set(MOODS)
    # every genre's tempo range overlaps every other's: tempo alone never identifies a genre
    ranges = [g.tempo_bpm for g in GENRES.values()]
    assert max(lo for lo, _ in ranges) < min(hi for _, hi in ranges)
    # lead instruments are shared between genres
    owners = defaultdict(set)
    for name, g in GENRES.items():
        for inst in g.palette:
            owners[inst].add(name)
    assert sum(len(v) >= 2 for v in owners.values()) >= 4


def test_balanced_genres_and_covered_keys(plan):
    counts = defaultdict(int)
    for s in plan:
        counts[s.genre] += 1
    assert set(counts.values()) == {100}
    assert {s.key for s in plan} == set(KEY_NAMES)


def test_plan_is_prefix_stable_and_seeded():
    a = plan_tracks(10, 20.0, seed=5, source="procedural")
    b = plan_tracks(4, 20.0, seed=5, source="procedural")
    c = plan_tracks(10, 20.0, seed=6, source="procedural")
    assert a[:4] == b
    assert [s.row() for s in a] != [s.row() for s in c]
    assert a[2].seed == track_seed(5, 2) != track_seed(6, 2)


@pytest.mark.parametrize("kw", [dict(tracks=0), dict(seconds=4.9), dict(source="midi")])
def test_bad_arguments(kw):
    args = dict(tracks=3, seconds=10.0, seed=0, source="procedural") | kw
    with pytest.raises(UsageError):
        plan_tracks(**args)

"""summarise(): counts and ranges that match tracks.csv."""

from __future__ import annotations

from collections import Counter

import pytest

from tunespace.corpus import read_tracks, summarise
from tunespace.errors import DatasetError


def test_summary_matches_rows(small_corpus):
    rows = read_tracks(small_corpus)
    text = summarise(small_corpus)
    assert "6 tracks" in text and "36 s" in text
    for genre, n in Counter(r["genre"] for r in rows).items():
        assert f"{genre} {n}" in text
    assert f"{len({r['key'] for r in rows})}/24 covered" in text
    tempi = [float(r["tempo_bpm"]) for r in rows]
    assert f"{min(tempi):g}-{max(tempi):g} BPM" in text
    for col in ("mood", "instrument"):
        for v in {r[col] for r in rows}:
            assert v in text


def test_not_a_corpus(tmp_path):
    with pytest.raises(DatasetError, match="tracks.csv"):
        summarise(tmp_path)

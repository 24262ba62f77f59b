"""The music21 source: real pieces, transposed, labelled, cached."""

from __future__ import annotations

import numpy as np
import pytest
import soundfile as sf

from tunespace.corpus import build_corpus, read_tracks
from tunespace.corpus.music21_source import M21_GENRES, M21_PALETTE, candidates, load_piece
from tunespace.keys import KEY_NAMES, parse_key


def test_candidates_by_dance_type():
    c = candidates()
    assert len(c["chorale"]) > 100 and len(c["reel"]) > 100 and len(c["jig"]) > 50
    assert all(p.endswith(".abc") for g in ("reel", "jig", "hornpipe") for p in c[g])


@pytest.mark.slow
def test_build_music21(tmp_path):
    cache = tmp_path / "cache"
    d = build_corpus(tmp_path / "m21", tracks=5, seconds=6.0, seed=2, source="music21", workers=1, cache_dir=cache)
    rows = read_tracks(d)
    assert {r["genre"] for r in rows} == set(M21_GENRES)
    for r in rows:
        assert r["key"] in KEY_NAMES and r["instrument"] in M21_PALETTE and r["piece"].endswith((".abc", ".mxl"))
        piece = load_piece(r["piece"], cache)
        assert parse_key(piece["key"])[1] == parse_key(r["key"])[1]  # transposition keeps the mode
        audio, sr = sf.read(d / r["path"], dtype="float32")
        assert sr == 16000 and len(audio) == 6 * 16000 and np.abs(audio).max() > 0.05
    assert len(list(cache.rglob("*.json"))) >= 5  # parsed pieces were cached

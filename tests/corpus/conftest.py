"""Shared corpus fixtures: small corpora built once per session."""

from __future__ import annotations

import pytest

from tunespace.corpus import build_corpus


@pytest.fixture(scope="session")
def small_corpus(tmp_path_factory):
    """6 procedural tracks of 6 s (one per genre), seed 3, built with 2 workers."""
    return build_corpus(tmp_path_factory.mktemp("small"), tracks=6, seconds=6.0, seed=3, workers=2)

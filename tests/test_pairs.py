"""Positive pairs: window geometry, distinct tracks per batch, determinism."""

from __future__ import annotations

import numpy as np
import pytest

from tunespace.errors import ConfigError
from tunespace.pairs import DistinctTrackBatches, PairDataset, collate_pairs, item_rng, sample_pair_windows


@pytest.mark.parametrize("duration", [3.3, 8.0, 30.0, 600.0])
def test_windows_fit_and_centres_are_close(duration):
    rng = np.random.default_rng(0)
    for _ in range(500):
        w = sample_pair_windows(duration, 3.3, 5.0, rng)
        for s in (w.start_a_s, w.start_b_s):
            assert 0.0 <= s <= duration - 3.3 + 1e-9
        assert abs(w.start_a_s - w.start_b_s) <= 5.0 + 1e-9


def test_centre_distances_cover_the_allowed_range():
    rng = np.random.default_rng(1)
    d = [abs((w := sample_pair_windows(60.0, 3.0, 5.0, rng)).start_a_s - w.start_b_s) for _ in range(2000)]
    assert max(d) > 4.5 and min(d) < 0.5


def test_too_short_track_is_refused():
    with pytest.raises(ConfigError, match="shorter than the pair window"):
        sample_pair_windows(2.0, 3.0, 5.0, np.random.default_rng(0))


def test_batches_hold_distinct_tracks_and_cover_epochs():
    s = DistinctTrackBatches(n_tracks=50, batch_size=8, seed=3, total_steps=30)
    batches = list(s)
    assert len(batches) == 30
    for b in batches:
        idx = [i for _, i in b]
        assert len(set(idx)) == len(idx) == 8
    # one epoch (6 full batches) never repeats a track
    first_epoch = [i for b in batches[:6] for _, i in b]
    assert len(set(first_epoch)) == 48
    # resumption: starting at step 10 yields the same batches as the tail of a full run
    tail = list(DistinctTrackBatches(50, 8, 3, 30, start_step=10))
    assert tail == batches[10:]


def test_ranks_split_one_global_batch():
    single = DistinctTrackBatches(40, 8, seed=1, total_steps=3)
    r0 = DistinctTrackBatches(40, 4, seed=1, total_steps=3, rank=0, world_size=2)
    r1 = DistinctTrackBatches(40, 4, seed=1, total_steps=3, rank=1, world_size=2)
    for step in range(3):
        assert single.batch_at(step) == r0.batch_at(step) + r1.batch_at(step)


def test_fewer_tracks_than_batch_is_refused():
    with pytest.raises(ConfigError, match="fewer than the global batch"):
        DistinctTrackBatches(n_tracks=5, batch_size=8, seed=0, total_steps=1)


def test_pair_dataset_is_deterministic_and_reports_bad_tracks(train_corpus, tmp_path):
    from tunespace.datasets import open_dataset

    ds = open_dataset(train_corpus)
    bad = tmp_path / "bad.flac"
    bad.write_bytes(b"not audio at all")
    tracks = list(ds.tracks[:3]) + [type(ds.tracks[0])(id="bad", path=bad, labels={})]
    ident = lambda a, b, rng: (a, b, {})  # noqa: E731
    pd = PairDataset(tracks, [10.0] * 4, 16000, 3.25, 5.0, ident, seed=4)
    a1 = pd[(0, 1)]
    a2 = pd[(0, 1)]
    assert np.array_equal(a1[0], a2[0]) and np.array_equal(a1[1], a2[1])
    assert a1[0].shape == (52000,)
    assert not np.array_equal(pd[(1, 1)][0], a1[0])  # another epoch draws other windows
    batch = collate_pairs([pd[(0, i)] for i in range(4)])
    assert batch["wave_a"].shape == (3, 52000)
    assert batch["errors"] and batch["errors"][0][0] == str(bad)
    assert item_rng(1, 2, 3).integers(1 << 30) == item_rng(1, 2, 3).integers(1 << 30)

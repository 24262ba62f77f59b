"""Positive pairs: window geometry, distinct tracks per batch, determinism."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from tunespace.errors import ConfigError
from tunespace.pairs import (
    DistinctTrackBatches,
    PairDataset,
    PowerPair,
    Unreadable,
    WavePair,
    collate_pairs,
    item_rng,
    sample_pair_windows,
)


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
    with pytest.raises(ConfigError, match="fewer than the 8 distinct tracks of the global batch"):
        DistinctTrackBatches(n_tracks=5, batch_size=8, seed=0, total_steps=1)


def test_several_pairs_per_track_lie_together_in_one_rank():
    single = DistinctTrackBatches(30, 12, seed=2, total_steps=8, per_track=3)
    assert single.steps_per_epoch == 7  # 30 tracks // 4 tracks per batch
    for step in range(8):
        batch = single.batch_at(step)
        assert len(batch) == 12
        tracks = [item[1] for item in batch]
        assert len(set(tracks)) == 4
        for k in range(4):  # each track three times in a row: copies 0 (plain), 1, 2
            group = batch[3 * k : 3 * k + 3]
            assert {item[1] for item in group} == {group[0][1]}
            assert [len(item) for item in group] == [2, 3, 3] and [group[1][2], group[2][2]] == [1, 2]
    # one pair per track: exactly the batches of the plain sampler
    assert DistinctTrackBatches(30, 6, seed=2, total_steps=3, per_track=1).batch_at(2) == DistinctTrackBatches(
        30, 6, seed=2, total_steps=3
    ).batch_at(2)
    # two ranks split one global batch without cutting a track's pairs apart
    r0 = DistinctTrackBatches(30, 6, seed=2, total_steps=8, rank=0, world_size=2, per_track=3)
    r1 = DistinctTrackBatches(30, 6, seed=2, total_steps=8, rank=1, world_size=2, per_track=3)
    for step in range(8):
        assert single.batch_at(step) == r0.batch_at(step) + r1.batch_at(step)
        assert not {i[1] for i in r0.batch_at(step)} & {i[1] for i in r1.batch_at(step)}


def test_the_draws_of_a_seed_stay_as_they_were():
    """Pinned values: the batches and pair windows of a seed (one pair per track, and the second
    copy with ``per_track``). A change here changes every trained model and ``make demo``'s
    numbers: make it on purpose, never as a side effect."""
    s = DistinctTrackBatches(n_tracks=20, batch_size=4, seed=7, total_steps=6)
    assert [s.batch_at(0), s.batch_at(5)] == [[(0, 16), (0, 5), (0, 15), (0, 8)], [(1, 11), (1, 7), (1, 14), (1, 12)]]
    two = DistinctTrackBatches(n_tracks=20, batch_size=4, seed=7, total_steps=6, per_track=2)
    assert two.batch_at(0) == [(0, 16), (0, 16, 1), (0, 5), (0, 5, 1)]  # copy 0 is the draw of per_track 1
    for copy, starts in ((0, (13.798183, 10.882297)), (1, (14.279764, 12.096169))):
        w = sample_pair_windows(30.0, 3.3, 5.0, item_rng(7, 1, 3, copy))
        assert (w.start_a_s, w.start_b_s) == pytest.approx(starts, abs=1e-6)


def test_per_track_must_divide_the_batch():
    with pytest.raises(ConfigError, match="not a multiple of pairs.per_track 3"):
        DistinctTrackBatches(n_tracks=50, batch_size=8, seed=0, total_steps=1, per_track=3)
    with pytest.raises(ConfigError, match="pairs.per_track must be at least 1"):
        DistinctTrackBatches(n_tracks=50, batch_size=8, seed=0, total_steps=1, per_track=0)
    with pytest.raises(ConfigError, match="fewer than the 4 distinct tracks"):
        DistinctTrackBatches(n_tracks=3, batch_size=8, seed=0, total_steps=1, per_track=2)


@pytest.fixture(scope="module")
def tracks_with_a_bad_one(train_corpus, tmp_path_factory):
    from tunespace.datasets import open_dataset

    ds = open_dataset(train_corpus)
    bad = tmp_path_factory.mktemp("bad") / "bad.flac"
    bad.write_bytes(b"not audio at all")
    return list(ds.tracks[:3]) + [type(ds.tracks[0])(id="bad", path=bad, labels={})]


def _ident(a, b, rng):
    return a, b, {"drawn": rng.integers(1 << 30)}


def test_pair_dataset_is_deterministic_and_reports_bad_tracks(tracks_with_a_bad_one):
    tracks = tracks_with_a_bad_one
    pd = PairDataset(tracks, [10.0] * 4, 16000, 3.25, 5.0, _ident, seed=4)
    a1 = pd[(0, 1)]
    a2 = pd[(0, 1)]
    assert isinstance(a1, WavePair) and a1.index == 1
    assert np.array_equal(a1.wave_a, a2.wave_a) and np.array_equal(a1.wave_b, a2.wave_b) and a1.params == a2.params
    assert a1.wave_a.shape == (52000,)
    assert not np.array_equal(pd[(1, 1)].wave_a, a1.wave_a)  # another epoch draws other windows
    assert np.array_equal(pd[1].wave_a, a1.wave_a)  # a plain index is epoch 0
    assert np.array_equal(pd[(0, 1, 0)].wave_a, a1.wave_a)  # copy 0 is the plain pair
    again = pd[(0, 1, 1)]  # a further pair of the same track in the same batch: other windows
    assert again.index == 1 and not np.array_equal(again.wave_a, a1.wave_a)
    assert pd[(0, 3)] == Unreadable(str(tracks[3].path), pd[(0, 3)].reason) and pd[(0, 3)].reason
    batch = collate_pairs([pd[(0, i)] for i in range(4)] + [None])
    assert batch["wave_a"].shape == (3, 52000) and batch["wave_a"].dtype == torch.float32
    assert batch["index"].tolist() == [0, 1, 2] and len(batch["params"]) == 3
    assert batch["errors"] == [(str(tracks[3].path), pd[(0, 3)].reason)]
    assert item_rng(1, 2, 3).integers(1 << 30) == item_rng(1, 2, 3).integers(1 << 30)
    empty = collate_pairs([pd[(0, 3)]])
    assert empty["index"] is None and empty["wave_a"] is None and len(empty["errors"]) == 1


def test_every_window_source_gives_the_same_pairs(tracks_with_a_bad_one):
    from tunespace.caches import AudioCache, SpectrogramCache
    from tunespace.features import LogMel

    tracks = tracks_with_a_bad_one
    cache = AudioCache(tracks, 16000)
    assert list(cache.errors) == [str(tracks[3].path)]
    disk = PairDataset(tracks, [10.0] * 4, 16000, 3.2, 5.0, _ident, seed=4)
    mem = PairDataset(tracks, [10.0] * 4, 16000, 3.2, 5.0, _ident, seed=4, cache=cache)
    for i in range(3):
        d, m = disk[(2, i)], mem[(2, i)]
        assert d.params == m.params
        np.testing.assert_allclose(d.wave_a, m.wave_a, atol=2e-3)  # decoding a window vs the whole file
        np.testing.assert_allclose(d.wave_b, m.wave_b, atol=2e-3)
    assert isinstance(mem[(0, 3)], Unreadable) and mem[(0, 3)].reason == cache.errors[str(tracks[3].path)]

    fe = LogMel()
    spec = PairDataset(
        tracks,
        [10.0] * 4,
        16000,
        3.2,
        5.0,
        _ident,
        seed=4,
        spectrograms=SpectrogramCache(cache, fe.power, 160),
        window_frames=fe.frames(51200),
    )
    p = spec[(2, 1)]
    assert isinstance(p, PowerPair) and p.power_a.shape == (1025, 321) and p.index == 1
    # the cached track's frames are those of the window itself (start rounded to the hop; inner frames)
    start = round(sample_pair_windows(10.0, 3.2, 5.0, item_rng(4, 2, 1)).start_a_s * 100) * 160
    w = torch.from_numpy(cache.audio[tracks[1].id][start : start + 51200].copy())
    torch.testing.assert_close(
        p.power_a[:, 10:-10], fe.power(w)[:, 10:-10], rtol=1e-3, atol=1e-4 * float(p.power_a.max())
    )
    batch = collate_pairs([spec[(2, i)] for i in range(4)])
    assert batch["power_a"].shape == (3, 1025, 321) and batch["wave_a"] is None and len(batch["errors"]) == 1
    assert torch.equal(batch["power_a"][1], p.power_a) and batch["power_a"].dtype == torch.float32
    # with buffers, the next batch of the same shape is written into the same tensors
    buffers: dict = {}
    first = collate_pairs([spec[(2, i)] for i in range(3)], buffers)
    assert torch.equal(first["power_b"], batch["power_b"])
    ptr = first["power_a"].data_ptr()
    second = collate_pairs([spec[(5, i)] for i in range(3)], buffers)
    assert second["power_a"].data_ptr() == ptr and first["power_a"] is second["power_a"]
    assert torch.equal(second["power_a"], collate_pairs([spec[(5, i)] for i in range(3)])["power_a"])
    assert collate_pairs([spec[(5, i)] for i in range(2)], buffers)["power_a"].data_ptr() != ptr  # another shape
    with pytest.raises(ConfigError, match="window_frames"):
        PairDataset(tracks, [10.0] * 4, 16000, 3.2, 5.0, _ident, spectrograms=spec.source)


def test_cache_names_still_import_from_pairs():
    import tunespace.caches as caches
    import tunespace.pairs as pairs

    for name in ("AudioCache", "SpectrogramCache", "estimate_cache_bytes", "estimate_spectrogram_bytes"):
        assert getattr(pairs, name) is getattr(caches, name)
    assert caches.estimate_cache_bytes([1.0, 2.0], 16000) == 3 * 16000 * 4
    assert caches.estimate_spectrogram_bytes([1.0], 16000, 160, 1025) == 101 * 1025 * 4


@pytest.fixture(scope="module")
def half_silent_tracks(tmp_path_factory):
    """Two 10 s tracks: noise in the first 4 s then digital silence, and silence throughout."""
    from tunespace.audio import save
    from tunespace.datasets.base import Track

    d = tmp_path_factory.mktemp("silent")
    x = np.zeros(160000, np.float32)
    x[:64000] = 0.1 * np.random.default_rng(0).standard_normal(64000).astype(np.float32)
    save(d / "half.wav", x, 16000)
    save(d / "quiet.wav", np.zeros(160000, np.float32), 16000)
    return [Track(id="half", path=d / "half.wav", labels={}), Track(id="quiet", path=d / "quiet.wav", labels={})]


def _sources(tracks):
    from tunespace.caches import AudioCache, SpectrogramCache
    from tunespace.features import LogMel

    fe = LogMel()
    cache = AudioCache(tracks, 16000)
    kw = {"seed": 3, "min_rms_db": -60.0}
    args = (tracks, [10.0, 10.0], 16000, 3.0, 5.0, _ident)
    return {
        "disk": PairDataset(*args, **kw),
        "audio": PairDataset(*args, cache=cache, **kw),
        "spectrograms": PairDataset(
            *args, spectrograms=SpectrogramCache(cache, fe.power, 160), window_frames=fe.frames(48000), **kw
        ),
    }


@pytest.mark.parametrize("source", ["disk", "audio", "spectrograms"])
def test_silent_excerpts_are_drawn_again(half_silent_tracks, source):
    from tunespace.caches import rms_db

    pd = _sources(half_silent_tracks)[source]
    quiet_first = 0
    for epoch in range(40):
        w = sample_pair_windows(10.0, 3.0, 5.0, item_rng(3, epoch, 0))
        quiet_first += max(w.start_a_s, w.start_b_s) > 3.9  # a window starting after 3.9 s holds < 0.1 s of noise
        p = pd[(epoch, 0)]
        assert not isinstance(p, Unreadable)
        if isinstance(p, WavePair):
            assert rms_db(p.wave_a) >= -60 and rms_db(p.wave_b) >= -60
        else:  # the frames of a silent window are (up to the STFT's edge) all zero
            assert float(p.power_a[:, 10:-10].sum()) > 0 and float(p.power_b[:, 10:-10].sum()) > 0
    assert quiet_first >= 5  # the check had something to do
    gone = pd[(0, 1)]
    assert isinstance(gone, Unreadable) and gone.reason.startswith("silent: no pair of excerpts above -60 dBFS")


def test_a_loud_first_draw_is_kept_and_no_threshold_keeps_silence(half_silent_tracks):
    pd = _sources(half_silent_tracks)["audio"]
    off = PairDataset(half_silent_tracks, [10.0, 10.0], 16000, 3.0, 5.0, _ident, seed=3, cache=pd.source)
    for epoch in range(40):
        w = sample_pair_windows(10.0, 3.0, 5.0, item_rng(3, epoch, 0))
        if max(w.start_a_s, w.start_b_s) < 1.0:  # both windows mostly noise: the check changes nothing
            a, b = pd[(epoch, 0)], off[(epoch, 0)]
            assert np.array_equal(a.wave_a, b.wave_a) and a.params == b.params
    assert isinstance(off[(0, 1)], WavePair)  # without a threshold a silent track still gives pairs

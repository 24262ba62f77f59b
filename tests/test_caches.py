"""The spectrogram cache: one block for every track, the same values as one allocation per track."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from tunespace.caches import AudioCache, SpectrogramCache
from tunespace.features import LogMel
from tunespace.pairs import stack_float


class _Audio(AudioCache):
    def __init__(self, audio: dict[str, np.ndarray]) -> None:  # decoded audio given directly
        self.sample_rate, self.audio, self.errors = 16000, audio, {}


def test_spectrograms_share_one_block_and_equal_the_per_track_ones():
    rng = np.random.default_rng(0)
    audio = _Audio({f"t{i}": rng.standard_normal(16000 * (2 + i) + 37 * i).astype(np.float32) for i in range(4)})
    fe = LogMel()
    per_track = SpectrogramCache(audio, fe.power, 160)
    block = SpectrogramCache(audio, fe.power, 160, frames=fe.frames)
    storages = {v.untyped_storage().data_ptr() for v in block.spec.values()}
    assert len(storages) == 1  # one allocation
    assert len({v.untyped_storage().data_ptr() for v in per_track.spec.values()}) == 4
    for tid, x in audio.audio.items():
        assert block.spec[tid].shape == (1025, fe.frames(len(x)))
        torch.testing.assert_close(block.spec[tid], per_track.spec[tid], rtol=0, atol=0)


def test_a_wrong_frame_count_falls_back_to_its_own_allocation():
    audio = _Audio({"a": np.zeros(16000, np.float32), "b": np.ones(8000, np.float32)})
    fe = LogMel()
    cache = SpectrogramCache(audio, fe.power, 160, frames=lambda n: fe.frames(n) + 1)
    assert len({v.untyped_storage().data_ptr() for v in cache.spec.values()}) == 2  # no block
    for tid, x in audio.audio.items():
        torch.testing.assert_close(cache.spec[tid], fe.power(torch.from_numpy(x)[None])[0])


def test_window_levels_match_the_audio():
    from tunespace.caches import rms_db

    x = np.zeros(16000 * 4, np.float32)
    x[16000:32000] = 0.5  # -6 dBFS for one second
    audio = _Audio({"t": x})
    fe = LogMel()
    cache = SpectrogramCache(audio, fe.power, 160)
    track = type("T", (), {"id": "t", "path": "t.wav"})()
    assert cache.rms_db(track, 1.0, 100) == pytest.approx(rms_db(x[16000:32000]), abs=1e-6)
    assert cache.rms_db(track, 2.5, 100) == float("-inf") == rms_db(x[40000:56000])
    assert cache.rms_db(track, 0.0, 200) == pytest.approx(20 * np.log10(0.5) - 10 * np.log10(2), abs=1e-6)
    assert rms_db(np.zeros(0, np.float32)) == float("-inf")


def test_a_bfloat16_cache_takes_half_the_memory_and_gives_float32_batches_within_0_4_percent(train_corpus, tmp_path):
    rng = np.random.default_rng(1)
    audio = _Audio({f"t{i}": 0.1 * rng.standard_normal(16000 * 3).astype(np.float32) for i in range(3)})
    fe = LogMel()
    full = SpectrogramCache(audio, fe.power, 160, frames=fe.frames)
    half = SpectrogramCache(audio, fe.power, 160, frames=fe.frames, dtype=torch.bfloat16)
    nbytes = {c.dtype: next(iter(c.spec.values())).untyped_storage().nbytes() for c in (full, half)}
    assert nbytes[torch.bfloat16] * 2 == nbytes[torch.float32]
    track = type("T", (), {"id": "t1", "path": "t1.wav"})()
    a, b = full.window(track, 0.5, 200), half.window(track, 0.5, 200)
    assert (a.dtype, b.dtype) == (torch.float32, torch.bfloat16) and a.shape == b.shape == (1025, 200)
    batch = stack_float([b, half.window(track, 1.0, 200)])  # what collate_pairs gives the trainer
    assert batch.dtype == torch.float32 and batch.shape == (2, 1025, 200)
    torch.testing.assert_close(batch[0], a, rtol=2**-8, atol=0)

    from tests.conftest import tiny_overrides

    from tunespace.train import resolve_config, train

    over = [*tiny_overrides(steps=2), "data.cache_dtype=bfloat16", "data.cache_spectrograms=true"]
    res = train(tmp_path / "run", resolve_config(None, over, **{"data.path": str(train_corpus)}))
    assert res.steps == 2 and np.isfinite(res.final_loss)

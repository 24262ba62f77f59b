"""The HEAR 2021 API: the checks hearvalidator makes (it needs TensorFlow, not installed here),
plus timestamps and batch independence."""

from __future__ import annotations

import pytest
import torch

from tunespace import hear


@pytest.fixture(scope="module")
def model(tiny_run):
    return hear.load_model(str(tiny_run))


def test_load_model_attributes(model):
    assert isinstance(model, torch.nn.Module)
    assert model.sample_rate in (16000, 22050, 32000, 44100, 48000)
    assert isinstance(model.scene_embedding_size, int) and isinstance(model.timestamp_embedding_size, int)
    assert model.scene_embedding_size == model.timestamp_embedding_size == 16
    assert isinstance(hear.load_model(), hear.HearModel)  # no weights: a random encoder


def test_timestamp_embeddings(model):
    audio = torch.rand((4, int(2.0 * model.sample_rate)), generator=torch.Generator().manual_seed(0)) * 2 - 1
    emb, ts = hear.get_timestamp_embeddings(audio, model)
    assert emb.dtype == torch.float32 and ts.dtype == torch.float32
    assert emb.shape[0] == 4 and emb.shape[:2] == ts.shape and emb.shape[2] == model.timestamp_embedding_size
    diff = torch.diff(ts)
    assert torch.all(torch.abs(diff - diff.mean()) < 1e-3)  # regular
    assert float(diff.mean()) == pytest.approx(50.0, abs=1e-3)  # milliseconds, 50 ms apart
    assert float(ts[0, 0]) == 0.0 and float(ts[0, -1]) == pytest.approx(2000.0)
    # batch independence: each sound alone gives the same rows
    alone, _ = hear.get_timestamp_embeddings(audio[2:3], model)
    torch.testing.assert_close(alone[0], emb[2], rtol=1e-5, atol=1e-5)


def test_scene_embeddings(model):
    audio = torch.rand((3, int(3.74 * model.sample_rate)), generator=torch.Generator().manual_seed(1)) * 2 - 1
    emb = hear.get_scene_embeddings(audio, model)
    assert emb.dtype == torch.float32 and emb.shape == (3, model.scene_embedding_size)
    torch.testing.assert_close(emb[1], torch.from_numpy(model.model.embed(audio[1].numpy(), model.sample_rate)))
    torch.testing.assert_close(hear.get_scene_embeddings(audio[1:2], model)[0], emb[1], rtol=1e-5, atol=1e-5)
    assert not torch.allclose(emb[0], emb[1])


def test_bad_input(model):
    from tunespace.errors import UsageError

    with pytest.raises(UsageError, match="n_sounds"):
        hear.get_scene_embeddings(torch.zeros(16000), model)
    with pytest.raises(UsageError, match="timestamp_hop_seconds"):
        hear.HearModel(model.model, 0.0)

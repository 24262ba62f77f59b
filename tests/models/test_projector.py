import pytest
import torch
from torch import nn

from tunespace.errors import ConfigError
from tunespace.models import ContrastiveModel, Projector, build_encoder


def _linears(p):
    return [m for m in p.net if isinstance(m, nn.Linear)]


def test_default_is_mule_three_by_4096():
    p = Projector(1728)
    lin = _linears(p)
    assert [(m.in_features, m.out_features) for m in lin] == [(1728, 4096), (4096, 4096), (4096, 4096)]
    assert sum(isinstance(m, nn.ReLU) for m in p.net) == 2
    assert not any(isinstance(m, nn.BatchNorm1d) for m in p.net)


def test_configurable_depth_width_bn_and_final_activation():
    p = Projector(8, hidden_dims=(16,), out_dim=4, batch_norm=True, final_activation=True)
    assert [(m.in_features, m.out_features) for m in _linears(p)] == [(8, 16), (16, 4)]
    assert sum(isinstance(m, nn.BatchNorm1d) for m in p.net) == 1
    z = p(torch.randn(5, 8))
    assert z.shape == (5, 4) and (z >= 0).all()
    linear = Projector(8, hidden_dims=(), out_dim=3)
    assert len(linear.net) == 1
    with pytest.raises(ConfigError):
        Projector(8, hidden_dims=(0,), out_dim=3)


def test_contrastive_model_returns_embedding_and_projection():
    torch.manual_seed(0)
    enc = build_encoder("small", width=16, depth=1, embedding_dim=12)
    model = ContrastiveModel(enc, Projector(12, hidden_dims=(20,), out_dim=6))
    x = torch.randn(3, 1, 96, 40)
    h, z = model(x)
    assert h.shape == (3, 12) and z.shape == (3, 6)
    assert torch.allclose(model.embed(x), h)
    with pytest.raises(ConfigError, match="in_dim"):
        ContrastiveModel(enc, Projector(13, hidden_dims=(), out_dim=2))

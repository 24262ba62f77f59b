import math

import pytest
import torch

from tunespace.models import build_encoder
from tunespace.models.nf_layers import GELU_GAMMA, NFBlock, ScaledGELU, StochasticDepth, WSConv2d

MULE_PARAMS = 62_000_000


@pytest.fixture(scope="session")
def sfnfnet():
    torch.manual_seed(0)
    return build_encoder("sfnfnet_f0").eval()


@pytest.mark.slow
def test_output_shape_1728(sfnfnet):
    x = torch.randn(2, 1, 96, 64)
    with torch.no_grad():
        y = sfnfnet(x)
    assert sfnfnet.embedding_dim == 1728
    assert y.shape == (2, 1728)
    assert torch.isfinite(y).all() and y.abs().sum() > 0


def test_parameter_count_within_5_percent_of_62M(sfnfnet):
    n = sfnfnet.num_parameters()
    assert abs(n - MULE_PARAMS) / MULE_PARAMS < 0.05, n


def test_paths_widths_and_fusions(sfnfnet):
    assert sfnfnet.slow.out_channels == 1536 and sfnfnet.fast.out_channels == 192
    assert [len(s) for s in sfnfnet.slow.stages] == [1, 2, 6, 3]
    assert [len(s) for s in sfnfnet.fast.stages] == [1, 2, 6, 3]
    assert [f.conv.out_channels for f in sfnfnet.fusions] == [64, 256, 512, 1024]
    # first slow block of each stage takes the fused channels
    assert [s[0].conv0.in_channels for s in sfnfnet.slow.stages] == [192, 512, 1024, 2560]


def test_beta_follows_expected_std(sfnfnet):
    alpha = 0.2
    betas = [b.beta for s in sfnfnet.slow.stages for b in s]
    expected, std = [], 1.0
    for depth in [1, 2, 6, 3]:
        for i in range(depth):
            expected.append(1.0 / std)
            if i == 0:
                std = 1.0
            std = math.sqrt(std**2 + alpha**2)
    assert betas == pytest.approx(expected)
    assert betas[0] == 1.0 and betas[2] == pytest.approx(1 / math.sqrt(1 + alpha**2))


def test_ws_conv_standardises_weights():
    torch.manual_seed(0)
    conv = WSConv2d(4, 6, 3)
    with torch.no_grad():
        conv.weight.mul_(7.0).add_(3.0)
        conv.gain.fill_(2.0)
    w = conv.standardized_weight()
    fan_in = 4 * 9
    assert torch.allclose(w.mean(dim=(1, 2, 3)), torch.zeros(6), atol=1e-5)
    assert torch.allclose(w.var(dim=(1, 2, 3), unbiased=False) * fan_in, torch.full((6,), 4.0), atol=1e-3)


def test_scaled_gelu_preserves_unit_variance():
    g = torch.Generator().manual_seed(0)
    x = torch.randn(200_000, generator=g)
    y = ScaledGELU()(x)
    assert torch.allclose(y, torch.nn.functional.gelu(x) * GELU_GAMMA)
    assert y.var().item() == pytest.approx(1.0, abs=0.02)  # NFNet: unit variance


def test_skip_init_block_is_shortcut_at_init():
    torch.manual_seed(0)
    block = NFBlock(32, 32, group_size=8).eval()
    x = torch.randn(2, 32, 6, 10)
    assert torch.equal(block(x), x)  # identity shortcut, residual gain 0
    down = NFBlock(32, 64, stride=(2, 2), group_size=8).eval()
    assert down(x).shape == (2, 64, 3, 5)
    with torch.no_grad():
        block.skip_gain.fill_(1.0)
    assert not torch.allclose(block(x), x)


def test_stochastic_depth_train_and_eval():
    sd = StochasticDepth(0.5)
    x = torch.ones(4000, 3)
    sd.eval()
    assert torch.equal(sd(x), x)
    sd.train()
    torch.manual_seed(0)
    y = sd(x)
    kept = (y[:, 0] > 0).float().mean().item()
    assert 0.45 < kept < 0.55
    assert set(torch.unique(y).tolist()) <= {0.0, 2.0}
    assert (y == y[:, :1]).all()  # whole examples are dropped

import math

import pytest
import torch

from tunespace.errors import ConfigError, UsageError
from tunespace.losses import alignment, uniformity


def test_alignment_extremes_and_formula():
    g = torch.Generator().manual_seed(0)
    z = torch.randn(10, 6, generator=g)
    assert alignment(z, 2.5 * z).item() == pytest.approx(0.0, abs=1e-6)
    assert alignment(z, -z).item() == pytest.approx(4.0, abs=1e-5)  # ||a - (-a)||^2 = 4
    w = torch.randn(10, 6, generator=g)
    a = z / z.norm(dim=1, keepdim=True)
    b = w / w.norm(dim=1, keepdim=True)
    expected = sum(((a[i] - b[i]) ** 2).sum().sqrt().item() ** 3 for i in range(10)) / 10
    assert alignment(z, w, alpha=3).item() == pytest.approx(expected, rel=1e-5)


def test_uniformity_matches_pairwise_loop():
    g = torch.Generator().manual_seed(1)
    z = torch.randn(9, 5, generator=g, dtype=torch.float64)
    u = z / z.norm(dim=1, keepdim=True)
    vals = [math.exp(-2.0 * ((u[i] - u[j]) ** 2).sum().item()) for i in range(9) for j in range(i + 1, 9)]
    assert uniformity(z).item() == pytest.approx(math.log(sum(vals) / len(vals)), rel=1e-10)


def test_uniformity_orders_collapsed_vs_spread():
    g = torch.Generator().manual_seed(2)
    spread = torch.randn(200, 8, generator=g)
    collapsed = torch.ones(200, 8) + 1e-3 * torch.randn(200, 8, generator=g)
    assert uniformity(collapsed).item() == pytest.approx(0.0, abs=1e-3)
    assert uniformity(spread).item() < -1.0


def test_bad_arguments():
    with pytest.raises(ConfigError):
        uniformity(torch.randn(4, 3), t=0)
    with pytest.raises(ConfigError):
        alignment(torch.randn(4, 3), torch.randn(4, 3), alpha=-1)
    with pytest.raises(UsageError):
        uniformity(torch.randn(1, 3))
    with pytest.raises(UsageError):
        alignment(torch.randn(4, 3), torch.randn(5, 3))

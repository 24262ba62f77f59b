import math

import pytest
import torch

from tunespace.errors import ConfigError, UsageError
from tunespace.losses import NTXentLoss, nt_xent


def naive_nt_xent(z_a, z_b, t):
    """SimCLR NT-Xent written out with python loops (reference)."""
    n = z_a.shape[0]
    views = [v / torch.sqrt((v * v).sum()) for v in list(z_a) + list(z_b)]
    total = 0.0
    for u in range(2 * n):
        p = u + n if u < n else u - n
        num = torch.exp((views[u] * views[p]).sum() / t)
        den = sum(torch.exp((views[u] * views[v]).sum() / t) for v in range(2 * n) if v != u)
        total = total - torch.log(num / den)
    return total / (2 * n)


def naive_multi_positive(z_a, z_b, labels, t):
    """SupCon's L_out over the 2N views, every same-label view a positive (python loops)."""
    n = z_a.shape[0]
    views = [v / torch.sqrt((v * v).sum()) for v in list(z_a) + list(z_b)]
    label = [int(x) for x in labels] * 2
    total = 0.0
    for u in range(2 * n):
        den = sum(torch.exp((views[u] * views[v]).sum() / t) for v in range(2 * n) if v != u)
        positives = [p for p in range(2 * n) if p != u and label[p] == label[u]]
        total = total - sum(torch.log(torch.exp((views[u] * views[p]).sum() / t) / den) for p in positives) / len(
            positives
        )
    return total / (2 * n)


def _pair(n, d, seed, dtype=torch.float64):
    g = torch.Generator().manual_seed(seed)
    z_a = torch.randn(n, d, generator=g, dtype=dtype)
    z_b = z_a + 0.7 * torch.randn(n, d, generator=g, dtype=dtype)
    return z_a.requires_grad_(), z_b.requires_grad_()


@pytest.mark.parametrize("n", [1, 2, 3, 7, 16])
@pytest.mark.parametrize("t", [0.1, 0.5])
def test_value_and_gradient_match_naive(n, t):
    z_a, z_b = _pair(n, 5, seed=n)
    ours = nt_xent(z_a, z_b, temperature=t)
    ref = naive_nt_xent(z_a, z_b, t)
    assert ours.item() == pytest.approx(ref.item(), rel=1e-9, abs=1e-12)
    g_ours = torch.autograd.grad(ours, (z_a, z_b))
    g_ref = torch.autograd.grad(ref, (z_a, z_b))
    for a, b in zip(g_ours, g_ref):
        assert torch.allclose(a, b, atol=1e-10)


def test_single_pair_is_zero_and_finite():
    z_a, z_b = _pair(1, 4, seed=0, dtype=torch.float32)
    loss = nt_xent(z_a, z_b)
    loss.backward()
    assert loss.item() == 0.0
    assert torch.isfinite(z_a.grad).all()


def test_module_matches_function_and_scale_invariance():
    z_a, z_b = _pair(6, 8, seed=1)
    mod = NTXentLoss(temperature=0.2)
    assert mod(z_a, z_b).item() == pytest.approx(nt_xent(z_a, z_b, 0.2).item())
    assert nt_xent(3.0 * z_a, 0.1 * z_b, 0.2).item() == pytest.approx(nt_xent(z_a, z_b, 0.2).item())
    # symmetric in the two views
    assert nt_xent(z_b, z_a, 0.2).item() == pytest.approx(nt_xent(z_a, z_b, 0.2).item())


def test_temperature_effect():
    n = 8
    z_a, z_b = _pair(n, 16, seed=2)
    losses = [nt_xent(z_a, z_b, t).item() for t in (0.05, 0.1, 0.5, 1.0)]
    # positives are more similar than negatives here: sharper softmax -> lower loss
    assert losses == sorted(losses)
    # very high temperature: uniform softmax over 2N - 1 candidates
    assert nt_xent(z_a, z_b, 1e6).item() == pytest.approx(math.log(2 * n - 1), rel=1e-5)


def test_numerically_stable_at_low_temperature():
    z_a, z_b = _pair(32, 64, seed=3, dtype=torch.float32)
    loss = nt_xent(z_a, z_b, temperature=1e-3)
    loss.backward()
    assert torch.isfinite(loss) and torch.isfinite(z_a.grad).all() and torch.isfinite(z_b.grad).all()


@pytest.mark.parametrize("t", [0.0, -0.1, float("nan")])
def test_bad_temperature_is_config_error(t):
    z_a, z_b = _pair(2, 3, seed=0)
    with pytest.raises(ConfigError, match="temperature"):
        nt_xent(z_a, z_b, t)
    with pytest.raises(ConfigError, match="temperature"):
        NTXentLoss(t)


def test_bad_shapes_are_usage_errors():
    with pytest.raises(UsageError):
        nt_xent(torch.randn(3, 4), torch.randn(2, 4))
    with pytest.raises(UsageError):
        nt_xent(torch.randn(0, 4), torch.randn(0, 4))
    with pytest.raises(UsageError):
        nt_xent(torch.randn(3), torch.randn(3))


@pytest.mark.parametrize("labels", [[0, 0, 1, 1, 2, 2], [5, 5, 5, 1, 1, 9], [3, 3, 3, 3, 3, 3]])
def test_multi_positive_matches_naive(labels):
    z_a, z_b = _pair(6, 5, seed=11)
    labels = torch.tensor(labels)
    ours = nt_xent(z_a, z_b, temperature=0.2, labels=labels)
    ref = naive_multi_positive(z_a, z_b, labels, 0.2)
    assert ours.item() == pytest.approx(ref.item(), rel=1e-9)
    for a, b in zip(torch.autograd.grad(ours, (z_a, z_b)), torch.autograd.grad(ref, (z_a, z_b))):
        assert torch.allclose(a, b, atol=1e-10)


def test_distinct_labels_are_plain_nt_xent():
    z_a, z_b = _pair(7, 5, seed=12)
    plain = nt_xent(z_a, z_b, 0.1)
    labelled = nt_xent(z_a, z_b, 0.1, labels=torch.tensor([9, 3, 4, 0, 1, 2, 7]))
    assert labelled.item() == pytest.approx(plain.item(), rel=1e-12)
    for a, b in zip(torch.autograd.grad(plain, (z_a, z_b)), torch.autograd.grad(labelled, (z_a, z_b))):
        assert torch.allclose(a, b, atol=1e-12)


def test_same_track_views_pulled_together_lower_the_loss():
    # two pairs of one track: the loss falls when the two pairs' embeddings move together
    z_a, z_b = _pair(4, 8, seed=13)
    labels = torch.tensor([0, 0, 1, 2])
    apart = nt_xent(z_a, z_b, 0.1, labels=labels).item()
    with torch.no_grad():
        z_a[1], z_b[1] = z_a[0], z_b[0]
    assert nt_xent(z_a, z_b, 0.1, labels=labels).item() < apart


def test_module_by_track():
    z_a, z_b = _pair(4, 3, seed=14)
    tracks = torch.tensor([0, 0, 1, 1])
    assert NTXentLoss(0.2)(z_a, z_b, tracks).item() == pytest.approx(nt_xent(z_a, z_b, 0.2).item())
    by_track = NTXentLoss(0.2, by_track=True)
    assert by_track(z_a, z_b, tracks).item() == pytest.approx(nt_xent(z_a, z_b, 0.2, labels=tracks).item())
    assert "by_track=True" in repr(by_track)
    with pytest.raises(UsageError, match="track indices"):
        by_track(z_a, z_b)
    with pytest.raises(UsageError, match="labels"):
        nt_xent(z_a, z_b, 0.2, labels=torch.tensor([0, 1]))

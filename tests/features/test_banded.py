"""The banded filter-bank product equals the dense one and reads only the columns it must."""

from __future__ import annotations

import pytest
import torch

from tunespace.features import FrontEnd
from tunespace.features.banded import banded_matmul, row_groups
from tunespace.features.logmel import LogMel


@pytest.fixture(scope="module")
def logmel():
    return LogMel(FrontEnd(chroma_bins=12))


def _close(a: torch.Tensor, b: torch.Tensor) -> None:
    assert a.shape == b.shape
    assert torch.allclose(a, b, rtol=1e-5, atol=1e-6 * float(b.abs().max())), float((a - b).abs().max())


def test_row_groups_cover_every_row_and_every_non_zero_column():
    w = torch.zeros(10, 50)
    w[0, 3:6] = 1
    w[1, 5:9] = 1
    w[4, 40:45] = 1  # rows 2, 3 are all zero, row 4 far away
    w[9, 0] = 1
    groups = row_groups(w != 0, rows=2)
    assert [(r0, r1) for r0, r1, _, _ in groups] == [(0, 2), (2, 4), (4, 6), (6, 8), (8, 10)]
    assert groups[0][2:] == (3, 9) and groups[1][2:] == (0, 0) and groups[2][2:] == (40, 45)
    assert groups[3][2:] == (0, 0) and groups[4][2:] == (0, 1)
    for r0, r1, c0, c1 in groups:
        outside = torch.ones(50, dtype=torch.bool)
        outside[c0:c1] = False
        assert not (w[r0:r1, outside] != 0).any()
    with pytest.raises(ValueError, match="rows must be >= 1"):
        row_groups(w != 0, rows=0)


def test_mel_filterbank_is_mostly_zeros_and_groups_read_a_fraction_of_it(logmel):
    fb = logmel.filterbank[: logmel.config.n_mels]
    groups = row_groups(fb != 0)
    read = sum((r1 - r0) * (c1 - c0) for r0, r1, c0, c1 in groups)
    assert (fb != 0).float().mean() < 0.05
    assert read < 0.2 * fb.numel()


def test_one_filter_bank_for_the_batch_equals_the_dense_product(logmel):
    g = torch.Generator().manual_seed(0)
    power = torch.rand(3, logmel.filterbank.shape[1], 37, generator=g) ** 4 * 100
    dense = torch.matmul(logmel.filterbank, power)
    _close(logmel.mel(power), dense)  # mel and pitch-class rows
    _close(logmel.mel(power[1]), dense[1])  # (F, T) -> (n_bands, T)
    _close(logmel.mel(power[..., 5:20]), dense[..., 5:20])  # a strided crop


def test_one_filter_bank_per_item_equals_the_dense_product():
    g = torch.Generator().manual_seed(1)
    w = torch.zeros(4, 20, 64)
    for b in range(4):
        for r in range(20):
            lo = int(torch.randint(0, 60, (1,), generator=g))
            w[b, r, lo : lo + 4] = torch.rand(4, generator=g)
    w[:, 7] = 0  # a band no item reads
    power = torch.rand(4, 64, 11, generator=g)
    out = banded_matmul(w, power)
    _close(out, torch.bmm(w, power))
    assert torch.equal(out[:, 7], torch.zeros(4, 11))


def test_the_dense_setting_gives_the_dense_products_rounding(logmel):
    """``mel_product: dense`` is the whole product bit for bit (the rounding of models trained
    before the banded one, the shipped ones among them), in the front end and the fused path."""
    from tunespace.augment.spectral.fused import fused_mel
    from tunespace.errors import ConfigError

    dense = LogMel(FrontEnd(chroma_bins=12, mel_product="dense"))
    g = torch.Generator().manual_seed(2)
    power = torch.rand(3, dense.filterbank.shape[1], 37, generator=g) ** 4 * 100
    assert torch.equal(dense.mel(power), torch.matmul(dense.filterbank, power))
    banded = logmel.mel(power)
    _close(banded, dense.mel(power))
    assert not torch.equal(banded, dense.mel(power))  # else the setting would be moot
    fb = dense.filterbank
    assert torch.equal(fused_mel(power, fb, [], {}, 37, dense=True), torch.bmm(fb[None].expand(3, -1, -1), power))
    _close(fused_mel(power, fb, [], {}, 37, logmel.groups), fused_mel(power, fb, [], {}, 37, dense=True))
    with pytest.raises(ConfigError, match="mel_product"):
        FrontEnd.from_dict({"mel_product": "sparse"})

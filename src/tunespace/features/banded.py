"""Filter-bank products that skip the zeros: a mel filter bank is banded (written here).

Each mel band reads a short, contiguous run of linear-frequency bins: at the base model's
settings (96 bands, 1 025 bins) 2 % of the ``(n_bands, F)`` matrix is non-zero. A dense
``filterbank @ power`` spends 98 % of its multiply-adds on zeros. Here the rows are cut into
groups of ``rows`` consecutive bands, each group multiplies only the columns its rows read
(the union of their non-zero ranges), and the groups' results are written side by side.
The sums are the dense product's (the skipped terms are exact zeros); only the order in which
float32 rounding accumulates them differs (relative differences of the order of 1e-7).

On this project's CPU the grouped product of the base model's filter bank with a batch of 64
power spectrograms x 300 frames took 15 ms against the dense product's 49 ms
(``bench/bench_mel.py``, docs/benchmarks.md, "The mel projection"). A filter bank moved by a
different pitch shift per item reads most bins in some item, and there the grouped product is
no faster: the fused spectral path keeps the dense one for it. On other devices the dense
product is used: a GPU does it in one kernel, faster than many small ones.

No library offers this: torch's sparse matrices are slower than dense ones at this density on
CPU, and librosa's filter banks are dense arrays.
"""

from __future__ import annotations

import torch

#: Bands per group: 8 gave the fastest product of the base model's filter bank on the CPU (4 to 24
#: measured; fewer rows mean narrower column ranges but more, smaller matrix products).
ROWS_PER_GROUP = 8

#: ``(first row, end row, first column, end column)`` of one group: rows ``r0:r1`` read columns ``c0:c1``.
Group = tuple[int, int, int, int]


def row_groups(nonzero: torch.Tensor, rows: int = ROWS_PER_GROUP) -> list[Group]:
    """Cut a filter bank's rows into groups of ``rows`` and find the columns each group reads.

    Args:
        nonzero: ``(n_bands, F)`` boolean, True where the filter bank (for every item of a batch:
            their union) is non-zero.
        rows: bands per group (the last group may be smaller).
    Returns:
        one ``(r0, r1, c0, c1)`` per group, covering rows ``0 .. n_bands`` in order; ``c0 == c1``
        for a group whose rows are all zero.
    """
    n, n_cols = nonzero.shape
    if rows < 1:
        raise ValueError(f"rows must be >= 1, got {rows}")
    mask = nonzero.to(torch.bool).cpu()
    has = mask.any(dim=1)
    first = torch.where(has, mask.to(torch.uint8).argmax(dim=1), torch.full((n,), n_cols))
    last = torch.where(has, n_cols - 1 - mask.flip(1).to(torch.uint8).argmax(dim=1), torch.full((n,), -1))
    groups = []
    for r0 in range(0, n, rows):
        r1 = min(n, r0 + rows)
        c0 = int(first[r0:r1].min())
        c1 = int(last[r0:r1].max()) + 1
        groups.append((r0, r1, min(c0, c1), c1) if c1 > c0 else (r0, r1, 0, 0))
    return groups


def banded_matmul(weights: torch.Tensor, power: torch.Tensor, groups: list[Group] | None = None) -> torch.Tensor:
    """``weights @ power`` for a banded filter bank, reading only the columns each row group uses.

    Args:
        weights: ``(n_bands, F)`` (one filter bank for every item) or ``(B, n_bands, F)`` (one per
            item, e.g. a filter bank moved by a pitch shift).
        power: ``(B, F, T)`` linear power spectrograms (any other shape: the dense product).
        groups: from :func:`row_groups` of ``weights != 0`` (for a batch of weights: their union
            over the batch); None computes them.
    Returns:
        ``(B, n_bands, T)``, equal to ``torch.matmul(weights, power)`` up to float rounding; on a
        device other than the CPU, that dense product itself.
    """
    if power.device.type != "cpu" or power.dim() != 3:
        return torch.matmul(weights, power)
    if groups is None:
        nz = weights != 0
        groups = row_groups(nz if nz.dim() == 2 else nz.any(dim=0))
    b, _, t = power.shape
    out = torch.empty(b, weights.shape[-2], t, dtype=torch.result_type(weights, power))
    for r0, r1, c0, c1 in groups:
        if c1 == c0:
            out[:, r0:r1, :] = 0
        else:
            out[:, r0:r1, :] = torch.matmul(weights[..., r0:r1, c0:c1], power[:, c0:c1, :])
    return out

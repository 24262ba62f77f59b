"""Worker process for tests/losses/test_gather.py (run as a script, one per rank).

Usage: python dist_worker.py RANK WORLD PORT OUT_DIR

Builds the same deterministic data on every rank, takes this rank's slice, computes the
NT-Xent loss with cross-rank negatives and saves loss values and gradients to
OUT_DIR/rank<RANK>.pt. Cases:

* "ddp": equal local batches, a DDP-wrapped Linear projector (DDP averages its gradient);
* "uneven": unequal local batches (2 and 5 pairs), loss on raw inputs;
* "local": gather_distributed=False (each rank alone);
* "tracks": the multi-positive form, several pairs per track label, each label on one rank.
"""

from __future__ import annotations

import sys

import torch
import torch.distributed as dist
from torch import nn
from torch.nn.parallel import DistributedDataParallel

from tunespace.losses import gather_with_grad, nt_xent

D_IN, D = 6, 4
SIZES = {"ddp": [3, 3], "uneven": [2, 5], "local": [3, 4], "tracks": [4, 6]}
#: the track label of each pair of the "tracks" case (labels never span the two ranks)
TRACKS = torch.tensor([0, 0, 1, 1, 2, 2, 2, 3, 3, 3])
TEMPERATURE = 0.2


def make_data(case: str) -> dict[str, torch.Tensor]:
    """The full (concatenated) batch of a case, identical on every rank and in the test."""
    g = torch.Generator().manual_seed(sum(map(ord, case)))
    n = sum(SIZES[case])
    dim = D_IN if case == "ddp" else D
    x_a = torch.randn(n, dim, generator=g, dtype=torch.float64)
    x_b = x_a + 0.5 * torch.randn(n, dim, generator=g, dtype=torch.float64)
    weight = torch.randn(D, D_IN, generator=g, dtype=torch.float64)
    return {"x_a": x_a, "x_b": x_b, "weight": weight}


def _slice(x: torch.Tensor, case: str, rank: int, grad: bool = True) -> torch.Tensor:
    start = sum(SIZES[case][:rank])
    return x[start : start + SIZES[case][rank]].clone().requires_grad_(grad)


def main() -> None:
    rank, world, port, out = int(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3]), sys.argv[4]
    dist.init_process_group("gloo", init_method=f"tcp://127.0.0.1:{port}", rank=rank, world_size=world)
    result: dict[str, object] = {}

    data = make_data("ddp")
    lin = nn.Linear(D_IN, D, bias=False).double()
    with torch.no_grad():
        lin.weight.copy_(data["weight"])
    model = DistributedDataParallel(lin)
    x_a, x_b = _slice(data["x_a"], "ddp", rank), _slice(data["x_b"], "ddp", rank)
    z = model(torch.cat([x_a, x_b]))
    loss = nt_xent(z[: len(x_a)], z[len(x_a) :], TEMPERATURE)
    loss.backward()
    result["ddp"] = dict(loss=loss.item(), g_a=x_a.grad, g_b=x_b.grad, g_w=lin.weight.grad.clone())

    data = make_data("uneven")
    z_a, z_b = _slice(data["x_a"], "uneven", rank), _slice(data["x_b"], "uneven", rank)
    loss = nt_xent(z_a, z_b, TEMPERATURE)
    loss.backward()
    gathered = gather_with_grad(z_a.detach())
    result["uneven"] = dict(loss=loss.item(), g_a=z_a.grad, g_b=z_b.grad, gathered=gathered)

    data = make_data("local")
    z_a, z_b = _slice(data["x_a"], "local", rank), _slice(data["x_b"], "local", rank)
    result["local"] = dict(loss=nt_xent(z_a, z_b, TEMPERATURE, gather_distributed=False).item())

    data = make_data("tracks")
    z_a, z_b = _slice(data["x_a"], "tracks", rank), _slice(data["x_b"], "tracks", rank)
    loss = nt_xent(z_a, z_b, TEMPERATURE, labels=_slice(TRACKS, "tracks", rank, grad=False))
    loss.backward()
    result["tracks"] = dict(loss=loss.item(), g_a=z_a.grad, g_b=z_b.grad)

    torch.save(result, f"{out}/rank{rank}.pt")
    dist.barrier()
    dist.destroy_process_group()


if __name__ == "__main__":
    main()

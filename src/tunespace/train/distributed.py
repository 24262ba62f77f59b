"""Process-group set-up for ``torchrun`` (DistributedDataParallel): NCCL on CUDA, gloo on CPU."""

from __future__ import annotations

import os
from dataclasses import dataclass

import torch
import torch.distributed as dist

from .. import devices


@dataclass(frozen=True)
class DistInfo:
    """This process's place in a run: rank and number of processes (1 without torchrun), its
    rank on this machine and the device it trains on."""

    rank: int
    world_size: int
    local_rank: int
    device: torch.device

    @property
    def is_main(self) -> bool:
        return self.rank == 0

    @property
    def enabled(self) -> bool:
        return self.world_size > 1


def setup(device: str = "auto") -> DistInfo:
    """Initialise torch.distributed when launched by torchrun (WORLD_SIZE > 1).

    Args:
        device: ``auto`` (CUDA when available), ``cpu``, ``cuda`` or ``cuda:N``
            (:func:`tunespace.devices.resolve`: ``cuda`` is ``cuda:LOCAL_RANK`` under torchrun).

    Raises:
        UsageError: a device this machine or this process lacks.
    """
    world = int(os.environ.get("WORLD_SIZE", "1"))
    rank = int(os.environ.get("RANK", "0"))
    local = int(os.environ.get("LOCAL_RANK", "0"))
    dev = devices.resolve(device, "train.device")
    if dev.type == "cuda":
        torch.cuda.set_device(dev)
    if world > 1 and not dist.is_initialized():
        dist.init_process_group(backend="nccl" if dev.type == "cuda" else "gloo")
    return DistInfo(rank, world, local, dev)


def agree(flag: bool, info: DistInfo) -> bool:
    """The main process's ``flag``, on every process (a broadcast under torchrun; ``flag`` itself
    otherwise), so that all processes take the same decision (for example to stop)."""
    if not info.enabled:
        return flag
    t = torch.tensor([1 if flag else 0], dtype=torch.int32, device=info.device)
    dist.broadcast(t, src=0)
    return bool(t.item())


def teardown() -> None:
    if dist.is_available() and dist.is_initialized():
        dist.destroy_process_group()

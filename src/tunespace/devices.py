"""The torch device a process computes on, checked against what this machine has, and its CPU threads.

One rule for training, embedding and the Python API: ``auto`` is CUDA when a CUDA device is
there, else the CPU; ``cuda`` without an index is, under ``torchrun`` (``WORLD_SIZE`` > 1), the
process's own GPU ``cuda:LOCAL_RANK``; a device this machine lacks (no CUDA, ``cuda:3`` on a
machine of two GPUs, more ``torchrun`` processes per machine than GPUs) is a one-line
:class:`~tunespace.errors.UsageError` before anything starts, not a traceback from deep in torch.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator

import torch

from .errors import UsageError

#: What a device name may be.
EXPECTED = "expected auto, cpu, cuda, cuda:N or mps"


def resolve(name: str | torch.device, what: str = "device") -> torch.device:
    """The device named by ``name`` on this machine, for this process.

    Args:
        name: ``auto``, ``cpu``, ``cuda``, ``cuda:N``, ``mps`` or a :class:`torch.device`.
        what: how the error message names the setting (``--device``, ``train.device``...).

    Raises:
        UsageError: an unknown name, or a device this machine (or this torchrun process) lacks.
    """
    torchrun = int(os.environ.get("WORLD_SIZE", "1")) > 1
    local_rank = int(os.environ.get("LOCAL_RANK", "0"))
    if isinstance(name, str) and name == "auto":
        name = "cuda" if torch.cuda.is_available() else "cpu"
    try:
        dev = torch.device(name)
    except (RuntimeError, TypeError):
        raise UsageError(f"{what} {name!r}: {EXPECTED}") from None
    if dev.type not in ("cpu", "cuda", "mps"):
        raise UsageError(f"{what} {str(name)!r}: {EXPECTED}")
    if dev.type == "mps" and not (hasattr(torch.backends, "mps") and torch.backends.mps.is_available()):
        raise UsageError(f"{what} {str(name)!r}: no MPS device is available here")
    if dev.type != "cuda":
        return dev
    if not torch.cuda.is_available():
        raise UsageError(f"{what} {str(name)!r}: no CUDA device is available here")
    count = torch.cuda.device_count()
    if dev.index is None:
        if not torchrun:
            return torch.device("cuda", torch.cuda.current_device())
        if local_rank >= count:
            raise UsageError(
                f"{what} {str(name)!r}: this is torchrun's local rank {local_rank}, but this machine has "
                f"{count} CUDA device(s); start at most {count} process(es) per machine (--nproc_per_node)"
            )
        return torch.device("cuda", local_rank)
    if dev.index >= count:
        raise UsageError(f"{what} {str(name)!r}: there are {count} CUDA device(s) here")
    return dev


@contextlib.contextmanager
def torch_threads(n: int) -> Iterator[None]:
    """Compute the body with ``n`` torch CPU threads in this process, then restore the setting
    (``n`` 0: leave it alone).

    Torch's CPU results depend on the thread count in their last bits (the order of its parallel
    sums), so a computation meant to be repeated bit for bit names its thread count.
    """
    if not n:
        yield
        return
    before = torch.get_num_threads()
    torch.set_num_threads(int(n))
    try:
        yield
    finally:
        torch.set_num_threads(before)

"""tunespace.devices.resolve: names, torchrun's local rank, and devices this machine lacks."""

from __future__ import annotations

import pytest
import torch

from tunespace import devices
from tunespace.errors import UsageError


def test_cpu_and_auto_without_cuda(monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    assert devices.resolve("cpu") == torch.device("cpu")
    assert devices.resolve("auto") == torch.device("cpu")
    assert devices.resolve(torch.device("cpu")) == torch.device("cpu")


@pytest.mark.parametrize("name", ["tpu", "banana", "", "cuda:x"])
def test_unknown_names_are_one_line_errors(name):
    with pytest.raises(UsageError, match=r"^--device .*expected auto, cpu, cuda, cuda:N or mps$"):
        devices.resolve(name, "--device")


def test_cuda_where_there_is_none(monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    with pytest.raises(UsageError, match=r"^train.device 'cuda': no CUDA device is available here$"):
        devices.resolve("cuda", "train.device")


def _two_gpus(monkeypatch, world: int, local_rank: int) -> None:
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "device_count", lambda: 2)
    monkeypatch.setattr(torch.cuda, "current_device", lambda: 0)
    monkeypatch.setenv("WORLD_SIZE", str(world))
    monkeypatch.setenv("LOCAL_RANK", str(local_rank))


def test_cuda_is_the_local_rank_gpu_under_torchrun(monkeypatch):
    _two_gpus(monkeypatch, world=4, local_rank=1)
    assert devices.resolve("cuda") == torch.device("cuda", 1)
    assert devices.resolve("auto") == torch.device("cuda", 1)
    assert devices.resolve("cuda:0") == torch.device("cuda", 0)  # named: kept


def test_more_torchrun_processes_than_gpus(monkeypatch):
    _two_gpus(monkeypatch, world=3, local_rank=2)
    with pytest.raises(UsageError, match=r"local rank 2, but this machine has 2 CUDA device\(s\); start at most 2"):
        devices.resolve("cuda", "train.device")


def test_an_index_beyond_the_gpus(monkeypatch):
    _two_gpus(monkeypatch, world=1, local_rank=0)
    assert devices.resolve("cuda") == torch.device("cuda", 0)
    with pytest.raises(UsageError, match=r"^--device 'cuda:2': there are 2 CUDA device\(s\) here$"):
        devices.resolve("cuda:2", "--device")


def test_train_without_cuda_is_a_one_line_error(monkeypatch, train_corpus, tmp_path):
    from tests.conftest import tiny_overrides

    from tunespace.train import resolve_config, train

    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    cfg = resolve_config(None, [*tiny_overrides(), "train.device=cuda"], **{"data.path": str(train_corpus)})
    with pytest.raises(UsageError, match="^train.device 'cuda': no CUDA device is available here$"):
        train(tmp_path / "run", cfg)
    assert not (tmp_path / "run").exists()


def test_torch_threads_holds_for_the_body_only():
    before = torch.get_num_threads()
    other = 1 if before != 1 else 2
    with devices.torch_threads(other):
        assert torch.get_num_threads() == other
    assert torch.get_num_threads() == before
    with pytest.raises(RuntimeError), devices.torch_threads(other):
        raise RuntimeError("restored all the same")
    assert torch.get_num_threads() == before
    with devices.torch_threads(0):  # 0: left alone
        assert torch.get_num_threads() == before


def test_torch_results_depend_on_the_thread_count():
    """Why a study pins its threads (launcher.threads): one long sum computed by one thread or
    split between two differs in its last bits; the same count gives the same bits."""
    x = torch.randn(1 << 20, generator=torch.Generator().manual_seed(0))

    def total(n: int) -> torch.Tensor:
        with devices.torch_threads(n):
            return x.sum()

    assert torch.equal(total(1), total(1)) and torch.equal(total(2), total(2))
    assert not torch.equal(total(1), total(2))

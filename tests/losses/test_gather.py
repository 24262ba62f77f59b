"""Two gloo processes on CPU give the same loss and gradients as one process on the
concatenated batch (the DDP convention documented in tunespace.losses.ntxent)."""

import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from torch import nn

from tunespace.losses import gather_with_grad, is_distributed, nt_xent

from .dist_worker import SIZES, TEMPERATURE, TRACKS, make_data

WORLD = 2


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def ranks(tmp_path_factory):
    out = tmp_path_factory.mktemp("dist")
    worker = Path(__file__).with_name("dist_worker.py")
    env = dict(os.environ, OMP_NUM_THREADS="1")
    port = _free_port()
    procs = [
        subprocess.Popen(
            [sys.executable, str(worker), str(r), str(WORLD), str(port), str(out)],
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            env=env,
        )
        for r in range(WORLD)
    ]
    logs = []
    for p in procs:
        try:
            logs.append(p.communicate(timeout=90)[0].decode(errors="replace"))
        except subprocess.TimeoutExpired:
            for q in procs:
                q.kill()
            raise
    assert all(p.returncode == 0 for p in procs), "\n".join(logs)
    return [torch.load(out / f"rank{r}.pt") for r in range(WORLD)]


def _single(case):
    data = make_data(case)
    z_a = data["x_a"].clone().requires_grad_()
    z_b = data["x_b"].clone().requires_grad_()
    return data, z_a, z_b


def test_not_distributed_here():
    assert not is_distributed()
    x = torch.randn(3, 2)
    assert gather_with_grad(x) is x


@pytest.mark.slow
def test_ddp_loss_and_gradients_equal_single_process(ranks):
    data = make_data("ddp")
    lin = nn.Linear(6, 4, bias=False).double()
    with torch.no_grad():
        lin.weight.copy_(data["weight"])
    x_a = data["x_a"].clone().requires_grad_()
    x_b = data["x_b"].clone().requires_grad_()
    z = lin(torch.cat([x_a, x_b]))
    n = len(x_a)
    loss = nt_xent(z[:n], z[n:], TEMPERATURE)
    loss.backward()
    # mean of per-rank losses = global loss
    assert sum(r["ddp"]["loss"] for r in ranks) / WORLD == pytest.approx(loss.item(), rel=1e-12)
    # DDP-averaged parameter gradient = single-process gradient (identical on both ranks)
    for r in ranks:
        assert torch.allclose(r["ddp"]["g_w"], lin.weight.grad, atol=1e-12)
    # each rank's local input gradient is W x the single-process one (sum of all ranks' losses)
    g_a = torch.cat([r["ddp"]["g_a"] for r in ranks]) / WORLD
    g_b = torch.cat([r["ddp"]["g_b"] for r in ranks]) / WORLD
    assert torch.allclose(g_a, x_a.grad, atol=1e-12)
    assert torch.allclose(g_b, x_b.grad, atol=1e-12)


@pytest.mark.slow
def test_uneven_batches_and_gather(ranks):
    data, z_a, z_b = _single("uneven")
    loss = nt_xent(z_a, z_b, TEMPERATURE)
    loss.backward()
    assert sum(r["uneven"]["loss"] for r in ranks) / WORLD == pytest.approx(loss.item(), rel=1e-12)
    g_a = torch.cat([r["uneven"]["g_a"] for r in ranks]) / WORLD
    g_b = torch.cat([r["uneven"]["g_b"] for r in ranks]) / WORLD
    assert [len(r["uneven"]["g_a"]) for r in ranks] == SIZES["uneven"]
    assert torch.allclose(g_a, z_a.grad, atol=1e-12)
    assert torch.allclose(g_b, z_b.grad, atol=1e-12)
    for r in ranks:  # the gathered tensor is the full batch in rank order
        assert torch.equal(r["uneven"]["gathered"], data["x_a"])


@pytest.mark.slow
def test_gather_disabled_uses_local_negatives_only(ranks):
    data = make_data("local")
    start = 0
    for rank, r in enumerate(ranks):
        n = SIZES["local"][rank]
        expected = nt_xent(data["x_a"][start : start + n], data["x_b"][start : start + n], TEMPERATURE)
        assert r["local"]["loss"] == pytest.approx(expected.item(), rel=1e-12)
        start += n


@pytest.mark.slow
def test_multi_positive_loss_across_ranks_equals_single_process(ranks):
    _, z_a, z_b = _single("tracks")
    loss = nt_xent(z_a, z_b, TEMPERATURE, labels=TRACKS)
    loss.backward()
    assert sum(r["tracks"]["loss"] for r in ranks) / WORLD == pytest.approx(loss.item(), rel=1e-12)
    g_a = torch.cat([r["tracks"]["g_a"] for r in ranks]) / WORLD
    g_b = torch.cat([r["tracks"]["g_b"] for r in ranks]) / WORLD
    assert torch.allclose(g_a, z_a.grad, atol=1e-12)
    assert torch.allclose(g_b, z_b.grad, atol=1e-12)
    # and it is not plain NT-Xent: the same-track views count as positives
    assert loss.item() != pytest.approx(nt_xent(z_a, z_b, TEMPERATURE).item(), rel=1e-3)

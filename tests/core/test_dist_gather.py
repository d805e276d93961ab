"""all_gather_with_grad / concat_all_gather on 2 gloo processes against one process on the global batch."""
from __future__ import annotations


import pytest
import torch
import torch.distributed as dist
import torch.multiprocessing as mp
import torch.nn.functional as F
from torch import nn

from dist_testutil import free_port, init_gloo

from fovea.utils.dist import all_gather_with_grad, concat_all_gather


def _contrastive(q: torch.Tensor, everyone: torch.Tensor, offset: int) -> torch.Tensor:
    """InfoNCE of each local row against every row of the global batch (itself is the positive)."""
    q, everyone = F.normalize(q, dim=1), F.normalize(everyone, dim=1)
    return F.cross_entropy(q @ everyone.T / 0.1, torch.arange(len(q)) + offset)


def _setup():
    torch.manual_seed(0)
    return nn.Linear(5, 4), torch.randn(8, 5)


def _worker(rank, world, port):
    init_gloo(rank, world, port)
    net, x = _setup()
    ref = _contrastive(net(x), net(x), 0)
    ref_grads = torch.autograd.grad(ref, list(net.parameters()))

    n = len(x) // world
    ddp = nn.parallel.DistributedDataParallel(net)
    q = ddp(x[rank * n:(rank + 1) * n])
    everyone = all_gather_with_grad(q)
    assert torch.allclose(everyone, net(x), atol=1e-6)  # forward: rank order
    loss = _contrastive(q, everyone, rank * n)
    loss.backward()  # DDP averages the parameter gradients over the ranks
    for p, g in zip(net.parameters(), ref_grads):
        assert torch.allclose(p.grad, g, atol=1e-6), (p.grad - g).abs().max()
    # the mean of the ranks' losses is the one-process loss
    mean = loss.detach().clone()
    dist.all_reduce(mean)
    assert torch.allclose(mean / world, ref, atol=1e-6)

    plain = concat_all_gather(q)
    assert not plain.requires_grad and torch.allclose(plain, net(x), atol=1e-6)
    dist.destroy_process_group()


@pytest.mark.slow
def test_gather_with_grad_on_two_processes_equals_one_process_on_the_global_batch():
    mp.spawn(_worker, args=(2, free_port()), nprocs=2, join=True)


def test_without_distribution_the_gathers_are_the_identity():
    x = torch.randn(3, 2, requires_grad=True)
    assert all_gather_with_grad(x) is x
    y = concat_all_gather(x)
    assert torch.equal(y, x) and not y.requires_grad

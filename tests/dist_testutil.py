"""Helpers for tests that run 2 CPU processes with gloo (torch.multiprocessing.spawn)."""
from __future__ import annotations

import os
import socket

import torch
import torch.distributed as dist


def free_port() -> int:
    with socket.socket() as s:
        s.bind(('127.0.0.1', 0))
        return s.getsockname()[1]


def init_gloo(rank: int, world: int, port: int) -> None:
    """Join a gloo process group as torchrun would set it up (the env variables fovea's Runner reads)."""
    os.environ.update(MASTER_ADDR='127.0.0.1', MASTER_PORT=str(port), RANK=str(rank), WORLD_SIZE=str(world),
                      LOCAL_RANK=str(rank))
    torch.set_num_threads(1)
    dist.init_process_group('gloo', rank=rank, world_size=world)


def check_ddp_matches_one_process(model, views, rank: int, world: int, port: int, atol: float = 1e-5) -> None:
    """In a spawned worker: ``model``'s loss on ``views`` (a list of per-view batches, the global batch)
    and its gradients, computed in this process alone, equal those of DistributedDataParallel over
    ``world`` gloo processes each given its slice of every view (mean of the ranks' losses)."""
    ref = model.loss(views)['loss']
    params = [p for p in model.parameters() if p.requires_grad]
    ref_grads = torch.autograd.grad(ref, params)
    init_gloo(rank, world, port)
    n = len(views[0]) // world
    ddp = torch.nn.parallel.DistributedDataParallel(model)
    loss = ddp([v[rank * n:(rank + 1) * n] for v in views], None, mode='loss')['loss']
    loss.backward()
    names = [name for name, p in model.named_parameters() if p.requires_grad]
    for name, p, g in zip(names, params, ref_grads):
        assert torch.allclose(p.grad, g, atol=atol), (name, (p.grad - g).abs().max())
    total = loss.detach().clone()
    dist.all_reduce(total)
    assert torch.allclose(total / world, ref.detach(), atol=atol)
    dist.destroy_process_group()

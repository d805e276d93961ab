"""Distributed helpers that work with and without an initialised process group."""
from __future__ import annotations

import datetime
import os
from typing import Any

import torch
import torch.distributed as dist

__all__ = ['get_dist_info', 'is_main_process', 'init_dist', 'barrier', 'all_gather_object', 'all_reduce_mean',
           'broadcast_object']


def is_distributed() -> bool:
    return dist.is_available() and dist.is_initialized()


def get_dist_info() -> tuple[int, int]:
    """(rank, world_size); (0, 1) without a process group."""
    if is_distributed():
        return dist.get_rank(), dist.get_world_size()
    return 0, 1


def is_main_process() -> bool:
    return get_dist_info()[0] == 0


def init_dist(backend: str | None = None, timeout_s: int = 1800) -> tuple[int, int]:
    """Initialise the process group from torchrun's environment variables (RANK, WORLD_SIZE, ...).

    NCCL on GPUs, gloo on CPU, unless ``backend`` says otherwise. Returns (rank, world_size).
    """
    if is_distributed():
        return get_dist_info()
    if 'RANK' not in os.environ or int(os.environ.get('WORLD_SIZE', '1')) <= 1:
        return 0, 1
    if backend is None or (backend == 'nccl' and not torch.cuda.is_available()):
        backend = 'nccl' if torch.cuda.is_available() else 'gloo'
    if backend == 'nccl':
        torch.cuda.set_device(int(os.environ.get('LOCAL_RANK', 0)))
    dist.init_process_group(backend=backend, timeout=datetime.timedelta(seconds=timeout_s))
    return get_dist_info()


def barrier() -> None:
    if is_distributed():
        dist.barrier()


def all_gather_object(obj: Any) -> list[Any]:
    """Gather a picklable object from every rank (a one-element list without distribution)."""
    if not is_distributed():
        return [obj]
    out: list[Any] = [None] * dist.get_world_size()
    dist.all_gather_object(out, obj)
    return out


def broadcast_object(obj: Any, src: int = 0) -> Any:
    if not is_distributed():
        return obj
    box = [obj]
    dist.broadcast_object_list(box, src=src)
    return box[0]


def all_reduce_mean(t: torch.Tensor) -> torch.Tensor:
    if not is_distributed():
        return t
    t = t.clone()
    dist.all_reduce(t)
    return t / dist.get_world_size()

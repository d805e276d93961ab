"""Distributed helpers that work with and without an initialised process group."""
from __future__ import annotations

import contextlib
import datetime
import os
from typing import Any

import torch
import torch.distributed as dist

__all__ = ['get_dist_info', 'is_main_process', 'init_dist', 'barrier', 'all_gather_object', 'all_reduce_mean',
           'concat_all_gather', 'all_gather_with_grad', 'all_reduce_with_grad', 'broadcast_object', 'fail_together', 'report_failure', 'peer_failure', 'PeerFailure']


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

    NCCL on GPUs, gloo on CPU, unless ``backend`` says otherwise. ``timeout_s`` bounds how long a
    collective waits for a rank that hangs (``env_cfg.dist_cfg.timeout``). Returns (rank, world_size).
    """
    if is_distributed():
        return get_dist_info()
    if 'RANK' not in os.environ or int(os.environ.get('WORLD_SIZE', '1')) <= 1:
        return 0, 1
    if backend is None or (backend == 'nccl' and not torch.cuda.is_available()):
        backend = 'nccl' if torch.cuda.is_available() else 'gloo'
    if backend == 'nccl':
        torch.cuda.set_device(int(os.environ.get('LOCAL_RANK', 0)))
    timeout = datetime.timedelta(seconds=timeout_s)
    store = _attempt_store(timeout)
    if store is None:
        dist.init_process_group(backend=backend, timeout=timeout)
    else:
        dist.init_process_group(backend=backend, timeout=timeout, store=store, rank=int(os.environ['RANK']),
                                world_size=int(os.environ['WORLD_SIZE']))
    return get_dist_info()


def attempt_id() -> str:
    """This attempt of an elastic job: the rendezvous run id and torchrun's restart count
    (``'-/0'`` outside torchrun). Keys that one attempt puts in the store are namespaced by it."""
    return f'{os.environ.get("TORCHELASTIC_RUN_ID", "-")}/{os.environ.get("TORCHELASTIC_RESTART_COUNT", "0")}'


def _attempt_store(timeout: datetime.timedelta):
    """Under ``torchrun --rdzv_backend=c10d`` the workers share the launcher's TCPStore, which lives on
    across restarts; torch then writes every attempt's keys (gloo's peer addresses among them) under the
    same names, so a restarted group can read a dead attempt's. Give each attempt its own prefix."""
    if os.environ.get('TORCHELASTIC_USE_AGENT_STORE') != 'True' or 'TORCHELASTIC_RESTART_COUNT' not in os.environ:
        return None
    tcp = dist.TCPStore(os.environ['MASTER_ADDR'], int(os.environ['MASTER_PORT']), int(os.environ['WORLD_SIZE']),
                        is_master=False, timeout=timeout)
    return dist.PrefixStore(f'/fovea/attempt/{attempt_id()}', tcp)


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


# ---------------------------------------------------------------- gathers for losses
def _gather(t: torch.Tensor) -> torch.Tensor:
    t = t.contiguous()
    parts = [torch.empty_like(t) for _ in range(dist.get_world_size())]
    dist.all_gather(parts, t)
    return torch.cat(parts)


@torch.no_grad()
def concat_all_gather(tensor: torch.Tensor) -> torch.Tensor:
    """Every rank's ``tensor`` concatenated along dim 0 in rank order, without gradient (for queues
    and memory banks, MoCo's ``concat_all_gather``). Every rank must pass the same shape. Without
    distribution: ``tensor`` itself, detached."""
    if not is_distributed() or dist.get_world_size() == 1:
        return tensor.detach()
    return _gather(tensor.detach())


class _GatherWithGrad(torch.autograd.Function):
    @staticmethod
    def forward(ctx, tensor: torch.Tensor) -> torch.Tensor:
        ctx.rows = tensor.shape[0]
        return _gather(tensor)

    @staticmethod
    def backward(ctx, grad: torch.Tensor) -> torch.Tensor:
        # every rank's loss depends on every rank's rows: this rank's rows get the sum over ranks
        grad = grad.contiguous()
        dist.all_reduce(grad)
        rank = dist.get_rank()
        return grad[rank * ctx.rows:(rank + 1) * ctx.rows]


def all_gather_with_grad(tensor: torch.Tensor) -> torch.Tensor:
    """Every rank's ``tensor`` concatenated along dim 0 in rank order, differentiable.

    Backward sums, over ranks, the gradient each rank's loss sends to these rows, so that with
    DDP's gradient averaging the parameter gradients equal one process computing the mean of the
    ranks' losses on the global batch (contrastive losses over all ranks' samples: SimCLR, CLIP).
    Every rank must pass the same shape. Without distribution: ``tensor`` itself.
    """
    if not is_distributed() or dist.get_world_size() == 1:
        return tensor
    return _GatherWithGrad.apply(tensor)


class _AllReduceWithGrad(torch.autograd.Function):
    @staticmethod
    def forward(ctx, tensor: torch.Tensor) -> torch.Tensor:
        out = tensor.clone()
        dist.all_reduce(out)
        return out

    @staticmethod
    def backward(ctx, grad: torch.Tensor) -> torch.Tensor:
        grad = grad.contiguous().clone()
        dist.all_reduce(grad)
        return grad


def all_reduce_with_grad(tensor: torch.Tensor) -> torch.Tensor:
    """The sum of ``tensor`` over ranks, differentiable: backward sums the ranks' gradients, so that
    with DDP's gradient averaging a loss of the summed tensor (Barlow Twins' cross-correlation over
    the global batch) gets the gradient one process would on the global batch. Without
    distribution: ``tensor`` itself."""
    if not is_distributed() or dist.get_world_size() == 1:
        return tensor
    return _AllReduceWithGrad.apply(tensor)


# ---------------------------------------------------------------- failing together
def _failed_key() -> str:
    """Where this attempt's first failure is reported. Per attempt: a restarted group must not stop
    for the previous attempt's failure, nor for a late report from one of its dying processes."""
    return f'fovea/{attempt_id()}/failed_rank'


class PeerFailure(RuntimeError):
    """Another rank of the job failed; this rank stops too."""


def _store():
    from torch.distributed import distributed_c10d
    return distributed_c10d._get_default_store()


def report_failure(exc: BaseException) -> None:
    """Tell the other ranks (through the rendezvous store) that this rank failed and why."""
    if not is_distributed():
        return
    import socket
    rank = dist.get_rank()
    text = f'rank {rank} (host {socket.gethostname()}, pid {os.getpid()}): {type(exc).__name__}: {exc}'
    try:
        store = _store()
        key = _failed_key()
        if not store.check([key]):   # the first failure is the root cause; keep it
            store.set(key, text[:4000])
    except Exception:  # the store may be gone with the process that hosted it
        pass


def peer_failure() -> str | None:
    """What another rank reported with :func:`report_failure`, or None."""
    if not is_distributed():
        return None
    try:
        store = _store()
        key = _failed_key()
        if store.check([key]):
            text = store.get(key).decode('utf-8', 'replace')
            return None if text.startswith(f'rank {dist.get_rank()} ') else text
    except Exception:
        return f'the rendezvous store at {os.environ.get("MASTER_ADDR")}:{os.environ.get("MASTER_PORT")} is unreachable, ' \
               f'so the process hosting it (rank 0, or the launcher) has died'
    return None


@contextlib.contextmanager
def fail_together(poll_s: float = 0.5, grace_s: float = 3.0):
    """Make a multi-process job stop as a whole when one rank fails.

    On an exception, this rank reports it in the rendezvous store; if the exception is the echo of
    another rank's failure (a collective that lost its peer), it is re-raised as :class:`PeerFailure`
    naming that rank. A watchdog thread polls the store, so a rank that is busy outside collectives
    (or blocked in one) learns of a peer's failure within ``poll_s`` seconds; if it has not stopped
    by itself ``grace_s`` seconds later, the watchdog prints the cause and ends the process (exit 1).
    Without distribution this does nothing.
    """
    if not is_distributed():
        yield
        return
    import sys
    import threading
    import time
    done = threading.Event()

    def watch() -> None:
        while not done.wait(poll_s):
            cause = peer_failure()
            if cause is None:
                continue
            if done.wait(grace_s if 'unreachable' not in cause else 4 * grace_s):
                return
            print(f'fovea: stopping rank {dist.get_rank()} because {cause}', file=sys.stderr, flush=True)
            os._exit(1)

    thread = threading.Thread(target=watch, name='fovea-fail-together', daemon=True)
    thread.start()
    try:
        yield
    except BaseException as exc:
        done.set()
        cause = peer_failure()
        if cause is not None and not isinstance(exc, PeerFailure):
            raise PeerFailure(f'Stopping rank {dist.get_rank()} because {cause} '
                              f'(here: {type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ""})') from exc
        report_failure(exc)
        raise
    finally:
        done.set()

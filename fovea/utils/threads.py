"""Intra-op thread counts for the main process and each loader worker.

PyTorch gives the main process one intra-op thread per core it sees and each DataLoader worker one.
On a machine other jobs share, and beside busy loader workers, those threads oversubscribe the
cores; a small model (LeNet on 28 px digits) then runs many times slower than single-threaded,
because its operations are too small to split. fovea picks the counts (:func:`plan_threads`) from
the cores the process may use (``os.sched_getaffinity``), the ranks on this machine, the loader
workers and the model's size; ``env_cfg.num_threads`` / ``env_cfg.worker_threads`` override them,
and so does ``OMP_NUM_THREADS`` for the main process.
"""
from __future__ import annotations

import os
from dataclasses import dataclass

from fovea.utils.errors import ConfigError

__all__ = ['ThreadPlan', 'plan_threads', 'usable_cores', 'SMALL_MODEL_PARAMS']

# below this many parameters a model's operations are too small to gain from intra-op threads
SMALL_MODEL_PARAMS = 1_000_000


def usable_cores() -> int:
    """The cores this process may run on (its CPU affinity, which containers and ``taskset`` narrow)."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


@dataclass(frozen=True)
class ThreadPlan:
    main: int     # intra-op threads of the main (training) process
    worker: int   # intra-op threads of each loader worker
    reason: str   # why main has this many, for the run's settings line

    def describe(self, num_workers: int) -> str:
        workers = f', {self.worker} in each of {num_workers} loader workers' if num_workers else ''
        return (f'threads: {self.main} intra-op in the main process ({self.reason}){workers} '
                f'(env_cfg.num_threads / env_cfg.worker_threads override)')


def _count(value, key: str) -> int | None:
    if value in (None, 'auto'):
        return None
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ConfigError(f"env_cfg.{key}={value!r}: give a positive number of threads or 'auto'.")
    return value


def plan_threads(num_params: int, num_workers: int, device_type: str = 'cpu', num_threads='auto',
                 worker_threads='auto', local_ranks: int = 1, cores: int | None = None) -> ThreadPlan:
    """Thread counts for a run.

    Workers get 1 thread each (their per-image work is small; parallelism comes from the workers).
    The main process gets: the configured number; else ``OMP_NUM_THREADS`` when set; else 1 for a
    model under :data:`SMALL_MODEL_PARAMS` parameters; else this rank's share of the cores less one
    per loader worker (at most 4 when the model runs on an accelerator, where the main process
    only feeds it).
    """
    worker = _count(worker_threads, 'worker_threads') or 1
    main = _count(num_threads, 'num_threads')
    if main is not None:
        return ThreadPlan(main, worker, 'env_cfg.num_threads')
    env = os.environ.get('OMP_NUM_THREADS', '')
    if env.isdigit() and int(env) > 0:
        return ThreadPlan(int(env), worker, 'OMP_NUM_THREADS')
    if num_params < SMALL_MODEL_PARAMS:
        return ThreadPlan(1, worker, f'small model, {num_params / 1e6:.2g}M parameters')
    share = max(1, (cores or usable_cores()) // max(1, local_ranks))
    main = max(1, share - num_workers * worker)
    if device_type != 'cpu':
        main = min(main, 4)
    return ThreadPlan(main, worker, f'{share} usable cores for this rank, {num_workers} loader workers')

"""build_dataloader: a DataLoader from an MMPretrain-style ``*_dataloader`` config."""
from __future__ import annotations

import random
from functools import partial
from typing import Any

import numpy as np
import torch
from torch.utils.data import DataLoader, IterableDataset

from fovea.registry import DATA_SAMPLERS, DATASETS, FUNCTIONS, build, key_scope
from fovea.utils.errors import ConfigError

__all__ = ['build_dataloader', 'worker_init_fn']

_LOADER_KEYS = ('batch_size', 'num_workers', 'persistent_workers', 'pin_memory', 'prefetch_factor', 'drop_last',
                'sampler', 'batch_sampler', 'collate_fn', 'dataset', 'timeout', 'multiprocessing_context')


def worker_init_fn(worker_id: int, num_workers: int, rank: int, seed: int | None, threads: int = 1) -> None:
    """Set a worker's intra-op ``threads`` and seed numpy, ``random`` and torch in it: differently per
    worker, rank and epoch, reproducibly (``seed=None``: leave the generators as PyTorch seeds them).

    PyTorch seeds each worker's torch generator with ``base_seed + worker_id``, drawing ``base_seed``
    from the main process's generator whenever an epoch's iterator starts; that generator is seeded by
    the run's seed and saved in checkpoints. Deriving the other generators from it (and the rank, as
    ranks share the main seed) makes augmentations change every epoch and repeat on resume.
    """
    torch.set_num_threads(threads)
    if seed is None:
        return
    worker_seed = (torch.initial_seed() + rank * 1_000_003) % 2**63
    np.random.seed(worker_seed % 2**32)
    random.seed(worker_seed)
    torch.manual_seed(worker_seed)


def build_dataloader(cfg: dict, seed: int | None = None, key: str = 'train_dataloader',
                     worker_threads: int = 1) -> DataLoader:
    """Build the dataset, sampler and loader described by ``cfg``.

    ``cfg`` keys: dataset, sampler (default ``DefaultSampler(shuffle=False)``), batch_size,
    num_workers, persistent_workers, pin_memory, prefetch_factor, drop_last, collate_fn
    (default ``default_collate``). Each worker runs ``worker_threads`` intra-op threads.
    """
    from fovea.utils.dist import get_dist_info
    cfg = dict(cfg)
    with key_scope(key):
        unknown = set(cfg) - set(_LOADER_KEYS)
        if unknown:
            from fovea.utils.errors import did_you_mean
            k = sorted(unknown)[0]
            raise ConfigError(f'Unknown key {key}.{k}.{did_you_mean(k, _LOADER_KEYS)} '
                              f'Dataloader keys: {", ".join(_LOADER_KEYS)}.')
        if 'dataset' not in cfg:
            raise ConfigError(f'{key} has no dataset; add {key}.dataset=dict(type=..., ...).')
        bs = cfg.get('batch_size', 1)
        if isinstance(bs, bool) or not isinstance(bs, int) or bs < 1:
            raise ConfigError(f'{key}.batch_size={bs!r}: the batch size must be a whole number >= 1 '
                              f'(images per process and step).')
        dataset = build(cfg.pop('dataset'), DATASETS, key='dataset')
        sampler_cfg = cfg.pop('sampler', None) or dict(type='DefaultSampler', shuffle=False)
        if isinstance(dataset, IterableDataset):
            sampler = None  # streaming datasets split themselves over ranks and workers
        elif isinstance(sampler_cfg, dict):
            sampler = build(sampler_cfg, DATA_SAMPLERS, key='sampler', dataset=dataset, seed=seed)
        else:
            sampler = sampler_cfg
        collate = cfg.pop('collate_fn', None) or dict(type='default_collate')
        if isinstance(collate, dict):
            collate = dict(collate)
            fn = FUNCTIONS.get(collate.pop('type'))
            collate = partial(fn, **collate) if collate else fn
    cfg.pop('batch_sampler', None)
    num_workers = int(cfg.pop('num_workers', 0))
    rank, _ = get_dist_info()
    init = partial(worker_init_fn, num_workers=num_workers, rank=rank, seed=seed, threads=worker_threads)
    if num_workers == 0:
        cfg.pop('persistent_workers', None)
        cfg.pop('prefetch_factor', None)
    if cfg.get('pin_memory') and not torch.cuda.is_available():
        cfg['pin_memory'] = False  # pinning needs an accelerator; avoid the warning on CPU machines
    loader = DataLoader(dataset, sampler=sampler, collate_fn=collate, num_workers=num_workers,
                        worker_init_fn=init, batch_size=cfg.pop('batch_size', 1), **cfg)
    return loader


def release_workers(*loaders: Any) -> None:
    """Shut down the persistent worker processes of ``loaders`` now (they restart on the next pass).

    A finished run's persistent workers otherwise live until its loader is garbage-collected, which
    may happen inside a worker process of the next run in the same Python process (a notebook, a
    benchmark running several configs): torch then prints "can only test a child process" tracebacks.
    """
    for loader in loaders:
        it = getattr(loader, '_iterator', None)
        if it is not None and hasattr(it, '_shutdown_workers'):
            it._shutdown_workers()
            loader._iterator = None

"""Samplers: each rank reads its own share of a (shuffled) epoch."""
from __future__ import annotations

import math
from typing import Iterator, Sized

import torch
from torch.utils.data import Sampler

from fovea.registry import DATA_SAMPLERS
from fovea.utils.dist import get_dist_info
from fovea.utils.errors import ConfigError

__all__ = ['DefaultSampler', 'SequentialSampler', 'InfiniteSampler', 'RepeatAugSampler']


@DATA_SAMPLERS.register_module()
class DefaultSampler(Sampler[int]):
    """Rank-aware sampler over one epoch.

    The epoch's order is a permutation seeded by ``seed + epoch`` (call :meth:`set_epoch`),
    identical on every rank; rank r takes positions r, r + world, ... When ``round_up`` is set,
    the list is padded by repeating from the start so every rank gets the same number of samples.
    """

    def __init__(self, dataset: Sized, shuffle: bool = True, seed: int | None = None, round_up: bool = True):
        self.dataset = dataset
        self.shuffle = shuffle
        self.seed = 0 if seed is None else int(seed)
        self.round_up = round_up
        self.rank, self.world_size = get_dist_info()
        self.epoch = 0
        n = len(dataset)
        if round_up:
            self.num_samples = math.ceil(n / self.world_size)
            self.total_size = self.num_samples * self.world_size
        else:
            self.num_samples = math.ceil((n - self.rank) / self.world_size)
            self.total_size = n

    def __iter__(self) -> Iterator[int]:
        n = len(self.dataset)
        if self.shuffle:
            g = torch.Generator().manual_seed(self.seed + self.epoch)
            indices = torch.randperm(n, generator=g).tolist()
        else:
            indices = list(range(n))
        if self.round_up and self.total_size > n:
            reps = math.ceil(self.total_size / n)
            indices = (indices * reps)[:self.total_size]
        return iter(indices[self.rank:self.total_size:self.world_size])

    def __len__(self) -> int:
        return self.num_samples

    def set_epoch(self, epoch: int) -> None:
        self.epoch = epoch


@DATA_SAMPLERS.register_module()
class SequentialSampler(DefaultSampler):
    """Samples in dataset order (MMPretrain's ``SequentialSampler``), split over ranks by ``subsample_type``:
    'default' interleaves (rank r takes r, r + world, ..., as :class:`DefaultSampler`), 'sequential' gives each
    rank one contiguous chunk (8 samples on 2 ranks: 0-3 and 4-7), the order in which the retrieval loops
    gather features. (Metrics gathered by ``BaseMetric.evaluate`` expect the interleaved order.)"""

    def __init__(self, dataset: Sized, subsample_type: str = 'default', seed: int | None = None,
                 round_up: bool = True):
        if subsample_type not in ('default', 'sequential'):
            raise ConfigError(f"SequentialSampler subsample_type={subsample_type!r}: use 'default' or 'sequential'.")
        super().__init__(dataset, shuffle=False, seed=seed, round_up=round_up)
        self.subsample_type = subsample_type
        r, w = self.rank, self.world_size
        # rank r's chunk of the (padded) index list
        self._chunk = (r * self.num_samples, (r + 1) * self.num_samples) if round_up else \
            (r * self.total_size // w, (r + 1) * self.total_size // w)
        if subsample_type == 'sequential':
            self.num_samples = self._chunk[1] - self._chunk[0]

    def __iter__(self) -> Iterator[int]:
        if self.subsample_type == 'default':
            return super().__iter__()
        n = len(self.dataset)
        indices = list(range(n))
        if self.total_size > n:
            indices = (indices * math.ceil(self.total_size / n))[:self.total_size]
        return iter(indices[self._chunk[0]:self._chunk[1]])


@DATA_SAMPLERS.register_module()
class InfiniteSampler(Sampler[int]):
    """An endless stream of (shuffled) epochs for iteration-based training, rank-aware."""

    def __init__(self, dataset: Sized, shuffle: bool = True, seed: int | None = None):
        self.dataset = dataset
        self.shuffle = shuffle
        self.seed = 0 if seed is None else int(seed)
        self.rank, self.world_size = get_dist_info()
        self.epoch = 0

    def __iter__(self) -> Iterator[int]:
        n = len(self.dataset)
        epoch = self.epoch
        while True:
            if self.shuffle:
                g = torch.Generator().manual_seed(self.seed + epoch)
                order = torch.randperm(n, generator=g).tolist()
            else:
                order = list(range(n))
            yield from order[self.rank::self.world_size]
            epoch += 1

    def __len__(self) -> int:
        return math.ceil(len(self.dataset) / self.world_size)

    def set_epoch(self, epoch: int) -> None:
        self.epoch = epoch


@DATA_SAMPLERS.register_module()
class RepeatAugSampler(Sampler[int]):
    """Repeated augmentation (Hoffer et al., "Augment your batch", CVPR 2020; used by DeiT).

    Every index of the (shuffled) epoch is repeated ``num_repeats`` times in a row and the list is
    dealt round-robin to the ranks, so the copies of one image land on different ranks (and get
    different augmentations). Each rank then keeps only ``ceil(len(dataset) / world_size)``
    samples, so an epoch has the usual length.
    """

    def __init__(self, dataset: Sized, shuffle: bool = True, num_repeats: int = 3, seed: int | None = None):
        if num_repeats < 1:
            from fovea.utils.errors import ConfigError
            raise ConfigError(f'RepeatAugSampler num_repeats must be >= 1, got {num_repeats}')
        self.dataset = dataset
        self.shuffle = shuffle
        self.num_repeats = int(num_repeats)
        self.seed = 0 if seed is None else int(seed)
        self.rank, self.world_size = get_dist_info()
        self.epoch = 0
        n = len(dataset)
        self.num_samples = math.ceil(n * self.num_repeats / self.world_size)
        self.total_size = self.num_samples * self.world_size
        self.num_selected_samples = math.ceil(n / self.world_size)

    def __iter__(self) -> Iterator[int]:
        n = len(self.dataset)
        if self.shuffle:
            g = torch.Generator().manual_seed(self.seed + self.epoch)
            order = torch.randperm(n, generator=g).tolist()
        else:
            order = list(range(n))
        indices = [i for i in order for _ in range(self.num_repeats)]
        pad = self.total_size - len(indices)
        if pad > 0:
            indices += indices[:pad]
        return iter(indices[self.rank:self.total_size:self.world_size][:self.num_selected_samples])

    def __len__(self) -> int:
        return self.num_selected_samples

    def set_epoch(self, epoch: int) -> None:
        self.epoch = epoch

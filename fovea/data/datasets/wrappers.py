"""Dataset wrappers (MMEngine/MMPretrain names): ConcatDataset, RepeatDataset, ClassBalancedDataset,
KFoldDataset. Each takes built datasets or dataset configs."""
from __future__ import annotations

import bisect
import copy
import math
from collections import defaultdict
from typing import Any, Sequence

import numpy as np
from torch.utils.data import Dataset

from fovea.registry import DATASETS, build, key_scope
from fovea.utils.errors import ConfigError

__all__ = ['ConcatDataset', 'RepeatDataset', 'ClassBalancedDataset', 'KFoldDataset']


def _build(cfg: Any, key: str) -> Dataset:
    return build(cfg, DATASETS, key=key) if isinstance(cfg, dict) else cfg


class _Wrapper(Dataset):
    dataset: Any

    @property
    def metainfo(self) -> dict:
        return copy.deepcopy(self.dataset.metainfo)

    @property
    def CLASSES(self):
        return self.dataset.CLASSES

    @property
    def pipeline(self):
        return self.dataset.pipeline

    def full_init(self) -> None:
        if hasattr(self.dataset, 'full_init'):
            self.dataset.full_init()

    def max_label(self) -> tuple[int, str] | None:
        found = [f for d in getattr(self, 'datasets', [self.dataset]) if callable(getattr(d, 'max_label', None))
                 for f in [d.max_label()] if f is not None]
        return max(found, key=lambda f: f[0]) if found else None


@DATASETS.register_module()
class ConcatDataset(_Wrapper):
    """Several datasets one after another. Their ``metainfo`` must agree except for ``ignore_keys``."""

    def __init__(self, datasets: Sequence[Any], lazy_init: bool = False,
                 ignore_keys: str | Sequence[str] | None = None):
        with key_scope('datasets'):
            self.datasets = [_build(d, str(i)) for i, d in enumerate(datasets)]
        if not self.datasets:
            raise ConfigError('ConcatDataset needs at least one dataset')
        ignore = {ignore_keys} if isinstance(ignore_keys, str) else set(ignore_keys or ())
        first = getattr(self.datasets[0], 'metainfo', {})
        for i, d in enumerate(self.datasets[1:], 1):
            other = getattr(d, 'metainfo', {})
            for k in set(first) | set(other):
                if k not in ignore and k in first and k in other and first[k] != other[k]:
                    raise ConfigError(f'ConcatDataset: datasets[{i}] has a different metainfo[{k!r}] than datasets[0]; '
                                      f'make them agree or list {k!r} in ignore_keys.')
        self.dataset = self.datasets[0]
        self.cumulative_sizes = list(np.cumsum([len(d) for d in self.datasets]))

    def __len__(self) -> int:
        return int(self.cumulative_sizes[-1])

    def _locate(self, idx: int) -> tuple[int, int]:
        if idx < 0:
            idx += len(self)
        if not 0 <= idx < len(self):
            raise IndexError(f'index {idx} out of range for {len(self)} samples')
        d = bisect.bisect_right(self.cumulative_sizes, idx)
        return d, idx - (int(self.cumulative_sizes[d - 1]) if d else 0)

    def get_data_info(self, idx: int) -> dict:
        d, i = self._locate(idx)
        return self.datasets[d].get_data_info(i)

    def get_cat_ids(self, idx: int) -> list[int]:
        d, i = self._locate(idx)
        return self.datasets[d].get_cat_ids(i)

    def __getitem__(self, idx: int):
        d, i = self._locate(idx)
        return self.datasets[d][i]


@DATASETS.register_module()
class RepeatDataset(_Wrapper):
    """The dataset ``times`` times over (for short epochs on small data)."""

    def __init__(self, dataset: Any, times: int, lazy_init: bool = False):
        if times < 1:
            raise ConfigError(f'RepeatDataset times must be >= 1, got {times}')
        self.dataset = _build(dataset, 'dataset')
        self.times = int(times)
        self._ori_len = len(self.dataset)

    def __len__(self) -> int:
        return self.times * self._ori_len

    def get_data_info(self, idx: int) -> dict:
        return self.dataset.get_data_info(idx % self._ori_len)

    def get_cat_ids(self, idx: int) -> list[int]:
        return self.dataset.get_cat_ids(idx % self._ori_len)

    def __getitem__(self, idx: int):
        return self.dataset[idx % self._ori_len]


@DATASETS.register_module()
class ClassBalancedDataset(_Wrapper):
    """Repeat-factor sampling for long-tailed data (Gupta et al., LVIS, CVPR 2019).

    A class seen in a fraction ``f`` of the images gets ``r = max(1, sqrt(oversample_thr / f))``;
    each image is repeated ``ceil(max r over its classes)`` times.
    """

    def __init__(self, dataset: Any, oversample_thr: float, lazy_init: bool = False):
        self.dataset = _build(dataset, 'dataset')
        self.oversample_thr = oversample_thr
        factors = self._get_repeat_factors()
        self.repeat_indices = np.repeat(np.arange(len(factors)), np.ceil(factors).astype(np.int64))

    def _get_repeat_factors(self) -> np.ndarray:
        n = len(self.dataset)
        cat_ids = [set(self.dataset.get_cat_ids(i)) for i in range(n)]
        freq: dict[int, float] = defaultdict(float)
        for cats in cat_ids:
            for c in cats:
                freq[c] += 1
        cat_repeat = {c: max(1.0, math.sqrt(self.oversample_thr / (k / n))) for c, k in freq.items()}
        return np.array([max((cat_repeat[c] for c in cats), default=1.0) for cats in cat_ids])

    def __len__(self) -> int:
        return len(self.repeat_indices)

    def get_data_info(self, idx: int) -> dict:
        return self.dataset.get_data_info(int(self.repeat_indices[idx]))

    def get_cat_ids(self, idx: int) -> list[int]:
        return self.dataset.get_cat_ids(int(self.repeat_indices[idx]))

    def __getitem__(self, idx: int):
        return self.dataset[int(self.repeat_indices[idx])]


@DATASETS.register_module()
class KFoldDataset(_Wrapper):
    """Fold ``fold`` of a ``num_splits``-way split, for k-fold cross-validation.

    ``test_mode=True`` gives the held-out fold, False the other ``num_splits - 1`` folds.
    With ``seed`` the samples are shuffled (by that seed) before splitting; the same seed must be
    used for the train and the test side.
    """

    def __init__(self, dataset: Any, fold: int = 0, num_splits: int = 5, test_mode: bool = False,
                 seed: int | None = None, lazy_init: bool = False):
        if not 0 <= fold < num_splits:
            raise ConfigError(f'KFoldDataset fold must be in [0, {num_splits}), got {fold}')
        self.dataset = _build(dataset, 'dataset')
        self.fold, self.num_splits, self.test_mode, self.seed = fold, num_splits, test_mode, seed
        n = len(self.dataset)
        order = np.arange(n)
        if seed is not None:
            np.random.default_rng(seed).shuffle(order)
        start, end = n * fold // num_splits, n * (fold + 1) // num_splits
        self.indices = order[start:end] if test_mode else np.concatenate([order[:start], order[end:]])

    def __len__(self) -> int:
        return len(self.indices)

    def get_data_info(self, idx: int) -> dict:
        return self.dataset.get_data_info(int(self.indices[idx]))

    def get_cat_ids(self, idx: int) -> list[int]:
        return self.dataset.get_cat_ids(int(self.indices[idx]))

    def __getitem__(self, idx: int):
        return self.dataset[int(self.indices[idx])]

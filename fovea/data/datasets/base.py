"""BaseDataset: a list of sample dicts plus a pipeline of transforms.

A dataset subclass implements :meth:`load_data_list`, returning one dict per
sample (``img_path`` or ``img`` plus ``gt_label`` and meta information). The
list is built once, lazily, and stored compactly; ``__getitem__`` copies one
entry and runs the pipeline on it. Class names are exposed as ``CLASSES`` and
``metainfo['classes']`` so heads, metrics and inferencers can print them.
"""
from __future__ import annotations

import copy
import os
from typing import Any, Callable, Sequence

from torch.utils.data import Dataset

from fovea.data.transforms.base import Compose
from fovea.utils.errors import DataError

__all__ = ['BaseDataset', 'expand_path']


def expand_path(root: str | None, path: str | None) -> str:
    """Join ``path`` onto ``root`` unless it is absolute or a URL."""
    if not path:
        return root or ''
    if not root or os.path.isabs(path) or '://' in path:
        return path
    return os.path.join(root, path)


class BaseDataset(Dataset):
    """A map-style dataset of sample dicts.

    Args:
        ann_file: annotation file (relative to ``data_root``).
        metainfo: e.g. ``dict(classes=('cat', 'dog'))``; overrides ``METAINFO``.
        data_root: root that relative ``ann_file`` and ``data_prefix`` are joined to.
        data_prefix: folder of the images (str or ``dict(img_path=...)``).
        pipeline: transform configs or callables.
        test_mode: whether this is a validation/test set.
        indices: keep only the first N samples (int) or the given indices.
        lazy_init: build the sample list on first use instead of at construction.
        classes: class names, or a file with one name per line (MMPretrain's argument).
    """

    METAINFO: dict = {}

    def __init__(self, ann_file: str = '', metainfo: dict | None = None, data_root: str = '',
                 data_prefix: str | dict = '', pipeline: Sequence[dict | Callable] = (),
                 test_mode: bool = False, indices: int | Sequence[int] | None = None,
                 lazy_init: bool = False, classes: str | Sequence[str] | None = None, **kwargs: Any):
        if kwargs:  # options MMPretrain accepts that have no effect here
            unknown = set(kwargs) - {'serialize_data', 'max_refetch', 'filter_cfg'}
            if unknown:
                raise TypeError(f'{type(self).__name__} got unexpected arguments {sorted(unknown)}')
        self.data_root = data_root or ''
        self.ann_file = expand_path(self.data_root, ann_file) if ann_file else ''
        if isinstance(data_prefix, dict):
            data_prefix = data_prefix.get('img_path', data_prefix.get('img', ''))
        self.data_prefix = expand_path(self.data_root, data_prefix)
        self.test_mode = test_mode
        self._indices = indices
        self._metainfo = dict(copy.deepcopy(self.METAINFO))
        if metainfo:
            self._metainfo.update(metainfo)
        if classes is not None:
            self._metainfo['classes'] = tuple(self._read_classes(classes))
        self.pipeline = Compose(pipeline)
        self._data_list: list[dict] | None = None
        if not lazy_init:
            self.full_init()

    @staticmethod
    def _read_classes(classes: str | Sequence[str]) -> list[str]:
        if isinstance(classes, str):
            if not os.path.isfile(classes):
                raise DataError(f'classes file {classes!r} does not exist; give a list of class names '
                                f'or the path of a file with one class name per line')
            with open(classes, encoding='utf-8') as f:
                return [line.strip() for line in f if line.strip()]
        return list(classes)

    # ---- the sample list
    def load_data_list(self) -> list[dict]:
        raise NotImplementedError

    def full_init(self) -> None:
        if self._data_list is not None:
            return
        data = self.load_data_list()
        if self._indices is not None:
            idx = range(self._indices) if isinstance(self._indices, int) else self._indices
            data = [data[i] for i in idx]
        self._data_list = data

    @property
    def data_list(self) -> list[dict]:
        self.full_init()
        return self._data_list  # type: ignore[return-value]

    def get_data_info(self, idx: int) -> dict:
        info = dict(self.data_list[idx])
        info['sample_idx'] = idx
        return info

    def __len__(self) -> int:
        return len(self.data_list)

    def __getitem__(self, idx: int) -> Any:
        return self.pipeline(self.get_data_info(idx))

    # ---- meta information
    @property
    def metainfo(self) -> dict:
        return copy.deepcopy(self._metainfo)

    @property
    def CLASSES(self) -> tuple[str, ...] | None:
        classes = self._metainfo.get('classes')
        return tuple(classes) if classes is not None else None

    @property
    def class_to_idx(self) -> dict[str, int]:
        return {c: i for i, c in enumerate(self.CLASSES or ())}

    def get_gt_labels(self):
        import numpy as np
        return np.array([int(self.get_data_info(i)['gt_label']) for i in range(len(self))])

    def get_cat_ids(self, idx: int) -> list[int]:
        label = self.data_list[idx]['gt_label']
        return [int(x) for x in label] if isinstance(label, (list, tuple)) else [int(label)]

    def __repr__(self) -> str:
        n = len(self) if self._data_list is not None else 'not loaded'
        return (f'{type(self).__name__}(samples={n}, classes={len(self.CLASSES or ())}, '
                f'data_prefix={self.data_prefix!r}, test_mode={self.test_mode})')

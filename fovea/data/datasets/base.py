"""BaseDataset: a list of sample dicts plus a pipeline of transforms.

A dataset subclass implements :meth:`load_data_list`, returning one dict per
sample (``img_path`` or ``img`` plus ``gt_label`` and meta information). The
list is built once, lazily, and stored compactly; ``__getitem__`` copies one
entry and runs the pipeline on it. Class names are exposed as ``CLASSES`` and
``metainfo['classes']`` so heads, metrics and inferencers can print them.
"""
from __future__ import annotations

import copy
import logging
import os
from typing import Any, Callable, Iterator, Sequence

import numpy as np
from torch.utils.data import Dataset

from fovea.data.transforms.base import Compose
from fovea.utils.errors import ConfigError, DataError, add_note

__all__ = ['BaseDataset', 'PathLabelList', 'ArrayImageList', 'expand_path', 'check_labels_fit']

logger = logging.getLogger('fovea')


class PathLabelList(Sequence):
    """A compact, read-only list of ``{'img_path': ..., 'gt_label': ...}`` sample dicts.

    Paths live in one UTF-8 byte buffer with an offset array and labels in an int64 array, so
    1.3 million samples take tens of megabytes instead of hundreds, build in a second, and are
    shared by forked DataLoader workers without copy-on-access (no per-sample Python objects).
    ``labels=None`` makes label-free samples (``with_label=False``).
    """

    def __init__(self, rel_paths: Sequence[str | bytes], labels: Sequence[int] | np.ndarray | None,
                 prefix: str = ''):
        encoded = rel_paths if rel_paths and isinstance(rel_paths[0], bytes) else \
            [p if isinstance(p, bytes) else p.encode('utf-8') for p in rel_paths]
        self._buf = np.frombuffer(b''.join(encoded), dtype=np.uint8) if encoded else np.zeros(0, np.uint8)
        lens = np.fromiter(map(len, encoded), dtype=np.int64, count=len(encoded))
        self._offsets = np.zeros(len(encoded) + 1, dtype=np.int64)
        np.cumsum(lens, out=self._offsets[1:])
        self._labels = None if labels is None else np.asarray(labels, dtype=np.int64)
        if self._labels is not None and len(self._labels) != len(encoded):
            raise ValueError(f'{len(encoded)} paths but {len(self._labels)} labels')
        self.prefix = prefix

    def __len__(self) -> int:
        return len(self._offsets) - 1

    def path(self, i: int) -> str:
        rel = self._buf[self._offsets[i]:self._offsets[i + 1]].tobytes().decode('utf-8')
        return os.path.join(self.prefix, rel) if self.prefix else rel

    def __getitem__(self, i):  # type: ignore[override]
        if isinstance(i, slice):
            return [self[j] for j in range(*i.indices(len(self)))]
        n = len(self)
        if i < 0:
            i += n
        if not 0 <= i < n:
            raise IndexError(f'index {i} out of range for {n} samples')
        info = {'img_path': self.path(i)}
        if self._labels is not None:
            info['gt_label'] = int(self._labels[i])
        return info

    def __iter__(self) -> Iterator[dict]:
        return (self[i] for i in range(len(self)))

    @property
    def labels(self) -> np.ndarray | None:
        return self._labels


class ArrayImageList(Sequence):
    """In-memory RGB images (an (N, C, H, W) or (N, H, W) uint8 array) and labels as a sample list.

    Items are ``{'img': uint8 CHW tensor (a view), 'gt_label': int, 'img_shape', 'ori_shape'}``, marked
    ``mmpretrain_bgr=False`` (MMPretrain also keeps CIFAR/MNIST arrays RGB, which matters for
    ``to_rgb`` and colour arguments).
    ``source`` names the file(s) the arrays came from, for messages.
    """

    def __init__(self, images: np.ndarray, labels: np.ndarray, source: str = ''):
        if images.ndim == 3:
            images = images[:, None]
        if len(images) != len(labels):
            raise DataError(f'{source}: {len(images)} images but {len(labels)} labels')
        self.images = np.ascontiguousarray(images)
        self._labels = np.asarray(labels, dtype=np.int64)
        self.source = source

    def __len__(self) -> int:
        return len(self.images)

    def path(self, i: int) -> str:
        return f'{self.source}[{i}]'

    def __getitem__(self, i):  # type: ignore[override]
        if isinstance(i, slice):
            return [self[j] for j in range(*i.indices(len(self)))]
        import torch
        img = torch.from_numpy(self.images[i])
        shape = tuple(img.shape[-2:])
        return {'img': img, 'gt_label': int(self._labels[i]), 'img_shape': shape, 'ori_shape': shape,
                'mmpretrain_bgr': False}

    def __iter__(self) -> Iterator[dict]:
        return (self[i] for i in range(len(self)))

    @property
    def labels(self) -> np.ndarray:
        return self._labels


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
        skip_bad_samples: when a sample cannot be read (corrupt, truncated, empty or missing
            file: a :class:`DataError`), log a warning with the running count and return the next
            readable sample instead of raising. By default the error is raised, naming the file
            and the index.
        max_refetch: how many following samples to try before giving up (MMEngine's argument).
    """

    METAINFO: dict = {}

    def __init__(self, ann_file: str = '', metainfo: dict | None = None, data_root: str = '',
                 data_prefix: str | dict = '', pipeline: Sequence[dict | Callable] = (),
                 test_mode: bool = False, indices: int | Sequence[int] | None = None,
                 lazy_init: bool = False, classes: str | Sequence[str] | None = None,
                 skip_bad_samples: bool = False, max_refetch: int = 1000, **kwargs: Any):
        if kwargs:  # options MMPretrain accepts that have no effect here
            unknown = set(kwargs) - {'serialize_data', 'filter_cfg'}
            if unknown:
                raise TypeError(f'{type(self).__name__} got unexpected arguments {sorted(unknown)}')
        self.data_root = data_root or ''
        self.ann_file = expand_path(self.data_root, ann_file) if ann_file else ''
        if isinstance(data_prefix, dict):
            data_prefix = data_prefix.get('img_path', data_prefix.get('img', ''))
        self.data_prefix = expand_path(self.data_root, data_prefix)
        self.test_mode = test_mode
        self.skip_bad_samples = skip_bad_samples
        self.max_refetch = max_refetch
        self.bad_samples = 0  # skipped in this process
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
            idx = range(min(self._indices, len(data))) if isinstance(self._indices, int) else self._indices
            data = [data[i] for i in idx]
        self._data_list = data
        self._check_labels()

    def _check_labels(self) -> None:
        """Labels must index into ``CLASSES`` (when the classes are known)."""
        classes = self._metainfo.get('classes')
        if classes is None or not len(self._data_list):
            return
        n = len(classes)
        labels = getattr(self._data_list, 'labels', None)
        if labels is not None:
            bad = np.flatnonzero((labels < 0) | (labels >= n))
            if len(bad):
                i = int(bad[0])
                raise DataError(f'{type(self).__name__}: sample {i} ({self._data_list.path(i)}) has label '
                                f'{int(labels[i])}, outside the {n} classes (0..{n - 1}); '
                                f'{len(bad)} sample(s) are out of range. Fix the annotation or the classes.')
            return
        for i, info, v in self._label_values():
            if not 0 <= v < n:
                where = info.get('img_path', f'sample {i}')
                raise DataError(f'{type(self).__name__}: sample {i} ({where}) has label {v}, outside '
                                f'the {n} classes (0..{n - 1}). Fix the annotation or the classes.')

    def _label_values(self):
        """(index, sample dict, label) for every label of every sample dict (multi-label: each one)."""
        for i, info in enumerate(self._data_list):
            label = info.get('gt_label') if isinstance(info, dict) else None
            if label is None:
                continue
            for v in (label if isinstance(label, (list, tuple, np.ndarray)) else (label,)):
                yield i, info, int(v)

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

    @property
    def img_prefix(self) -> str:
        return self.data_prefix

    def prepare_data(self, idx: int) -> Any:
        """Run the pipeline on sample ``idx``; a :class:`DataError` gets the index and dataset added."""
        info = self.get_data_info(idx)
        try:
            return self.pipeline(info)
        except DataError as exc:
            raise DataError(f'{type(self).__name__} sample {idx}: {exc}') from None
        except Exception as exc:
            add_note(exc, f'(while processing {type(self).__name__} sample {idx}: '
                         f'{info.get("img_path", "in-memory image")})')
            raise

    def __getitem__(self, idx: int) -> Any:
        """The processed sample; in training, a sample the pipeline drops (``None``) is replaced by
        the next one, and with ``skip_bad_samples`` so is an unreadable one."""
        n = len(self)
        for attempt in range(self.max_refetch + 1):
            j = (idx + attempt) % n
            try:
                out = self.prepare_data(j)
            except DataError as exc:
                if not self.skip_bad_samples:
                    raise
                self.bad_samples += 1
                logger.warning('skipping a bad sample (%d skipped so far in this process): %s',
                               self.bad_samples, exc)
                continue
            if out is not None or self.test_mode:
                return out
        raise DataError(f'{type(self).__name__}: no usable sample among indices {idx}..{idx + self.max_refetch} '
                        f'(mod {n}); check the data with `fovea verify-dataset`.')

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
        labels = getattr(self.data_list, 'labels', None)
        if labels is not None:
            return labels.copy()
        return np.array([int(self.get_data_info(i)['gt_label']) for i in range(len(self))])

    def get_cat_ids(self, idx: int) -> list[int]:
        label = self.data_list[idx]['gt_label']
        return [int(x) for x in label] if isinstance(label, (list, tuple, np.ndarray)) else [int(label)]

    def max_label(self) -> tuple[int, str] | None:
        """The largest label and the sample that has it (its path), read from the sample list without
        decoding any image; None when the samples carry no labels."""
        labels = getattr(self.data_list, 'labels', None)
        if labels is not None:
            if not len(labels):
                return None
            i = int(np.argmax(labels))
            return int(labels[i]), f'sample {i} ({self._data_list.path(i)})'
        best: tuple[int, int] | None = None
        for i, _, v in self._label_values():
            if best is None or v > best[0]:
                best = (v, i)
        if best is None:
            return None
        where = self._data_list[best[1]].get('img_path')
        return best[0], f'sample {best[1]}' + (f' ({where})' if where else '')

    def __repr__(self) -> str:
        n = len(self) if self._data_list is not None else 'not loaded'
        return (f'{type(self).__name__}(samples={n}, classes={len(self.CLASSES or ())}, '
                f'data_prefix={self.data_prefix!r}, test_mode={self.test_mode})')


def check_labels_fit(dataset: Any, num_classes: int | None, where: str) -> None:
    """Fail when a label of ``dataset`` (at config key ``where``) is outside ``num_classes``, the model's
    head size: a ConfigError naming the dataset, the largest label and the fix, at build time instead of a
    raw error from the loss in the first iteration."""
    find = getattr(dataset, 'max_label', None)
    if num_classes is None or not callable(find):
        return
    found = find()
    if found is None or found[0] < num_classes:
        return
    label, sample = found
    classes = getattr(dataset, 'CLASSES', None)
    declared = f' and declares {len(classes)} classes' if classes else ' (no classes declared)'
    need = max(label + 1, len(classes or ()))
    raise ConfigError(
        f'{where}: {type(dataset).__name__}{declared}; its largest label is {label} ({sample}), but the model\'s '
        f'head has num_classes={num_classes} (labels 0..{num_classes - 1}), so the loss would fail. Set '
        f'model.head.num_classes={need} (e.g. --cfg-options model.head.num_classes={need}), or give the dataset '
        f'only the classes the model predicts.')

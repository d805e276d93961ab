"""CUB-200-2011: 11,788 photographs of 200 bird species (Wah et al., Caltech tech. report 2011)."""
from __future__ import annotations

import logging
import os

import numpy as np

from fovea.data.datasets.base import BaseDataset, PathLabelList
from fovea.data.datasets.categories import CUB_CATEGORIES
from fovea.registry import DATASETS
from fovea.utils.errors import ConfigError, DataError

__all__ = ['CUB']

logger = logging.getLogger('fovea')


@DATASETS.register_module()
class CUB(BaseDataset):
    """The official ``CUB_200_2011`` folder: ``images/<class>/<file>.jpg`` with ``images.txt``
    (id, relative path), ``image_class_labels.txt`` (id, 1-based class) and ``train_test_split.txt``
    (id, 1 = training image), giving the standard 5,994 training / 5,794 test split.

    Args:
        data_root: the ``CUB_200_2011`` folder.
        split: ``'train'`` or ``'test'``. As in MMPretrain the split, not ``test_mode``, picks the
            images (``split='train', test_mode=True`` loads the training images, with a warning).
    """

    METAINFO = {'classes': CUB_CATEGORIES}
    FILES = ('images.txt', 'image_class_labels.txt', 'train_test_split.txt')

    def __init__(self, data_root: str, split: str = 'train', test_mode: bool = False, **kwargs):
        if split not in ('train', 'test'):
            raise ConfigError(f"CUB split={split!r}: use 'train' or 'test'.")
        if split == 'train' and test_mode:
            logger.warning('CUB: split="train" with test_mode=True loads the training images; '
                         'set split="test" to evaluate on the test images.')
        self.split = split
        kwargs.setdefault('data_prefix', 'images')
        super().__init__(ann_file='images.txt', data_root=data_root, test_mode=test_mode, **kwargs)

    def _read_table(self, name: str) -> dict[int, str]:
        path = os.path.join(self.data_root, name)
        if not os.path.isfile(path):
            raise DataError(f'CUB file {path} does not exist: data_root must be the CUB_200_2011 folder '
                            f'holding {", ".join(self.FILES)} and images/.')
        table = {}
        with open(path, encoding='utf-8') as f:
            for lineno, line in enumerate(f, 1):
                if not line.strip():
                    continue
                parts = line.split()
                if len(parts) != 2 or not parts[0].isdigit():
                    raise DataError(f'{path}, line {lineno}: expected "<image id> <value>", got {line.strip()!r}')
                table[int(parts[0])] = parts[1]
        return table

    def load_data_list(self) -> PathLabelList:
        images, labels, splits = (self._read_table(name) for name in self.FILES)
        if not images.keys() == labels.keys() == splits.keys():
            odd = sorted(images.keys() ^ labels.keys() | images.keys() ^ splits.keys())
            raise DataError(f'CUB files under {self.data_root} list different image ids (e.g. {odd[:5]}); '
                            f'{", ".join(self.FILES)} must describe the same images.')
        want = '1' if self.split == 'train' else '0'
        ids = [i for i in sorted(images) if splits[i] == want]
        return PathLabelList([images[i] for i in ids], np.array([int(labels[i]) - 1 for i in ids]),
                             prefix=self.img_prefix)

"""CIFAR-10 and CIFAR-100 from the official "python version" pickle batches (Krizhevsky 2009)."""
from __future__ import annotations

import os

import numpy as np

from fovea.data.datasets.base import ArrayImageList, BaseDataset
from fovea.data.datasets.categories import CIFAR10_CATEGORIES, CIFAR100_CATEGORIES
from fovea.data.datasets.utils import check_md5, download_and_extract_archive, report_split, safe_pickle_load
from fovea.registry import DATASETS
from fovea.utils.errors import ConfigError, DataError

__all__ = ['CIFAR10', 'CIFAR100']


@DATASETS.register_module()
class CIFAR10(BaseDataset):
    """CIFAR-10: 50,000 training and 10,000 test 32x32 RGB images in 10 classes.

    Reads ``<data_root>/cifar-10-batches-py/{data_batch_1..5, test_batch, batches.meta}`` (the
    official python pickles, read with a restricted unpickler). Samples carry the image in
    memory (uint8 3x32x32 RGB), so pipelines start without ``LoadImageFromFile``.
    ``download=True`` fetches and verifies the archive when the files are missing.

    As in MMPretrain 1.x, ``split`` selects the batches (``test_mode`` does not); a warning says so
    where ``test_mode=True`` is given with the training split.
    """

    base_folder = 'cifar-10-batches-py'
    url = 'https://www.cs.toronto.edu/~kriz/cifar-10-python.tar.gz'
    filename = 'cifar-10-python.tar.gz'
    tgz_md5 = 'c58f30108f718f92721af3b95e74349a'
    train_list = [('data_batch_1', 'c99cafc152244af753f735de768cd75f'),
                  ('data_batch_2', 'd4bba439e000b95fd0a9bffe97cbabec'),
                  ('data_batch_3', '54ebc095f3ab1f0389bbae665268c751'),
                  ('data_batch_4', '634d18415352ddfa80567beed471001a'),
                  ('data_batch_5', '482c414d41f54cd18b22e5b47cb7c3cb')]
    test_list = [('test_batch', '40351d587109b95175f43aff81a1287e')]
    meta = {'filename': 'batches.meta', 'key': 'label_names'}
    label_key = 'labels'
    METAINFO = {'classes': CIFAR10_CATEGORIES}

    def __init__(self, data_root: str = '', split: str = 'train', metainfo: dict | None = None,
                 download: bool = True, data_prefix: str | dict = '', test_mode: bool = False, **kwargs):
        if split not in ('train', 'test'):
            raise ConfigError(f"{type(self).__name__} split={split!r}: use 'train' or 'test'.")
        self.split = split
        self._test_mode_given = test_mode
        self.download = download
        if not data_root and not data_prefix:
            raise ConfigError(f'{type(self).__name__} needs data_root (the folder holding {self.base_folder}/).')
        super().__init__(ann_file='', metainfo=metainfo, data_root=data_root, data_prefix=data_prefix,
                         test_mode=test_mode or split == 'test', **kwargs)

    def _root(self) -> str:
        return self.img_prefix or self.data_root

    def _exists(self) -> bool:
        root = os.path.join(self._root(), self.base_folder)
        return all(os.path.isfile(os.path.join(root, f)) for f, _ in self.train_list + self.test_list)

    def load_data_list(self) -> ArrayImageList:
        root = self._root()
        if not self._exists():
            if not self.download:
                raise DataError(f'{type(self).__name__}: no {self.base_folder}/ with the official batches in '
                                f'{root}; set download=True or download {self.url} and extract it there.')
            download_and_extract_archive(self.url, root, self.filename, self.tgz_md5)
        files = self.train_list if self.split == 'train' else self.test_list
        images, labels = [], []
        for name, _ in files:
            path = os.path.join(root, self.base_folder, name)
            entry = safe_pickle_load(path)
            if not isinstance(entry, dict) or 'data' not in entry:
                raise DataError(f'{path} is not a CIFAR batch (no "data" entry); expected the official '
                                f'python-version pickle.')
            data = np.asarray(entry['data'], dtype=np.uint8)
            if data.ndim != 2 or data.shape[1] != 3072:
                raise DataError(f'{path}: "data" has shape {data.shape}, expected (N, 3072)')
            images.append(data.reshape(-1, 3, 32, 32))
            labels.extend(entry[self.label_key] if self.label_key in entry else entry['labels'])
        meta_path = os.path.join(root, self.base_folder, self.meta['filename'])
        if 'classes' not in self._metainfo and os.path.isfile(meta_path):
            self._metainfo['classes'] = tuple(safe_pickle_load(meta_path)[self.meta['key']])
        source = os.path.join(root, self.base_folder)
        mismatch = "Set split='test' to load the test batches." if self._test_mode_given and self.split == 'train' else ''
        report_split(self, self.split, f'split={self.split!r}', len(labels), source, mismatch)
        return ArrayImageList(np.concatenate(images), np.asarray(labels, dtype=np.int64), source=source)

    def check_integrity(self) -> bool:
        """True when every batch file matches the official MD5."""
        root = os.path.join(self._root(), self.base_folder)
        return all(check_md5(os.path.join(root, f), md5) for f, md5 in self.train_list + self.test_list)


@DATASETS.register_module()
class CIFAR100(CIFAR10):
    """CIFAR-100: like CIFAR-10 with 100 fine classes (``cifar-100-python/{train, test, meta}``)."""

    base_folder = 'cifar-100-python'
    url = 'https://www.cs.toronto.edu/~kriz/cifar-100-python.tar.gz'
    filename = 'cifar-100-python.tar.gz'
    tgz_md5 = 'eb9058c3a382ffc7106e4002c42a8d85'
    train_list = [('train', '16019d7e3df5f24257cddd939b257f8d')]
    test_list = [('test', 'f0ef6b0ae62326f3e7ffdfab6717acfc')]
    meta = {'filename': 'meta', 'key': 'fine_label_names'}
    label_key = 'fine_labels'
    METAINFO = {'classes': CIFAR100_CATEGORIES}

"""MNIST and Fashion-MNIST from the official IDX files (gzipped or not)."""
from __future__ import annotations

import os

import numpy as np

from fovea.data.datasets.base import ArrayImageList, BaseDataset
from fovea.data.datasets.categories import FASHIONMNIST_CATEGORIES, MNIST_CATEGORIES
from fovea.data.datasets.utils import download_url, open_maybe_gz, report_split
from fovea.registry import DATASETS
from fovea.utils.errors import ConfigError, DataError

__all__ = ['MNIST', 'FashionMNIST', 'read_idx', 'write_idx', 'write_mnist']

_IDX_TYPES = {0x08: np.uint8, 0x09: np.int8, 0x0B: np.dtype('>i2'), 0x0C: np.dtype('>i4'),
              0x0D: np.dtype('>f4'), 0x0E: np.dtype('>f8')}


def read_idx(path: str) -> np.ndarray:
    """Read an IDX file (LeCun's format: magic 0x0000TTDD, D big-endian int32 dims, data); ``.gz`` accepted."""
    data = open_maybe_gz(path)
    if len(data) < 4 or data[0] != 0 or data[1] != 0 or data[2] not in _IDX_TYPES:
        raise DataError(f'{path} is not an IDX file (bad magic number {data[:4].hex()}).')
    dtype = np.dtype(_IDX_TYPES[data[2]])
    ndim = data[3]
    dims = np.frombuffer(data, dtype='>i4', count=ndim, offset=4).astype(np.int64)
    expected = int(np.prod(dims)) * dtype.itemsize
    offset = 4 + 4 * ndim
    if len(data) - offset != expected:
        raise DataError(f'{path}: header says {tuple(dims)} ({expected} bytes of data), the file has '
                        f'{len(data) - offset}; the file is truncated or corrupt.')
    return np.frombuffer(data, dtype=dtype, offset=offset).reshape(tuple(dims)).astype(dtype.newbyteorder('='))


def write_idx(path: str, array: np.ndarray) -> None:
    """Write ``array`` (uint8 or int32 ...) as an IDX file that :func:`read_idx` (and MNIST's readers) read."""
    codes = {np.dtype(v).newbyteorder('='): k for k, v in _IDX_TYPES.items()}
    dtype = np.dtype(array.dtype).newbyteorder('=')
    if dtype not in codes:
        raise ValueError(f'write_idx: no IDX type for dtype {array.dtype}; use one of {sorted(map(str, codes))}')
    big = np.dtype(_IDX_TYPES[codes[dtype]]).newbyteorder('>')
    header = bytes([0, 0, codes[dtype], array.ndim]) + np.asarray(array.shape, dtype='>i4').tobytes()
    from fovea.utils.io import atomic_open
    with atomic_open(path, 'wb') as f:
        f.write(header + np.ascontiguousarray(array, dtype=big).tobytes())


def write_mnist(root: str, split: str, images: np.ndarray, labels: np.ndarray) -> None:
    """Write (N, H, W) uint8 images and (N,) labels under the file names :class:`MNIST` reads for ``split``."""
    prefix = 'train' if split == 'train' else 't10k'
    os.makedirs(root, exist_ok=True)
    write_idx(os.path.join(root, f'{prefix}-images-idx3-ubyte'), np.asarray(images, dtype=np.uint8))
    write_idx(os.path.join(root, f'{prefix}-labels-idx1-ubyte'), np.asarray(labels, dtype=np.uint8))


@DATASETS.register_module()
class MNIST(BaseDataset):
    """MNIST handwritten digits (LeCun et al. 1998): 60,000 train / 10,000 test 28x28 greyscale images.

    Reads ``{train,t10k}-{images-idx3,labels-idx1}-ubyte`` (or the ``.gz`` files) from
    ``data_prefix`` or ``data_root``. Images are 1x28x28 uint8 tensors in memory.
    ``download=True`` fetches the gz files (MD5-checked) when missing.

    As in MMPretrain 1.x, ``test_mode`` selects the files (``test_mode=True``: the t10k test files);
    ``split`` is checked, and a warning says so where it disagrees with ``test_mode``.
    """

    url_prefix = 'https://ossci-datasets.s3.amazonaws.com/mnist/'
    train_list = [('train-images-idx3-ubyte.gz', 'f68b3c2dcbeaaa9fbdd348bbdeb94873'),
                  ('train-labels-idx1-ubyte.gz', 'd53e105ee54ea40749a09fcbcd1e9432')]
    test_list = [('t10k-images-idx3-ubyte.gz', '9fb629c4189551a2d022fa330f9573f3'),
                 ('t10k-labels-idx1-ubyte.gz', 'ec29112dd5afa0611ce80d1b7f02629c')]
    METAINFO = {'classes': MNIST_CATEGORIES}

    def __init__(self, data_root: str = '', split: str | None = None, metainfo: dict | None = None,
                 download: bool = True, data_prefix: str | dict = '', test_mode: bool = False, **kwargs):
        if split not in (None, 'train', 'test'):
            raise ConfigError(f"{type(self).__name__} split={split!r}: use 'train' or 'test'.")
        if not data_root and not data_prefix:
            raise ConfigError(f'{type(self).__name__} needs data_root (the folder holding the IDX files).')
        self.split = split
        self.download = download
        super().__init__(ann_file='', metainfo=metainfo, data_root=data_root, data_prefix=data_prefix,
                         test_mode=test_mode, **kwargs)

    def _root(self) -> str:
        return self.img_prefix or self.data_root

    def load_data_list(self) -> ArrayImageList:
        root = self._root()
        files = self.test_list if self.test_mode else self.train_list
        raw = [os.path.join(root, f[:-3]) for f, _ in files]
        missing = [p for p in raw if not (os.path.isfile(p) or os.path.isfile(p + '.gz'))]
        if missing:
            if not self.download:
                raise DataError(f'{type(self).__name__}: missing {", ".join(missing)} (or .gz); set download=True '
                                f'or download them from {self.url_prefix}.')
            for f, md5 in files:
                download_url(self.url_prefix + f, root, f, md5)
        images, labels = read_idx(raw[0]), read_idx(raw[1])
        if images.ndim != 3 or labels.ndim != 1:
            raise DataError(f'{raw[0]} / {raw[1]}: expected (N, H, W) images and (N,) labels, got '
                            f'{images.shape} and {labels.shape}')
        loaded = 'test' if self.test_mode else 'train'
        mismatch = f'Set test_mode={not self.test_mode} to load the {self.split} files.' \
            if self.split not in (None, loaded) else ''
        report_split(self, loaded, f'test_mode={self.test_mode}', len(labels), raw[0], mismatch)
        return ArrayImageList(images.astype(np.uint8), labels.astype(np.int64), source=raw[0])


@DATASETS.register_module()
class FashionMNIST(MNIST):
    """Fashion-MNIST (Xiao et al. 2017): Zalando article images in MNIST's format, 10 classes."""

    url_prefix = 'http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/'
    train_list = [('train-images-idx3-ubyte.gz', '8d4fb7e6c68d591d4c3dfef9ec88bf0d'),
                  ('train-labels-idx1-ubyte.gz', '25c81989df183df01b3e8a0aad5dffbe')]
    test_list = [('t10k-images-idx3-ubyte.gz', 'bef4ecab320f06d8554ea6380940ec79'),
                 ('t10k-labels-idx1-ubyte.gz', 'bb300cfdad3c16e7a12a480ee83cd310')]
    METAINFO = {'classes': FASHIONMNIST_CATEGORIES}

"""Small data sets in the official formats, generated per test session."""
from __future__ import annotations

import gzip
import pickle

import numpy as np
import pytest
import torch
from data_testutil import _png, idx_bytes, jpeg_bytes, write


@pytest.fixture(autouse=True)
def _one_thread():
    """Per-image transforms run single-threaded in DataLoader workers; do the same here (on a busy
    machine, small multi-threaded ops can be 100x slower)."""
    n = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(n)


@pytest.fixture(scope='session')
def folder_data(tmp_path_factory):
    """class folders: cat (2 images, one nested), dog (2 images + a .txt and a hidden file)."""
    root = tmp_path_factory.mktemp('folders')
    write(root / 'train' / 'cat' / 'a.jpg', jpeg_bytes(seed=1))
    write(root / 'train' / 'cat' / 'sub' / 'b.JPEG', jpeg_bytes(seed=2))
    write(root / 'train' / 'dog' / 'c.png', _png(seed=3))
    write(root / 'train' / 'dog' / 'd.jpeg', jpeg_bytes(seed=4))
    write(root / 'train' / 'dog' / 'notes.txt', b'not an image')
    write(root / 'train' / 'dog' / '.hidden.jpg', jpeg_bytes(seed=5))
    return root


@pytest.fixture(scope='session')
def cifar_root(tmp_path_factory):
    """cifar-10-batches-py and cifar-100-python with 2 tiny batches each, official pickle layout."""
    root = tmp_path_factory.mktemp('cifar')
    rng = np.random.default_rng(0)
    c10 = root / 'cifar-10-batches-py'
    c10.mkdir()
    for name, n in [('data_batch_1', 4), ('data_batch_2', 4), ('data_batch_3', 4), ('data_batch_4', 4),
                    ('data_batch_5', 4), ('test_batch', 3)]:
        entry = {'batch_label': name, 'labels': [int(x) for x in rng.integers(0, 10, n)],
                 'data': rng.integers(0, 256, (n, 3072), dtype=np.uint8), 'filenames': [f'{i}.png' for i in range(n)]}
        with open(c10 / name, 'wb') as f:
            pickle.dump(entry, f, protocol=2)
    with open(c10 / 'batches.meta', 'wb') as f:
        pickle.dump({'label_names': ['airplane'] * 10, 'num_vis': 3072}, f, protocol=2)
    c100 = root / 'cifar-100-python'
    c100.mkdir()
    for name, n in [('train', 5), ('test', 2)]:
        entry = {'fine_labels': [int(x) for x in rng.integers(0, 100, n)],
                 'coarse_labels': [int(x) for x in rng.integers(0, 20, n)],
                 'data': rng.integers(0, 256, (n, 3072), dtype=np.uint8)}
        with open(c100 / name, 'wb') as f:
            pickle.dump(entry, f, protocol=2)
    return root


@pytest.fixture(scope='session')
def mnist_root(tmp_path_factory):
    """MNIST-style IDX files: train gzipped, test raw."""
    root = tmp_path_factory.mktemp('mnist')
    rng = np.random.default_rng(0)
    imgs = rng.integers(0, 256, (6, 28, 28), dtype=np.uint8)
    labels = np.array([0, 1, 2, 3, 4, 9], dtype=np.uint8)
    with gzip.open(root / 'train-images-idx3-ubyte.gz', 'wb') as f:
        f.write(idx_bytes(imgs))
    with gzip.open(root / 'train-labels-idx1-ubyte.gz', 'wb') as f:
        f.write(idx_bytes(labels))
    (root / 't10k-images-idx3-ubyte').write_bytes(idx_bytes(imgs[:2]))
    (root / 't10k-labels-idx1-ubyte').write_bytes(idx_bytes(labels[:2]))
    return root

"""Real-data fixtures: MNIST-format files written from the CIFAR-10 JPEGs (the `cifar10_root` fixture)."""
from __future__ import annotations

import os

import numpy as np
import pytest


@pytest.fixture(scope='session')
def cifar_as_mnist_root(cifar10_root, tmp_path_factory):
    """MNIST IDX files from CIFAR-10: 10,000 training JPEGs (1,000 a class) and all 10,000 test JPEGs,
    greyscaled and resized to 28x28. Labels are the CIFAR classes (sorted names)."""
    from PIL import Image

    from fovea.data.datasets.mnist import write_mnist
    out = tmp_path_factory.mktemp('cifar_as_mnist')
    for split, per_class in (('train', 1000), ('test', None)):
        root = os.path.join(cifar10_root, split)
        images, labels = [], []
        for label, name in enumerate(sorted(os.listdir(root))):
            for f in sorted(os.listdir(os.path.join(root, name)))[:per_class]:
                img = Image.open(os.path.join(root, name, f)).convert('L').resize((28, 28), Image.BILINEAR)
                images.append(np.asarray(img))
                labels.append(label)
        write_mnist(str(out), split, np.stack(images), np.array(labels))
    return out

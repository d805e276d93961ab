"""ImageNet-1k and ImageNet-21k (MMPretrain's layouts and arguments)."""
from __future__ import annotations

import logging
import os

from fovea.data.datasets.categories import IMAGENET_CATEGORIES
from fovea.data.datasets.custom import CustomDataset
from fovea.registry import DATASETS
from fovea.utils.errors import ConfigError

__all__ = ['ImageNet', 'ImageNet21k']

logger = logging.getLogger('fovea')


def _split_paths(cls_name: str, data_root: str, split: str, splits: tuple[str, ...], data_prefix, ann_file):
    if split not in splits:
        raise ConfigError(f'{cls_name} split={split!r} is not one of {list(splits)}.')
    data_prefix = split if data_prefix == '' else data_prefix
    if ann_file == '' and os.path.isfile(os.path.join(data_root, 'meta', f'{split}.txt')):
        ann_file = os.path.join('meta', f'{split}.txt')
    return data_prefix, ann_file


@DATASETS.register_module()
class ImageNet(CustomDataset):
    """ImageNet-1k (Deng et al. 2009; ILSVRC 2012), 1000 classes.

    Layouts under ``data_root``: ``train/<wnid>/*.JPEG`` class folders (classes are the 1000
    sorted wnids) and ``val/`` either as class folders or flat with ``meta/val.txt``
    (``ILSVRC2012_val_00000001.JPEG 65`` lines); ``meta/<split>.txt`` is used whenever it
    exists. ``split='test'`` reads unlabelled images. Class names are the WordNet synonyms
    (``METAINFO['classes']``).
    """

    IMG_EXTENSIONS = ('.jpg', '.jpeg', '.png', '.ppm', '.bmp', '.pgm', '.tif')
    METAINFO = {'classes': IMAGENET_CATEGORIES}

    def __init__(self, data_root: str = '', split: str = '', data_prefix: str | dict = '', ann_file: str = '',
                 metainfo: dict | None = None, **kwargs):
        kwargs = {'extensions': self.IMG_EXTENSIONS, **kwargs}
        if split:
            if split == 'test':
                kwargs['with_label'] = False
            data_prefix, ann_file = _split_paths('ImageNet', data_root, split, ('train', 'val', 'test'),
                                                 data_prefix, ann_file)
        self.split = split
        super().__init__(data_root=data_root, data_prefix=data_prefix, ann_file=ann_file, metainfo=metainfo,
                         **kwargs)


@DATASETS.register_module()
class ImageNet21k(CustomDataset):
    """ImageNet-21k (fall 2011 release, 21,841 classes): ``train/`` class folders or ``meta/train.txt``.

    Give ``ann_file`` for speed on the 14M images; class names are not bundled (pass ``classes``).
    """

    IMG_EXTENSIONS = ('.jpg', '.jpeg', '.png', '.ppm', '.bmp', '.pgm', '.tif')

    def __init__(self, data_root: str = '', split: str = '', data_prefix: str | dict = '', ann_file: str = '',
                 metainfo: dict | None = None, multi_label: bool = False, **kwargs):
        if multi_label:
            raise ConfigError('ImageNet21k multi_label=True is not supported (nor is it in MMPretrain); '
                              'use MultiLabelDataset with an annotation file instead.')
        self.multi_label = multi_label
        if split:
            data_prefix, ann_file = _split_paths('ImageNet21k', data_root, split, ('train',), data_prefix, ann_file)
        self.split = split
        if not ann_file:
            logger.info('ImageNet21k: scanning class folders; an ann_file (meta/train.txt) is faster.')
        kwargs = {'extensions': self.IMG_EXTENSIONS, **kwargs}
        super().__init__(data_root=data_root, data_prefix=data_prefix, ann_file=ann_file, metainfo=metainfo,
                         **kwargs)

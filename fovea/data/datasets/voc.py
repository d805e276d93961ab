"""PASCAL VOC as a multi-label classification dataset (Everingham et al., IJCV 2010)."""
from __future__ import annotations

import os
import xml.etree.ElementTree as ET

from fovea.data.datasets.base import BaseDataset
from fovea.data.datasets.categories import VOC2007_CATEGORIES
from fovea.registry import DATASETS
from fovea.utils.errors import ConfigError, DataError

__all__ = ['VOC']


@DATASETS.register_module()
class VOC(BaseDataset):
    """VOC2007-style multi-label data: ``ImageSets/Main/<split>.txt`` ids, ``JPEGImages/<id>.jpg``,
    ``Annotations/<id>.xml``.

    ``gt_label`` holds the classes of the non-difficult objects and ``gt_label_difficult`` those
    seen only as difficult objects (MMPretrain's VOC metrics ignore the latter). Without
    annotations (``data_prefix`` without ``ann_path`` in test mode) samples have no labels.
    """

    METAINFO = {'classes': VOC2007_CATEGORIES}

    def __init__(self, data_root: str, split: str = 'trainval', image_set_path: str = '',
                 data_prefix: str | dict = dict(img_path='JPEGImages', ann_path='Annotations'),
                 test_mode: bool = False, metainfo: dict | None = None, **kwargs):
        if split:
            if split not in ('train', 'val', 'trainval', 'test'):
                raise ConfigError(f"VOC split={split!r}: use 'train', 'val', 'trainval' or 'test'.")
            if not data_prefix:
                data_prefix = dict(img_path='JPEGImages', ann_path='Annotations')
            if not image_set_path:
                image_set_path = os.path.join('ImageSets', 'Main', f'{split}.txt')
        self.split = split
        if isinstance(data_prefix, str):
            data_prefix = dict(img_path=os.path.expanduser(data_prefix))
        if not isinstance(data_prefix, dict) or 'img_path' not in data_prefix:
            raise ConfigError('VOC data_prefix must be a dict with an img_path key')
        ann = data_prefix.get('ann_path')
        if ann is None and not test_mode:
            raise ConfigError('VOC needs data_prefix["ann_path"] (the Annotations folder) for training.')
        self.ann_prefix = os.path.join(data_root, ann) if ann else None
        self.image_set_path = os.path.join(data_root, image_set_path)
        super().__init__(ann_file='', metainfo=metainfo, data_root=data_root,
                         data_prefix=data_prefix['img_path'], test_mode=test_mode, **kwargs)

    def _labels_from_xml(self, img_id: str) -> tuple[list[int], list[int]]:
        path = os.path.join(self.ann_prefix, f'{img_id}.xml')
        try:
            root = ET.parse(path).getroot()
        except FileNotFoundError:
            raise DataError(f'VOC annotation {path} does not exist (listed in {self.image_set_path}).') from None
        except ET.ParseError as exc:
            raise DataError(f'{path}, line {exc.position[0]}: invalid XML ({exc}).') from None
        labels, difficult = set(), set()
        idx = self.class_to_idx
        for obj in root.findall('object'):
            name = obj.findtext('name')
            if name not in idx:
                continue
            if int(obj.findtext('difficult') or 0):
                difficult.add(idx[name])
            else:
                labels.add(idx[name])
        return sorted(labels), sorted(difficult)

    def load_data_list(self) -> list[dict]:
        try:
            with open(self.image_set_path, encoding='utf-8') as f:
                ids = [ln.strip() for ln in f if ln.strip()]
        except FileNotFoundError:
            raise DataError(f'VOC image set {self.image_set_path} does not exist; check data_root and split.') from None
        data = []
        for img_id in ids:
            info = {'img_path': os.path.join(self.img_prefix, f'{img_id}.jpg')}
            if self.ann_prefix is not None:
                info['gt_label'], info['gt_label_difficult'] = self._labels_from_xml(img_id)
            data.append(info)
        return data

    def get_cat_ids(self, idx: int) -> list[int]:
        return list(self.data_list[idx].get('gt_label') or [])

"""CocoDataset: object detection annotations in COCO's format (MMDetection's ``CocoDataset`` arguments).

``ann_file`` is a COCO ``instances_*.json`` (``images``, ``annotations`` with ``bbox`` [x, y, w, h],
``category_id``, ``iscrowd``, ``segmentation``; ``categories``), read with pycocotools
(``pip install 'fovea[detection]'``). Each sample is one image: ``img_path``, ``img_id``, ``height``,
``width`` and ``instances`` (``bbox`` as x1, y1, x2, y2, ``bbox_label`` 0-based in the order of the
classes, ``ignore_flag`` for crowd boxes, ``mask`` the segmentation). ``LoadAnnotations`` turns them
into tensors. The classes are the file's categories (by id) unless ``metainfo`` names them;
``metainfo['cat_ids']`` holds the category id of each class, for ``CocoMetric``.
"""
from __future__ import annotations

import os

from fovea.data.datasets.base import BaseDataset, expand_path
from fovea.registry import DATASETS
from fovea.utils.errors import DataError, require

__all__ = ['CocoDataset', 'load_coco']


def load_coco(ann_file: str):
    """A pycocotools ``COCO`` of ``ann_file`` (its index printout silenced), errors naming the file."""
    import contextlib
    import io
    coco_mod = require('pycocotools.coco', 'detection', 'COCO-format annotations')
    if not os.path.isfile(ann_file):
        raise DataError(f'annotation file {ann_file} does not exist; check data_root and ann_file.')
    try:
        with contextlib.redirect_stdout(io.StringIO()):
            return coco_mod.COCO(ann_file)
    except Exception as exc:
        raise DataError(f'{ann_file} is not a COCO annotation file: {type(exc).__name__}: {exc}') from None


@DATASETS.register_module()
class CocoDataset(BaseDataset):
    """COCO-format detection data.

    Args:
        ann_file: the COCO json (relative to ``data_root``).
        data_prefix: ``dict(img='train2017/')`` or a path: the images' folder.
        metainfo: ``dict(classes=(...))`` to use (and order) a subset of the categories.
        filter_cfg: ``dict(filter_empty_gt=True, min_size=32)`` drops, in training only, images
            without usable boxes and images smaller than ``min_size`` (MMDetection's options).
        Other arguments: see :class:`~fovea.data.datasets.base.BaseDataset`.
    """

    def __init__(self, ann_file: str, data_prefix: str | dict = '', filter_cfg: dict | None = None,
                 backend_args: dict | None = None, **kwargs):
        self.filter_cfg = dict(filter_cfg or {})
        super().__init__(ann_file=ann_file, data_prefix=data_prefix, **kwargs)

    def load_data_list(self) -> list[dict]:
        coco = load_coco(self.ann_file)
        cats = sorted(coco.loadCats(coco.getCatIds()), key=lambda c: c['id'])
        by_name = {c['name']: c['id'] for c in cats}
        classes = self._metainfo.get('classes') or tuple(c['name'] for c in cats)
        missing = [c for c in classes if c not in by_name]
        if missing:
            raise DataError(f'{self.ann_file}: classes {missing} are not categories of the file '
                            f'(its categories: {sorted(by_name)}).')
        self._metainfo['classes'] = tuple(classes)
        self._metainfo['cat_ids'] = [by_name[c] for c in classes]
        cat2label = {cid: i for i, cid in enumerate(self._metainfo['cat_ids'])}
        out = []
        for img_id in sorted(coco.getImgIds()):
            img = coco.loadImgs([img_id])[0]
            instances = []
            for ann in coco.loadAnns(coco.getAnnIds(imgIds=[img_id])):
                x, y, w, h = ann['bbox']
                if ann['category_id'] not in cat2label or ann.get('area', w * h) <= 0 or w < 1 or h < 1:
                    continue  # other categories and degenerate boxes, as MMDetection
                inst = dict(bbox=[x, y, x + w, y + h], bbox_label=cat2label[ann['category_id']],
                            ignore_flag=int(bool(ann.get('iscrowd', 0))))
                if ann.get('segmentation') is not None:
                    inst['mask'] = ann['segmentation']
                instances.append(inst)
            info = dict(img_path=expand_path(self.data_prefix, img['file_name']), img_id=img_id,
                        height=img['height'], width=img['width'], instances=instances)
            if not self.test_mode and self._filtered(info):
                continue
            out.append(info)
        return out

    def _filtered(self, info: dict) -> bool:
        if self.filter_cfg.get('filter_empty_gt', False) and not any(not i['ignore_flag'] for i in info['instances']):
            return True
        return min(info['height'], info['width']) < self.filter_cfg.get('min_size', 0)

"""Detection annotations into tensors and packing (MMDetection's ``LoadAnnotations`` and ``PackDetInputs``)."""
from __future__ import annotations

from typing import Sequence

import numpy as np
import torch

from fovea.data.transforms.base import BaseTransform
from fovea.data.transforms.formatting import to_tensor
from fovea.registry import TRANSFORMS
from fovea.structures import DataSample
from fovea.utils.errors import DataError, require

__all__ = ['LoadAnnotations', 'PackDetInputs', 'polygons_to_mask']


def polygons_to_mask(segmentation, height: int, width: int) -> np.ndarray:
    """A COCO segmentation (polygons, RLE or uncompressed RLE) as an (H, W) uint8 mask."""
    mask_utils = require('pycocotools.mask', 'detection', 'instance masks')
    if isinstance(segmentation, list):
        rle = mask_utils.merge(mask_utils.frPyObjects(segmentation, height, width))
    elif isinstance(segmentation.get('counts'), list):
        rle = mask_utils.frPyObjects(segmentation, height, width)
    else:
        rle = segmentation
    return mask_utils.decode(rle)


@TRANSFORMS.register_module()
class LoadAnnotations(BaseTransform):
    """``results['instances']`` (from :class:`~fovea.data.datasets.CocoDataset`) into tensors.

    Added Keys: ``gt_bboxes`` (float32 (N, 4), x1 y1 x2 y2), ``gt_bboxes_labels`` (int64 (N,)),
    ``gt_ignore_flags`` (bool (N,), crowd boxes), ``gt_masks`` (uint8 (N, H, W), with ``with_mask``).
    """

    def __init__(self, with_bbox: bool = True, with_label: bool = True, with_mask: bool = False,
                 poly2mask: bool = True, **kwargs):
        self.with_bbox, self.with_label, self.with_mask = with_bbox, with_label, with_mask

    def transform(self, results: dict) -> dict:
        instances = results.get('instances', [])
        results['gt_bboxes'] = torch.tensor([i['bbox'] for i in instances], dtype=torch.float32).reshape(-1, 4)
        results['gt_bboxes_labels'] = torch.tensor([i['bbox_label'] for i in instances], dtype=torch.int64)
        results['gt_ignore_flags'] = torch.tensor([bool(i['ignore_flag']) for i in instances], dtype=torch.bool)
        if self.with_mask:
            h, w = results['height'], results['width']
            if any('mask' not in i for i in instances):
                raise DataError(f'{results.get("img_path")}: an annotation has no segmentation, but the pipeline '
                                f'loads masks (with_mask=True).')
            masks = [polygons_to_mask(i['mask'], h, w) for i in instances]
            results['gt_masks'] = torch.from_numpy(np.stack(masks)) if masks else torch.zeros(0, h, w, dtype=torch.uint8)
        return results


@TRANSFORMS.register_module()
class PackDetInputs(BaseTransform):
    """``{'inputs': uint8 (C, H, W), 'data_samples': DataSample}`` with ``gt_bboxes``, ``gt_labels``,
    ``gt_ignore_flags`` and ``gt_masks`` as fields and ``meta_keys`` as meta information."""

    _packs_image = True
    DEFAULT_META_KEYS = ('img_id', 'img_path', 'ori_shape', 'img_shape', 'scale_factor', 'flip', 'flip_direction')

    def __init__(self, meta_keys: Sequence[str] = DEFAULT_META_KEYS):
        self.meta_keys = tuple(meta_keys)

    def transform(self, results: dict) -> dict:
        sample = DataSample()
        for key, field in (('gt_bboxes', 'gt_bboxes'), ('gt_bboxes_labels', 'gt_labels'),
                           ('gt_ignore_flags', 'gt_ignore_flags'), ('gt_masks', 'gt_masks')):
            if key in results:
                sample.set_field(results[key], field)
        sample.set_metainfo({k: results[k] for k in self.meta_keys if k in results})
        sample.set_metainfo({'mmpretrain_bgr': bool(results.get('mmpretrain_bgr', True))})
        return {'inputs': to_tensor(results['img']), 'data_samples': sample}

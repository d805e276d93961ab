"""Box-aware augmentation for visual grounding (MMPretrain's RefCOCO training pipeline): MMDetection's
``RandomCrop`` (registered as ``mmdet.RandomCrop``, the name the config uses), MMCV's ``RandomChoiceResize``
and MMPretrain's ``RandomTranslatePad``. Boxes are ``gt_bboxes``, x1 y1 x2 y2 pixels (a float32 (N, 4) tensor
after any of these); ``Resize`` scales them too.
"""
from __future__ import annotations

from typing import Sequence

import numpy as np
import torch

from fovea.data.transforms.base import BaseTransform
from fovea.data.transforms.processing import Resize, box_tensor, clip_boxes
from fovea.registry import TRANSFORMS
from fovea.utils.errors import ConfigError, DataError

__all__ = ['BoxRandomCrop', 'RandomChoiceResize', 'RandomTranslatePad']


@TRANSFORMS.register_module(name='mmdet.RandomCrop')
class BoxRandomCrop(BaseTransform):
    """Crop a random window and the boxes with it (MMDetection's ``RandomCrop``).

    **Required Keys:** ``img``, optional ``gt_bboxes``. **Modified Keys:** ``img``, ``img_shape``, ``gt_bboxes``
    (shifted, clipped to the window with ``bbox_clip_border``; boxes left without area are dropped).

    Args:
        crop_size: (h, w): pixels ('absolute'), or the least share of the image ('relative_range': each side
            a random share in [crop_size, 1]; 'relative': exactly that share).
        crop_type: 'absolute', 'relative' or 'relative_range'.
        allow_negative_crop: keep a crop that leaves no box; otherwise the sample is dropped (``None``) and a
            training dataset takes the next one.
        bbox_clip_border: clip boxes to the window.
    """

    def __init__(self, crop_size: Sequence[float], crop_type: str = 'absolute', allow_negative_crop: bool = False,
                 recompute_bbox: bool = False, bbox_clip_border: bool = True):
        if crop_type not in ('absolute', 'relative', 'relative_range'):
            raise ConfigError(f"mmdet.RandomCrop crop_type={crop_type!r}: use 'absolute', 'relative' or "
                              f"'relative_range'.")
        ch, cw = crop_size
        if crop_type != 'absolute' and not (0 < ch <= 1 and 0 < cw <= 1):
            raise ConfigError(f'mmdet.RandomCrop crop_size={tuple(crop_size)} with crop_type={crop_type!r}: give '
                              f'shares of the image in (0, 1].')
        self.crop_size, self.crop_type = (ch, cw), crop_type
        self.allow_negative_crop, self.bbox_clip_border = allow_negative_crop, bbox_clip_border

    def _size(self, h: int, w: int) -> tuple[int, int]:
        ch, cw = self.crop_size
        if self.crop_type == 'absolute':
            return min(int(ch), h), min(int(cw), w)
        if self.crop_type == 'relative_range':
            ch, cw = ch + np.random.rand() * (1 - ch), cw + np.random.rand() * (1 - cw)
        return int(h * ch + 0.5), int(w * cw + 0.5)

    def transform(self, results: dict) -> dict | None:
        img = results['img']
        h, w = img.shape[-2:]
        ch, cw = self._size(h, w)
        top = int(np.random.randint(0, h - ch + 1))
        left = int(np.random.randint(0, w - cw + 1))
        results['img'] = img[..., top:top + ch, left:left + cw]
        results['img_shape'] = (ch, cw)
        if 'gt_bboxes' in results:
            boxes = box_tensor(results['gt_bboxes']) - torch.tensor([left, top, left, top], dtype=torch.float32)
            if self.bbox_clip_border:
                boxes = clip_boxes(boxes, ch, cw)
            valid = (boxes[:, 2] > boxes[:, 0]) & (boxes[:, 3] > boxes[:, 1])
            if not bool(valid.any()) and not self.allow_negative_crop:
                return None
            results['gt_bboxes'] = boxes[valid]
        return results


@TRANSFORMS.register_module()
class RandomChoiceResize(BaseTransform):
    """Resize to one of ``scales`` ((w, h) each, as MMCV), drawn uniformly (MMCV's ``RandomChoiceResize``);
    other arguments go to :class:`Resize` (``keep_ratio``, ``interpolation``, ...), which also scales the boxes."""

    def __init__(self, scales: Sequence[int | Sequence[int]], resize_type: str = 'Resize', **resize_kwargs):
        if resize_type != 'Resize':
            raise ConfigError(f"RandomChoiceResize resize_type={resize_type!r}: fovea supports 'Resize'.")
        if not scales:
            raise ConfigError('RandomChoiceResize needs at least one scale.')
        self.resizes = [Resize(scale=s, **resize_kwargs) for s in scales]

    def transform(self, results: dict) -> dict:
        return self.resizes[np.random.randint(len(self.resizes))](results)


@TRANSFORMS.register_module()
class RandomTranslatePad(BaseTransform):
    """Place the image on a black ``size`` x ``size`` canvas, at a random offset (``aug_translate``) or centred,
    and move the boxes with it (MMPretrain's ``RandomTranslatePad``). The image must fit on the canvas."""

    def __init__(self, size: int = 640, aug_translate: bool = False):
        self.size, self.aug_translate = size, aug_translate

    def transform(self, results: dict) -> dict:
        img = results['img']
        h, w = img.shape[-2:]
        dh, dw = self.size - h, self.size - w
        if dh < 0 or dw < 0:
            raise DataError(f'RandomTranslatePad(size={self.size}): the image is {h}x{w}, larger than the canvas; '
                            f'resize it to at most {self.size} px first.')
        if self.aug_translate:
            top, left = int(np.random.randint(0, dh + 1)), int(np.random.randint(0, dw + 1))
        else:
            top, left = round(dh / 2.0 - 0.1), round(dw / 2.0 - 0.1)
        out = img.new_zeros((*img.shape[:-2], self.size, self.size))
        out[..., top:top + h, left:left + w] = img
        results['img'], results['img_shape'] = out, (self.size, self.size)
        if 'gt_bboxes' in results:
            results['gt_bboxes'] = box_tensor(results['gt_bboxes']) + torch.tensor([left, top, left, top],
                                                                                   dtype=torch.float32)
        return results

"""PackInputs: turn a sample dict into ``{'inputs': tensor, 'data_samples': DataSample}``."""
from __future__ import annotations

from typing import Sequence

import numpy as np
import torch

from fovea.data.transforms.base import BaseTransform
from fovea.registry import TRANSFORMS
from fovea.structures import DataSample

__all__ = ['PackInputs', 'to_tensor']


def to_tensor(img) -> torch.Tensor:
    """A CHW tensor from a CHW tensor, an HWC/HW numpy array or a PIL image."""
    if isinstance(img, torch.Tensor):
        return img
    if isinstance(img, np.ndarray):
        arr = img[..., None] if img.ndim == 2 else img
        return torch.from_numpy(np.ascontiguousarray(arr.transpose(2, 0, 1)))
    from PIL import Image
    if isinstance(img, Image.Image):
        return to_tensor(np.asarray(img))
    raise TypeError(f'cannot convert {type(img).__name__} to an image tensor')


@TRANSFORMS.register_module()
class PackInputs(BaseTransform):
    """Pack the image and labels for the model.

    Args:
        input_key: key of the image in the sample dict.
        algorithm_keys: extra sample keys copied as DataSample fields (e.g. 'gt_score', 'text');
            ``gt_label``, ``gt_score`` and a mask generator's ``mask`` are packed without being named.
        meta_keys: sample keys copied as DataSample meta information.
    """

    _packs_image = True

    DEFAULT_META_KEYS = ('sample_idx', 'img_path', 'ori_shape', 'img_shape', 'scale_factor', 'flip',
                         'flip_direction')

    def __init__(self, input_key: str = 'img', algorithm_keys: Sequence[str] = (),
                 meta_keys: Sequence[str] = DEFAULT_META_KEYS):
        self.input_key = input_key
        self.algorithm_keys = tuple(algorithm_keys)
        self.meta_keys = tuple(meta_keys)

    def transform(self, results: dict) -> dict:
        packed = {}
        if self.input_key in results:
            img = results[self.input_key]
            packed['inputs'] = [to_tensor(i) for i in img] if isinstance(img, list) else to_tensor(img)
        sample = DataSample()
        if 'gt_label' in results:
            sample.set_gt_label(results['gt_label'])
        if 'gt_score' in results:
            sample.set_gt_score(results['gt_score'])
        if 'mask' in results:  # masked image modelling's patch mask, packed by default as in MMPretrain
            mask = results['mask']
            sample.set_field(torch.from_numpy(mask) if isinstance(mask, np.ndarray) else mask, 'mask')
        for k in self.algorithm_keys:
            if k in results:
                sample.set_field(results[k], k)
        sample.set_metainfo({k: results[k] for k in self.meta_keys if k in results})
        # the channel order MMPretrain would have for this sample: BGR for decoded files and other
        # images, RGB for the RGB arrays of CIFAR-style datasets; the data preprocessor's to_rgb
        # depends on it
        sample.set_metainfo({'mmpretrain_bgr': bool(results.get('mmpretrain_bgr', True))})
        packed['data_samples'] = sample
        return packed

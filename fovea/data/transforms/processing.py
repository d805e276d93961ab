"""Geometric and photometric transforms on uint8 CHW tensors (torchvision.transforms.v2 underneath)."""
from __future__ import annotations

from typing import Sequence

import torch
from torchvision.transforms import InterpolationMode
from torchvision.transforms.v2 import functional as TF

from fovea.data.transforms.base import BaseTransform
from fovea.registry import TRANSFORMS

__all__ = ['Resize', 'INTERPOLATION']

INTERPOLATION = {
    'nearest': InterpolationMode.NEAREST, 'bilinear': InterpolationMode.BILINEAR,
    'bicubic': InterpolationMode.BICUBIC, 'lanczos': InterpolationMode.LANCZOS,
    'area': InterpolationMode.BILINEAR,  # antialiased bilinear approximates area resampling
}


def _interp(name: str) -> InterpolationMode:
    if name not in INTERPOLATION:
        raise ValueError(f'interpolation {name!r} is not one of {sorted(INTERPOLATION)}')
    return INTERPOLATION[name]


@TRANSFORMS.register_module()
class Resize(BaseTransform):
    """Resize to a fixed size (MMCV's Resize).

    Args:
        scale: target (width, height), or an int for a square.
        scale_factor: alternatively, a factor applied to the current size.
        keep_ratio: fit within ``scale`` keeping the aspect ratio.
        interpolation: 'nearest', 'bilinear', 'bicubic', 'lanczos' or 'area'.
    """

    def __init__(self, scale: int | Sequence[int] | None = None, scale_factor: float | None = None,
                 keep_ratio: bool = False, interpolation: str = 'bilinear', backend: str = 'cv2'):
        if scale is None and scale_factor is None:
            raise ValueError('Resize needs scale or scale_factor')
        self.scale = (scale, scale) if isinstance(scale, int) else (tuple(scale) if scale is not None else None)
        self.scale_factor = scale_factor
        self.keep_ratio = keep_ratio
        self.interpolation = interpolation
        self._mode = _interp(interpolation)

    def _target(self, h: int, w: int) -> tuple[int, int]:
        if self.scale is None:
            return int(h * self.scale_factor + 0.5), int(w * self.scale_factor + 0.5)
        tw, th = self.scale
        if self.keep_ratio:
            r = min(max(tw, th) / max(h, w), min(tw, th) / min(h, w))
            return int(h * r + 0.5), int(w * r + 0.5)
        return th, tw

    def transform(self, results: dict) -> dict:
        img: torch.Tensor = results['img']
        h, w = img.shape[-2:]
        nh, nw = self._target(h, w)
        results['img'] = TF.resize(img, [nh, nw], interpolation=self._mode, antialias=True)
        results['img_shape'] = (nh, nw)
        results['scale_factor'] = (nw / w, nh / h)
        return results

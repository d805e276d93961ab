"""Transform conventions and Compose.

A transform is a callable that takes the sample dict and returns it (or
``None`` to drop the sample). Images travel as ``results['img']``: a
``torch.uint8`` tensor of shape (C, H, W) in RGB order (greyscale stays 1
channel), with ``img_shape`` = (H, W) and ``ori_shape`` kept alongside.
Transforms are registered under MMPretrain's names in ``TRANSFORMS``.

Images in MMPretrain's layout (HWC NumPy arrays, BGR after MMPretrain's own loading, as a
user's MMPretrain-style transform emits them) are converted once, by the first fovea transform
that sees them (:func:`ensure_chw_image`): a 3-dimensional array is HWC, and its colour
channels are BGR unless the sample says MMPretrain holds it in RGB (``mmpretrain_bgr=False``,
as CIFAR/MNIST-style datasets mark their arrays). Arrays that cannot be HWC images and tensors
that look HWC are a :class:`~fovea.utils.errors.DataError` naming the transform, never a
silently wrong result. The other way round, :class:`Compose` hands a transform written on MMCV's
``BaseTransform`` (an MMPretrain-style transform) the image as MMPretrain would: an HWC NumPy array,
BGR unless ``mmpretrain_bgr=False`` (:func:`to_mmcv_image`).
"""
from __future__ import annotations

from typing import Any, Callable, Sequence

import numpy as np
import torch

from fovea.registry import TRANSFORMS, build, key_scope
from fovea.utils.errors import DataError

__all__ = ['Compose', 'BaseTransform', 'ensure_chw_image', 'to_mmcv_image']

_CHANNELS = (1, 2, 3, 4)


def _numpy_to_chw(img: np.ndarray, bgr: bool, owner: str, packing: bool = False) -> torch.Tensor:
    if packing and img.ndim > 3:  # video-like (N, C, T, H, W) arrays are packed as they are
        return torch.from_numpy(np.ascontiguousarray(img))
    if img.ndim == 2:
        img = img[..., None]
    if img.ndim != 3 or img.shape[-1] not in _CHANNELS:
        hint = (' It looks like (C, H, W): fovea takes NumPy images as (H, W, C) and tensors as (C, H, W); '
                'pass torch.from_numpy(img).' if img.ndim == 3 and img.shape[0] in _CHANNELS else '')
        raise DataError(f'{owner} got a NumPy image of shape {img.shape}, which is not an (H, W) or '
                        f'(H, W, C) image with 1-4 channels.{hint}')
    if img.dtype != np.uint8 and not packing:
        raise DataError(f'{owner} got a {img.dtype} NumPy image; fovea transforms take uint8 images '
                        f'(convert with img.astype(np.uint8), or apply float conversions in the data '
                        f'preprocessor).')
    if bgr and img.shape[-1] in (3, 4):  # BGR(A) -> RGB(A)
        img = img[..., [2, 1, 0] + list(range(3, img.shape[-1]))]
    return torch.from_numpy(np.ascontiguousarray(img.transpose(2, 0, 1)))


def ensure_chw_image(img, results: dict, owner: str = 'transform', packing: bool = False):
    """Return ``img`` as fovea's uint8 (C, H, W) RGB tensor (see the module docstring).

    Tensors are returned as they are unless they look (H, W, C) (channels last, first dimension
    not a channel count), which is a :class:`DataError`; lists (multi-view) are converted item by
    item. ``owner`` names the transform in error messages. ``packing`` (PackInputs, the last step)
    also takes other dtypes and passes arrays of more than 3 dimensions (videos) through unchanged.
    """
    if isinstance(img, torch.Tensor):
        if img.ndim == 3 and img.shape[0] not in _CHANNELS and img.shape[-1] in _CHANNELS:
            raise DataError(f'{owner} got a tensor image of shape {tuple(img.shape)}, which looks like '
                            f'(H, W, C); fovea image tensors are (C, H, W): use img.permute(2, 0, 1).')
        return img
    if isinstance(img, np.ndarray):
        return _numpy_to_chw(img, bool(results.get('mmpretrain_bgr', True)), owner, packing)
    if isinstance(img, list):
        return [ensure_chw_image(i, results, owner, packing) for i in img]
    return img


def to_mmcv_image(img, results: dict):
    """A (C, H, W) tensor image as MMCV/MMPretrain transforms take it: an (H, W, C) NumPy array,
    BGR(A) unless ``results['mmpretrain_bgr']`` is False; other values (arrays, lists) unchanged."""
    if isinstance(img, list):
        return [to_mmcv_image(i, results) for i in img]
    if not isinstance(img, torch.Tensor) or img.ndim != 3:
        return img
    arr = img.permute(1, 2, 0).cpu().numpy()
    if results.get('mmpretrain_bgr', True) and arr.shape[-1] in (3, 4):
        arr = arr[..., [2, 1, 0] + list(range(3, arr.shape[-1]))]
    return np.ascontiguousarray(arr)


def _is_mmcv_transform(t: Callable) -> bool:
    return any(c.__module__.startswith('mmcv.') and c.__name__ == 'BaseTransform' for c in type(t).__mro__)


class BaseTransform:
    """Base class: subclasses implement :meth:`transform` on fovea's (C, H, W) tensor images.

    ``__call__`` first converts an MMPretrain-layout image in ``results['img']`` (see the module
    docstring), so every transform sees the layout it expects.
    """

    #: PackInputs sets this: the image is only packed, so other dtypes and videos are fine
    _packs_image = False

    def __call__(self, results: dict) -> dict | None:
        if isinstance(results, dict) and 'img' in results:
            img = results['img']
            if not isinstance(img, torch.Tensor) or img.ndim == 3:
                new = ensure_chw_image(img, results, type(self).__name__, self._packs_image)
                if new is not img:
                    results['img'] = new
                    if isinstance(new, torch.Tensor):
                        results['img_shape'] = tuple(new.shape[-2:])
                        results.setdefault('ori_shape', tuple(new.shape[-2:]))
        return self.transform(results)

    def transform(self, results: dict) -> dict | None:
        raise NotImplementedError

    def __repr__(self) -> str:
        args = ', '.join(f'{k}={v!r}' for k, v in vars(self).items() if not k.startswith('_'))
        return f'{type(self).__name__}({args})'


@TRANSFORMS.register_module()
class Compose:
    """Apply transforms in order; a transform returning ``None`` drops the sample."""

    def __init__(self, transforms: Sequence[dict | Callable] | None = None):
        self.transforms: list[Callable] = []
        with key_scope('pipeline'):
            for i, t in enumerate(transforms or ()):
                t = build(t, TRANSFORMS, key=str(i)) if isinstance(t, dict) else t
                if not callable(t):
                    raise TypeError(f'pipeline entry {i} is a {type(t).__name__}, not a transform')
                self.transforms.append(t)

    def __call__(self, results: Any) -> Any:
        for t in self.transforms:
            if isinstance(results, dict) and 'img' in results and _is_mmcv_transform(t):
                results['img'] = to_mmcv_image(results['img'], results)
            results = t(results)
            if results is None:
                return None
        return results

    def __repr__(self) -> str:
        return 'Compose(\n' + ''.join(f'    {t!r},\n' for t in self.transforms) + ')'

"""Transforms that wrap other transforms: MultiView, RandomApply, RandomChoice, and torchvision's.

Every class of ``torchvision.transforms.v2`` is registered as ``'torchvision/<Name>'`` (MMPretrain
registers ``torchvision.transforms`` the same way), applied to ``results['img']``: for example
``dict(type='torchvision/RandomHorizontalFlip', p=0.5)`` or
``dict(type='torchvision/RandomResizedCrop', size=224, interpolation='bicubic')`` (interpolation
names and dtype names are converted). The v2 transforms act on uint8 CHW tensors directly.
"""
from __future__ import annotations

import copy
import inspect
from enum import EnumMeta
from typing import Any, Callable, Sequence

import numpy as np
import torch
from torchvision.transforms import InterpolationMode
from torchvision.transforms import v2

from fovea.data.transforms.base import BaseTransform, Compose
from fovea.registry import TRANSFORMS
from fovea.utils.errors import ConfigError

__all__ = ['MultiView', 'ApplyToList', 'RandomApply', 'RandomChoice', 'TorchVisionWrapper', 'VISION_TRANSFORMS', 'ToPIL', 'ToNumpy']


@TRANSFORMS.register_module()
class MultiView(BaseTransform):
    """Make several augmented views of one image (for self-supervised learning).

    ``transforms`` is a list of pipelines and ``num_views`` how many views each makes, e.g.
    ``MultiView(num_views=[2, 6], transforms=[global_pipeline, local_pipeline])``. The result's
    ``img`` is the list of views (in pipeline order); other keys are those of the input.
    """

    def __init__(self, transforms: Sequence[Sequence[dict | Callable]], num_views: int | Sequence[int]):
        if isinstance(num_views, int):
            num_views = [num_views]
        num_views = list(num_views)
        if len(num_views) != len(transforms):
            raise ConfigError(f'MultiView: {len(num_views)} num_views entries for {len(transforms)} pipelines; '
                              f'give one count per pipeline.')
        self.num_views = num_views
        self.pipelines = [Compose(t) for t in transforms]
        self.transforms = [p for p, n in zip(self.pipelines, num_views) for _ in range(n)]

    def transform(self, results: dict) -> dict:
        views = []
        for t in self.transforms:
            out = t(copy.copy(results))
            views.append(out['img'])
        results['img'] = views
        return results


@TRANSFORMS.register_module()
class ApplyToList(BaseTransform):
    """Run ``transforms`` once per item of a list field (``scatter_key``: NLVR2's two ``img_path``s), on copies of
    the sample; the ``collate_keys`` (and ``scatter_key``) become lists of the per-item results, other keys are
    the first item's (MMPretrain's ``ApplyToList``). A field that is not a list is transformed as one sample.
    ``PackInputs`` then packs ``img`` as a list of images, which the loader stacks into one batch per item."""

    def __init__(self, transforms: Sequence[dict | Callable], scatter_key: str, collate_keys: Sequence[str]):
        self.transforms = Compose(transforms)
        self.scatter_key = scatter_key
        self.collate_keys = {*collate_keys, scatter_key}

    def transform(self, results: dict) -> dict | None:
        items = results.get(self.scatter_key)
        if not isinstance(items, list):
            return self.transforms(results)
        outs = [self.transforms({**copy.deepcopy(results), self.scatter_key: item}) for item in items]
        if any(o is None for o in outs):
            return None
        final = outs[0]
        for key in self.collate_keys & set(final):
            final[key] = [o[key] for o in outs]
        return final


@TRANSFORMS.register_module()
class RandomApply(BaseTransform):
    """Apply ``transforms`` (in order) with probability ``prob`` (MMCV's RandomApply)."""

    def __init__(self, transforms: Sequence[dict | Callable], prob: float = 0.5):
        if not 0 <= prob <= 1:
            raise ConfigError(f'RandomApply prob must be in [0, 1], got {prob}')
        self.prob = prob
        self.transforms = Compose(transforms)

    def transform(self, results: dict) -> dict | None:
        if np.random.rand() < self.prob:
            return self.transforms(results)
        return results


@TRANSFORMS.register_module()
class RandomChoice(BaseTransform):
    """Apply one of several pipelines, chosen with probabilities ``prob`` (uniform by default)."""

    def __init__(self, transforms: Sequence[Sequence[dict | Callable]], prob: Sequence[float] | None = None):
        self.transforms = [Compose(t) for t in transforms]
        if prob is not None and (len(prob) != len(self.transforms) or abs(sum(prob) - 1) > 1e-6):
            raise ConfigError('RandomChoice prob needs one entry per pipeline, summing to 1')
        self.prob = prob

    def transform(self, results: dict) -> dict | None:
        i = np.random.choice(len(self.transforms), p=self.prob)
        return self.transforms[i](results)


_INTERP = {'nearest': InterpolationMode.NEAREST, 'bilinear': InterpolationMode.BILINEAR,
           'bicubic': InterpolationMode.BICUBIC, 'box': InterpolationMode.BOX,
           'hamming': InterpolationMode.HAMMING, 'lanczos': InterpolationMode.LANCZOS,
           'nearest-exact': InterpolationMode.NEAREST_EXACT}


class TorchVisionWrapper(BaseTransform):
    """Apply a ``torchvision.transforms.v2`` transform to ``results['img']``."""

    def __init__(self, transform: type, *args: Any, **kwargs: Any):
        if isinstance(kwargs.get('interpolation'), str):
            name = kwargs['interpolation']
            if name not in _INTERP:
                raise ConfigError(f'interpolation {name!r} is not one of {sorted(_INTERP)}')
            kwargs['interpolation'] = _INTERP[name]
        if isinstance(kwargs.get('dtype'), str):
            kwargs['dtype'] = getattr(torch, kwargs['dtype'])
        self.t = transform(*args, **kwargs)

    def transform(self, results: dict) -> dict:
        img = self.t(results['img'])
        results['img'] = img
        if isinstance(img, torch.Tensor):
            results['img_shape'] = tuple(img.shape[-2:])
        return results

    def __repr__(self) -> str:
        return f'TorchVision{self.t!r}'


def _register_vision_transforms() -> list[str]:
    names = []
    for name in dir(v2):
        obj = getattr(v2, name)
        if (name[:1].isupper() and inspect.isclass(obj) and not isinstance(obj, EnumMeta)
                and issubclass(obj, torch.nn.Module)):
            def factory(*args: Any, _t: type = obj, **kwargs: Any) -> TorchVisionWrapper:
                return TorchVisionWrapper(_t, *args, **kwargs)
            factory.__name__ = f'torchvision/{name}'
            factory.__signature__ = inspect.signature(obj)  # config argument checks against the real one
            TRANSFORMS.register_module(name=f'torchvision/{name}', module=factory)
            names.append(f'torchvision/{name}')
    return names


VISION_TRANSFORMS = _register_vision_transforms()


@TRANSFORMS.register_module()
class ToPIL(BaseTransform):
    """``results['img']`` as an RGB PIL image, for ``torchvision/*`` transforms that should run on PIL
    (MMPretrain's name). fovea's images are RGB already, so ``to_rgb`` changes nothing."""

    def __init__(self, to_rgb: bool = False):
        self.to_rgb = to_rgb

    def transform(self, results: dict) -> dict:
        from torchvision.transforms.v2 import functional as TF
        img = results['img']
        results['img'] = TF.to_pil_image(img) if isinstance(img, torch.Tensor) else img
        return results


@TRANSFORMS.register_module()
class ToNumpy(BaseTransform):
    """Back from a PIL image (``ToPIL``) to fovea's image type, a uint8 (C, H, W) RGB tensor, with
    ``img_shape`` (MMPretrain's name; it makes a BGR NumPy array, which ``to_bgr`` asks for: fovea keeps RGB)."""

    def __init__(self, to_bgr: bool = False, dtype: str | None = None):
        self.to_bgr = to_bgr
        self.dtype = dtype

    def transform(self, results: dict) -> dict:
        img = results['img']
        if not isinstance(img, torch.Tensor):
            arr = np.asarray(img)
            arr = arr[..., None] if arr.ndim == 2 else arr
            img = torch.from_numpy(np.ascontiguousarray(arr.transpose(2, 0, 1)))
        results['img'] = img
        results['img_shape'] = tuple(img.shape[-2:])
        return results

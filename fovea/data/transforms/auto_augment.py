"""AutoAugment, RandAugment and their operations (MMPretrain's names, arguments and policies).

AutoAugment: Cubuk et al., "AutoAugment: Learning Augmentation Policies from Data", CVPR 2019.
RandAugment: Cubuk et al., "RandAugment: Practical automated data augmentation with a reduced
search space", NeurIPS 2020; the ``'timm_increasing'`` policy set is timm's
``_RAND_INCREASING_TRANSFORMS``.

Every operation takes a fixed magnitude (``angle=30``) or a ``magnitude_range`` that maps
``magnitude_level / total_level`` linearly onto it, with optional Gaussian noise
(``magnitude_std``) or uniform sampling (``magnitude_std='inf'``), and fires with
probability ``prob``. Images are uint8 CHW tensors; geometric operations use
``torchvision.transforms.v2.functional.affine`` about the same centre as MMCV (the top-left
corner for Shear/Translate, the image centre for Rotate). Tensor affine warps support
nearest and bilinear sampling, so ``interpolation='bicubic'`` is carried out as bilinear.
"""
from __future__ import annotations

import copy
import inspect
import math
from numbers import Number
from typing import Sequence

import numpy as np
import torch
from torchvision.transforms import InterpolationMode
from torchvision.transforms.v2 import functional as TF

from fovea.data.transforms.base import BaseTransform, Compose
from fovea.data.transforms.processing import config_fill
from fovea.registry import TRANSFORMS, build, key_scope
from fovea.utils.errors import ConfigError

__all__ = ['AutoAugment', 'RandAugment', 'BaseAugTransform', 'Shear', 'Translate', 'Rotate', 'AutoContrast',
           'Invert', 'Equalize', 'Solarize', 'SolarizeAdd', 'Posterize', 'Contrast', 'ColorTransform',
           'Brightness', 'Sharpness', 'Cutout', 'GaussianBlur', 'AUTOAUG_POLICIES', 'RANDAUG_POLICIES']


def _warp_mode(interpolation: str) -> InterpolationMode:
    return InterpolationMode.NEAREST if interpolation == 'nearest' else InterpolationMode.BILINEAR


class BaseAugTransform(BaseTransform):
    """Shared magnitude and probability logic of the AutoAugment/RandAugment operations.

    Args:
        magnitude_level: level in [0, total_level] mapped onto ``magnitude_range``.
        magnitude_range: (value at level 0, value at ``total_level``); None when the magnitude is fixed.
        magnitude_std: Gaussian noise on the level (> 0), none (<= 0), or 'inf' (uniform in [0, level]).
        total_level: the top level.
        prob: probability to apply the operation.
        random_negative_prob: probability to negate the magnitude.
    """

    def __init__(self, magnitude_level: float = 10, magnitude_range: Sequence[float] | None = None,
                 magnitude_std: float | str = 0., total_level: float = 10, prob: float = 0.5,
                 random_negative_prob: float = 0.5):
        if not 0 <= prob <= 1:
            raise ConfigError(f'{type(self).__name__} prob must be in [0, 1], got {prob}')
        if isinstance(magnitude_std, str) and magnitude_std != 'inf':
            raise ConfigError(f"{type(self).__name__} magnitude_std must be a number or 'inf', got {magnitude_std!r}")
        self.magnitude_level = magnitude_level
        self.magnitude_range = tuple(magnitude_range) if magnitude_range is not None else None
        self.magnitude_std = magnitude_std
        self.total_level = total_level
        self.prob = prob
        self.random_negative_prob = random_negative_prob

    def _check_one(self, value, name: str) -> None:
        if (value is None) == (self.magnitude_range is None):
            raise ConfigError(f'{type(self).__name__}: give only one of {name} and magnitude_range (exactly one '
                              f'is needed).')

    def random_disable(self) -> bool:
        return np.random.rand() > self.prob

    def random_magnitude(self) -> float:
        m = self.magnitude_level
        if self.magnitude_std == 'inf':
            m = np.random.uniform(0, m)
        elif self.magnitude_std > 0:
            m = float(np.clip(np.random.normal(m, self.magnitude_std), 0, self.total_level))
        v1, v2 = self.magnitude_range  # type: ignore[misc]
        return m / self.total_level * (v2 - v1) + v1

    def random_negative(self, value: float) -> float:
        return -value if np.random.rand() < self.random_negative_prob else value

    def _value(self, fixed, negate: bool = True) -> float:
        v = fixed if fixed is not None else self.random_magnitude()
        return self.random_negative(v) if negate else v

    def transform(self, results: dict) -> dict:
        if self.random_disable():
            return results
        results['img'] = self.apply(results['img'], results)
        return results

    def apply(self, img: torch.Tensor, results: dict) -> torch.Tensor:
        raise NotImplementedError


@TRANSFORMS.register_module()
class Shear(BaseAugTransform):
    """Shear by ``magnitude`` (the shear factor, not an angle) about the top-left corner."""

    def __init__(self, magnitude: float | None = None, pad_val: float | Sequence[float] = 128, prob: float = 0.5,
                 direction: str = 'horizontal', random_negative_prob: float = 0.5, interpolation: str = 'bicubic',
                 **kwargs):
        super().__init__(prob=prob, random_negative_prob=random_negative_prob, **kwargs)
        self._check_one(magnitude, 'magnitude')
        if direction not in ('horizontal', 'vertical'):
            raise ConfigError(f"Shear direction must be 'horizontal' or 'vertical', got {direction!r}")
        self.magnitude = magnitude
        self.pad_val = tuple(pad_val) if isinstance(pad_val, Sequence) else pad_val
        self.direction = direction
        self.interpolation = interpolation

    def apply(self, img: torch.Tensor, results: dict) -> torch.Tensor:
        m = self._value(self.magnitude)
        deg = math.degrees(math.atan(m))
        shear = [-deg, 0.0] if self.direction == 'horizontal' else [0.0, -deg]
        return TF.affine(img, angle=0.0, translate=[0.0, 0.0], scale=1.0, shear=shear,
                         interpolation=_warp_mode(self.interpolation),
                         fill=config_fill(self.pad_val, img.shape[0], results),
                         center=[0.5, 0.5])  # MMCV shears about the centre of the top-left pixel


@TRANSFORMS.register_module()
class Translate(BaseAugTransform):
    """Translate by ``magnitude`` times the width (horizontal) or height (vertical)."""

    def __init__(self, magnitude: float | None = None, pad_val: float | Sequence[float] = 128, prob: float = 0.5,
                 direction: str = 'horizontal', random_negative_prob: float = 0.5, interpolation: str = 'nearest',
                 **kwargs):
        super().__init__(prob=prob, random_negative_prob=random_negative_prob, **kwargs)
        self._check_one(magnitude, 'magnitude')
        if direction not in ('horizontal', 'vertical'):
            raise ConfigError(f"Translate direction must be 'horizontal' or 'vertical', got {direction!r}")
        self.magnitude = magnitude
        self.pad_val = tuple(pad_val) if isinstance(pad_val, Sequence) else pad_val
        self.direction = direction
        self.interpolation = interpolation

    def apply(self, img: torch.Tensor, results: dict) -> torch.Tensor:
        m = self._value(self.magnitude)
        h, w = img.shape[-2:]
        t = [m * w, 0.0] if self.direction == 'horizontal' else [0.0, m * h]
        if self.interpolation == 'nearest':
            t = [float(round(x)) for x in t]
        return TF.affine(img, angle=0.0, translate=t, scale=1.0, shear=[0.0, 0.0],
                         interpolation=_warp_mode(self.interpolation),
                         fill=config_fill(self.pad_val, img.shape[0], results))


@TRANSFORMS.register_module()
class Rotate(BaseAugTransform):
    """Rotate by ``angle`` degrees, clockwise for positive values (MMCV's convention)."""

    def __init__(self, angle: float | None = None, center: Sequence[float] | None = None, scale: float = 1.0,
                 pad_val: float | Sequence[float] = 128, prob: float = 0.5, random_negative_prob: float = 0.5,
                 interpolation: str = 'nearest', **kwargs):
        super().__init__(prob=prob, random_negative_prob=random_negative_prob, **kwargs)
        self._check_one(angle, 'angle')
        self.angle = angle
        self.center = center
        self.scale = scale
        self.pad_val = tuple(pad_val) if isinstance(pad_val, Sequence) else pad_val
        self.interpolation = interpolation

    def apply(self, img: torch.Tensor, results: dict) -> torch.Tensor:
        angle = self._value(self.angle)
        # torchvision's affine angle is clockwise, like MMCV's; its coordinates put pixel centres at
        # +0.5 (so its default centre is MMCV's ((w - 1) / 2, (h - 1) / 2))
        center = [c + 0.5 for c in self.center] if self.center is not None else None
        return TF.affine(img, angle=angle, translate=[0.0, 0.0], scale=self.scale, shear=[0.0, 0.0],
                         interpolation=_warp_mode(self.interpolation),
                         fill=config_fill(self.pad_val, img.shape[0], results),
                         center=center)


@TRANSFORMS.register_module()
class AutoContrast(BaseAugTransform):
    """Stretch each channel to the full 0-255 range."""

    def __init__(self, prob: float = 0.5, **kwargs):
        super().__init__(prob=prob, **kwargs)

    def apply(self, img: torch.Tensor, results: dict) -> torch.Tensor:
        return TF.autocontrast(img)


@TRANSFORMS.register_module()
class Invert(BaseAugTransform):
    """255 - pixel."""

    def __init__(self, prob: float = 0.5, **kwargs):
        super().__init__(prob=prob, **kwargs)

    def apply(self, img: torch.Tensor, results: dict) -> torch.Tensor:
        return TF.invert(img)


@TRANSFORMS.register_module()
class Equalize(BaseAugTransform):
    """Histogram equalisation per channel."""

    def __init__(self, prob: float = 0.5, **kwargs):
        super().__init__(prob=prob, **kwargs)

    def apply(self, img: torch.Tensor, results: dict) -> torch.Tensor:
        return TF.equalize(img)


@TRANSFORMS.register_module()
class Solarize(BaseAugTransform):
    """Invert the pixels at or above ``thr``."""

    def __init__(self, thr: float | None = None, prob: float = 0.5, **kwargs):
        super().__init__(prob=prob, random_negative_prob=0., **kwargs)
        self._check_one(thr, 'thr')
        self.thr = thr

    def apply(self, img: torch.Tensor, results: dict) -> torch.Tensor:
        thr = self._value(self.thr, negate=False)
        return torch.where(img < thr, img, 255 - img)


@TRANSFORMS.register_module()
class SolarizeAdd(BaseAugTransform):
    """Add ``magnitude`` to the pixels below ``thr`` (saturating at 255)."""

    def __init__(self, magnitude: float | None = None, thr: float = 128, prob: float = 0.5, **kwargs):
        super().__init__(prob=prob, random_negative_prob=0., **kwargs)
        self._check_one(magnitude, 'magnitude')
        if not isinstance(thr, (int, float)):
            raise ConfigError(f'SolarizeAdd thr must be a number, got {thr!r}')
        self.magnitude = magnitude
        self.thr = thr

    def apply(self, img: torch.Tensor, results: dict) -> torch.Tensor:
        m = self._value(self.magnitude, negate=False)
        added = (img.float() + m).clamp_(max=255).to(img.dtype)
        return torch.where(img < self.thr, added, img)


@TRANSFORMS.register_module()
class Posterize(BaseAugTransform):
    """Keep the top ``bits`` bits of each pixel (the bit count is rounded up, as timm)."""

    def __init__(self, bits: int | None = None, prob: float = 0.5, **kwargs):
        super().__init__(prob=prob, random_negative_prob=0., **kwargs)
        self._check_one(bits, 'bits')
        if bits is not None and bits > 8:
            raise ConfigError(f'Posterize bits must be <= 8, got {bits}')
        self.bits = bits

    def apply(self, img: torch.Tensor, results: dict) -> torch.Tensor:
        bits = min(8, max(0, math.ceil(self._value(self.bits, negate=False))))
        mask = (0xFF << (8 - bits)) & 0xFF
        return img & mask


class _Enhance(BaseAugTransform):
    """Blend with a degenerate image by factor ``1 + magnitude``."""

    def __init__(self, magnitude: float | None = None, prob: float = 0.5, random_negative_prob: float = 0.5,
                 **kwargs):
        super().__init__(prob=prob, random_negative_prob=random_negative_prob, **kwargs)
        self._check_one(magnitude, 'magnitude')
        self.magnitude = magnitude

    def apply(self, img: torch.Tensor, results: dict) -> torch.Tensor:
        return self.enhance(img, max(0.0, 1 + self._value(self.magnitude)))

    def enhance(self, img: torch.Tensor, factor: float) -> torch.Tensor:
        raise NotImplementedError


@TRANSFORMS.register_module()
class Contrast(_Enhance):
    """Adjust contrast: factor 1 + magnitude (0 gives a grey image at the mean luminance)."""

    def enhance(self, img, factor):
        return TF.adjust_contrast(img, factor) if img.shape[0] in (1, 3) else img


@TRANSFORMS.register_module()
class ColorTransform(_Enhance):
    """Adjust colour saturation: factor 1 + magnitude (0 gives greyscale)."""

    def enhance(self, img, factor):
        return TF.adjust_saturation(img, factor) if img.shape[0] == 3 else img


@TRANSFORMS.register_module()
class Brightness(_Enhance):
    """Adjust brightness: factor 1 + magnitude (0 gives black)."""

    def enhance(self, img, factor):
        return TF.adjust_brightness(img, factor)


@TRANSFORMS.register_module()
class Sharpness(_Enhance):
    """Adjust sharpness: factor 1 + magnitude (0 gives the smoothed image)."""

    def enhance(self, img, factor):
        return TF.adjust_sharpness(img, factor)


@TRANSFORMS.register_module()
class Cutout(BaseAugTransform):
    """Fill a ``shape`` (int or (h, w)) box at a random centre with ``pad_val``
    (DeVries & Taylor 2017, arXiv:1708.04552)."""

    def __init__(self, shape: int | Sequence[int] | None = None, pad_val: float | Sequence[float] = 128,
                 prob: float = 0.5, **kwargs):
        super().__init__(prob=prob, random_negative_prob=0., **kwargs)
        self._check_one(shape, 'shape')
        self.shape = shape
        self.pad_val = tuple(pad_val) if isinstance(pad_val, Sequence) else pad_val

    def apply(self, img: torch.Tensor, results: dict) -> torch.Tensor:
        shape = self.shape if self.shape is not None else int(self.random_magnitude())
        ch, cw = (shape, shape) if isinstance(shape, (int, float)) else shape
        ih, iw = img.shape[-2:]
        y0 = np.random.uniform(ih)
        x0 = np.random.uniform(iw)
        y1, x1 = int(max(0, y0 - ch / 2.)), int(max(0, x0 - cw / 2.))
        y2, x2 = min(ih, y1 + int(ch)), min(iw, x1 + int(cw))
        img = img.clone()
        fill = torch.tensor(config_fill(self.pad_val, img.shape[0], results), dtype=torch.float32).view(-1, 1, 1)
        img[:, y1:y2, x1:x2] = fill.to(img.dtype)
        return img


@TRANSFORMS.register_module()
class GaussianBlur(BaseAugTransform):
    """Gaussian blur with standard deviation ``radius`` (Pillow's GaussianBlur radius)."""

    def __init__(self, radius: float | None = None, prob: float = 0.5, **kwargs):
        super().__init__(prob=prob, random_negative_prob=0., **kwargs)
        self._check_one(radius, 'radius')
        self.radius = radius

    def apply(self, img: torch.Tensor, results: dict) -> torch.Tensor:
        sigma = float(self._value(self.radius, negate=False))
        if sigma <= 0:
            return img
        k = 2 * math.ceil(3 * sigma) + 1
        k = min(k, 2 * (min(img.shape[-2:]) // 2) - 1) if min(img.shape[-2:]) < k else k
        return TF.gaussian_blur(img, [k, k], [sigma, sigma])


def _merge_hparams(policy: dict, hparams: dict) -> dict:
    """Add the ``hparams`` entries that the policy's operation accepts by name and does not set."""
    policy = copy.deepcopy(dict(policy))
    op = TRANSFORMS.get(policy['type']) if isinstance(policy['type'], str) else policy['type']
    params = inspect.signature(op).parameters
    named = {n for n, p in params.items() if p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY)}
    for k, v in hparams.items():
        if k in named and k not in policy:
            policy[k] = v
    return policy


# yapf: disable
AUTOAUG_POLICIES = {
    # the ImageNet policy of the AutoAugment paper (as tabulated by DeepVoltaire/AutoAugment and MMPretrain)
    'imagenet': [
        [dict(type='Posterize', bits=4, prob=0.4), dict(type='Rotate', angle=30., prob=0.6)],
        [dict(type='Solarize', thr=256 / 9 * 4, prob=0.6), dict(type='AutoContrast', prob=0.6)],
        [dict(type='Equalize', prob=0.8), dict(type='Equalize', prob=0.6)],
        [dict(type='Posterize', bits=5, prob=0.6), dict(type='Posterize', bits=5, prob=0.6)],
        [dict(type='Equalize', prob=0.4), dict(type='Solarize', thr=256 / 9 * 5, prob=0.2)],
        [dict(type='Equalize', prob=0.4), dict(type='Rotate', angle=30 / 9 * 8, prob=0.8)],
        [dict(type='Solarize', thr=256 / 9 * 6, prob=0.6), dict(type='Equalize', prob=0.6)],
        [dict(type='Posterize', bits=6, prob=0.8), dict(type='Equalize', prob=1.)],
        [dict(type='Rotate', angle=10., prob=0.2), dict(type='Solarize', thr=256 / 9, prob=0.6)],
        [dict(type='Equalize', prob=0.6), dict(type='Posterize', bits=5, prob=0.4)],
        [dict(type='Rotate', angle=30 / 9 * 8, prob=0.8), dict(type='ColorTransform', magnitude=0., prob=0.4)],
        [dict(type='Rotate', angle=30., prob=0.4), dict(type='Equalize', prob=0.6)],
        [dict(type='Equalize', prob=0.0), dict(type='Equalize', prob=0.8)],
        [dict(type='Invert', prob=0.6), dict(type='Equalize', prob=1.)],
        [dict(type='ColorTransform', magnitude=0.4, prob=0.6), dict(type='Contrast', magnitude=0.8, prob=1.)],
        [dict(type='Rotate', angle=30 / 9 * 8, prob=0.8), dict(type='ColorTransform', magnitude=0.2, prob=1.)],
        [dict(type='ColorTransform', magnitude=0.8, prob=0.8), dict(type='Solarize', thr=256 / 9 * 2, prob=0.8)],
        [dict(type='Sharpness', magnitude=0.7, prob=0.4), dict(type='Invert', prob=0.6)],
        [dict(type='Shear', magnitude=0.3 / 9 * 5, prob=0.6, direction='horizontal'),
         dict(type='Equalize', prob=1.)],
        [dict(type='ColorTransform', magnitude=0., prob=0.4), dict(type='Equalize', prob=0.6)],
        [dict(type='Equalize', prob=0.4), dict(type='Solarize', thr=256 / 9 * 5, prob=0.2)],
        [dict(type='Solarize', thr=256 / 9 * 4, prob=0.6), dict(type='AutoContrast', prob=0.6)],
        [dict(type='Invert', prob=0.6), dict(type='Equalize', prob=1.)],
        [dict(type='ColorTransform', magnitude=0.4, prob=0.6), dict(type='Contrast', magnitude=0.8, prob=1.)],
        [dict(type='Equalize', prob=0.8), dict(type='Equalize', prob=0.6)],
    ],
}

RANDAUG_POLICIES = {
    # timm's _RAND_INCREASING_TRANSFORMS: stronger augmentation at higher levels for every op
    'timm_increasing': [
        dict(type='AutoContrast'),
        dict(type='Equalize'),
        dict(type='Invert'),
        dict(type='Rotate', magnitude_range=(0, 30)),
        dict(type='Posterize', magnitude_range=(4, 0)),
        dict(type='Solarize', magnitude_range=(256, 0)),
        dict(type='SolarizeAdd', magnitude_range=(0, 110)),
        dict(type='ColorTransform', magnitude_range=(0, 0.9)),
        dict(type='Contrast', magnitude_range=(0, 0.9)),
        dict(type='Brightness', magnitude_range=(0, 0.9)),
        dict(type='Sharpness', magnitude_range=(0, 0.9)),
        dict(type='Shear', magnitude_range=(0, 0.3), direction='horizontal'),
        dict(type='Shear', magnitude_range=(0, 0.3), direction='vertical'),
        dict(type='Translate', magnitude_range=(0, 0.45), direction='horizontal'),
        dict(type='Translate', magnitude_range=(0, 0.45), direction='vertical'),
    ],
    'simple_increasing': [
        dict(type='AutoContrast'),
        dict(type='Equalize'),
        dict(type='Rotate', magnitude_range=(0, 30)),
        dict(type='Shear', magnitude_range=(0, 0.3), direction='horizontal'),
        dict(type='Shear', magnitude_range=(0, 0.3), direction='vertical'),
    ],
}
# yapf: enable


@TRANSFORMS.register_module()
class AutoAugment(BaseTransform):
    """Apply one randomly chosen sub-policy (a short list of operations) per image.

    Args:
        policies: 'imagenet' or a list of sub-policies (lists of operation configs).
        hparams: defaults (``pad_val``, ``interpolation``) given to operations that accept them.
    """

    def __init__(self, policies: str | list[list[dict]], hparams: dict | None = None):
        if hparams is None:
            hparams = dict(pad_val=128)
        if isinstance(policies, str):
            if policies not in AUTOAUG_POLICIES:
                raise ConfigError(f'AutoAugment policies={policies!r}: preset policies are {list(AUTOAUG_POLICIES)}')
            policies = AUTOAUG_POLICIES[policies]
        self.hparams = hparams
        self.policies = [[_merge_hparams(t, hparams) for t in sub] for sub in policies]
        with key_scope('policies'):
            self.transforms = [Compose([build(t, TRANSFORMS, key=str(j)) for j, t in enumerate(sub)])
                               for sub in self.policies]

    def transform(self, results: dict) -> dict | None:
        return self.transforms[np.random.choice(len(self.transforms))](results)  # MMCV RandomChoice's draw

    def __repr__(self) -> str:
        subs = '\n    '.join(', '.join(t['type'] for t in sub) for sub in self.policies)
        return f'AutoAugment(policies:\n    {subs}\n)'


@TRANSFORMS.register_module()
class RandAugment(BaseTransform):
    """Apply ``num_policies`` operations drawn (with replacement) from ``policies`` per image.

    Args:
        policies: 'timm_increasing', 'simple_increasing' or a list of operation configs; an
            operation with ``magnitude_range`` gets its magnitude from the level below.
        num_policies: operations per image.
        magnitude_level: level in [0, total_level] shared by all operations.
        magnitude_std: noise on the level: a std (> 0), none (0), or 'inf' (uniform in [0, level]).
        total_level: the top level.
        hparams: defaults (``pad_val``, ``interpolation``) given to operations that accept them.
    """

    def __init__(self, policies: str | list[dict], num_policies: int, magnitude_level: float,
                 magnitude_std: float | str = 0., total_level: float = 10, hparams: dict | None = None):
        if hparams is None:
            hparams = dict(pad_val=128)
        if isinstance(policies, str):
            if policies not in RANDAUG_POLICIES:
                raise ConfigError(f'RandAugment policies={policies!r}: preset policies are {list(RANDAUG_POLICIES)}')
            policies = RANDAUG_POLICIES[policies]
        if isinstance(magnitude_std, str) and magnitude_std != 'inf':
            raise ConfigError(f"RandAugment magnitude_std must be a number or 'inf', got {magnitude_std!r}")
        if num_policies <= 0 or magnitude_level < 0 or total_level <= 0:
            raise ConfigError('RandAugment needs num_policies > 0, magnitude_level >= 0 and total_level > 0')
        self.num_policies = num_policies
        self.magnitude_level = magnitude_level
        self.magnitude_std = magnitude_std
        self.total_level = total_level
        self.hparams = hparams
        self.policies = []
        self.transforms = []
        with key_scope('policies'):
            for j, policy in enumerate(policies):
                if not isinstance(policy, dict) or 'type' not in policy:
                    raise ConfigError(f'RandAugment policy {j} must be a dict with a "type", got {policy!r}')
                policy = _merge_hparams(policy, hparams)
                policy.pop('magnitude_key', None)
                if 'magnitude_range' in policy:
                    policy.update(magnitude_level=magnitude_level, total_level=total_level,
                                  magnitude_std=magnitude_std)
                self.policies.append(policy)
                self.transforms.append(build(policy, TRANSFORMS, key=str(j)))

    def transform(self, results: dict) -> dict | None:
        for i in np.random.choice(len(self.transforms), size=self.num_policies).tolist():
            results = self.transforms[i](results)
            if results is None:
                return None
        return results

    def __repr__(self) -> str:
        ops = ', '.join(p['type'] for p in self.policies)
        return (f'RandAugment(num_policies={self.num_policies}, magnitude_level={self.magnitude_level}, '
                f'magnitude_std={self.magnitude_std}, total_level={self.total_level}, policies=[{ops}])')

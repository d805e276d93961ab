"""Geometric and photometric transforms on uint8 CHW tensors (torchvision.transforms.v2 underneath).

Names, arguments and semantics follow MMPretrain/MMCV (``RandomResizedCrop(scale=224)``
makes a 224x224 output; sizes given as pairs are (w, h) for ``Resize``, (h, w) for crops,
as in MMCV). Random parameters are drawn from NumPy's global generator in the same order
as MMPretrain, so a seeded worker reproduces its crops.

Channel order: fovea images are RGB. Colour-valued arguments (``pad_val``, ``fill_color``,
``fill_std``) keep MMPretrain's meaning, which follows the order of MMPretrain's image at that
point: BGR after ``LoadImageFromFile`` (MMPretrain decodes files to BGR, hence configs' ``pad_val=
bgr_mean``), RGB for datasets that hold RGB arrays (CIFAR). Such datasets mark their samples
``results['mmpretrain_bgr'] = False``; otherwise these transforms reverse 3-channel colour values
onto the RGB image, so a config fills with the same colour as in MMPretrain. ``RandomGrayscale`` has an
explicit ``color_format`` argument instead.

``backend`` ('cv2'/'pillow') arguments are accepted and ignored: resizing is always
torchvision's antialiased resampling, which matches Pillow's.
"""
from __future__ import annotations

import math
import numbers
from typing import Sequence

import numpy as np
import torch
from torchvision.transforms import InterpolationMode
from torchvision.transforms.v2 import functional as TF

from fovea.data.transforms.base import BaseTransform
from fovea.registry import TRANSFORMS
from fovea.utils.errors import ConfigError, ConfigTypeError

__all__ = ['MMPRETRAIN_BGR', 'config_fill', 'Resize', 'ResizeEdge', 'RandomResizedCrop',
           'RandomResizedCropAndInterpolationWithTwoPic', 'EfficientNetRandomCrop',
           'CenterCrop', 'EfficientNetCenterCrop', 'RandomCrop', 'RandomFlip', 'ColorJitter', 'Lighting', 'RandomGrayscale',
           'RandomErasing', 'Pad', 'INTERPOLATION', 'resize_img']

INTERPOLATION = {
    'nearest': InterpolationMode.NEAREST, 'bilinear': InterpolationMode.BILINEAR,
    'bicubic': InterpolationMode.BICUBIC, 'lanczos': InterpolationMode.LANCZOS,
    'area': InterpolationMode.BILINEAR,  # antialiased bilinear approximates area resampling
    'box': InterpolationMode.BOX, 'hamming': InterpolationMode.HAMMING,
}


def _interp(name: str) -> InterpolationMode:
    if isinstance(name, InterpolationMode):
        return name
    if name not in INTERPOLATION:
        raise ConfigError(f'interpolation {name!r} is not one of {sorted(INTERPOLATION)}')
    return INTERPOLATION[name]


def resize_img(img: torch.Tensor, h: int, w: int, interpolation: str | InterpolationMode = 'bilinear'
               ) -> torch.Tensor:
    """Resize a (C, H, W) image to (h, w) with antialiasing (PIL-like), keeping uint8."""
    if tuple(img.shape[-2:]) == (h, w):
        return img
    mode = _interp(interpolation)
    if mode in (InterpolationMode.LANCZOS, InterpolationMode.BOX, InterpolationMode.HAMMING):
        from PIL import Image  # tensor kernels exist only for nearest/bilinear/bicubic
        pil = TF.to_pil_image(img)
        return TF.pil_to_tensor(pil.resize((w, h), {InterpolationMode.LANCZOS: Image.LANCZOS,
                                                    InterpolationMode.BOX: Image.BOX,
                                                    InterpolationMode.HAMMING: Image.HAMMING}[mode]))
    return TF.resize(img, [h, w], interpolation=mode, antialias=mode != InterpolationMode.NEAREST)


def _pair(value: int | Sequence[int], name: str) -> tuple[int, int]:
    if isinstance(value, numbers.Number):
        if value <= 0:
            raise ConfigError(f'{name} must be positive, got {value}')
        return int(value), int(value)
    value = tuple(int(v) for v in value)
    if len(value) != 2 or min(value) <= 0:
        raise ConfigError(f'{name} must be a positive int or a pair of positive ints, got {value}')
    return value  # type: ignore[return-value]


def _fill(value, channels: int) -> list[float]:
    if isinstance(value, numbers.Number):
        return [float(value)] * channels
    value = [float(v) for v in value]
    if len(value) != channels:
        if channels == 1:
            return [sum(value) / len(value)]
        raise ValueError(f'fill value {value} has {len(value)} entries for a {channels}-channel image')
    return value


#: sample key set by LoadImageFromFile: MMPretrain would hold this image in BGR order, so colour
#: arguments are BGR (see the module docstring) and PackInputs records it for the data preprocessor
MMPRETRAIN_BGR = 'mmpretrain_bgr'


def config_fill(value, channels: int, results: dict) -> list[float]:
    """A per-channel fill for the RGB image from a colour argument given in MMPretrain's order."""
    vals = _fill(value, channels)
    return vals[::-1] if channels == 3 and results.get(MMPRETRAIN_BGR, True) else vals


def _crop(img: torch.Tensor, top: int, left: int, h: int, w: int) -> torch.Tensor:
    return img[..., top:top + h, left:left + w]


def box_tensor(boxes) -> torch.Tensor:
    """``gt_bboxes`` (a list, NumPy array or tensor of x1 y1 x2 y2 rows) as a float32 (N, 4) tensor copy."""
    return torch.as_tensor(np.asarray(boxes, dtype=np.float32) if not isinstance(boxes, torch.Tensor) else boxes,
                           dtype=torch.float32).reshape(-1, 4).clone()


def clip_boxes(boxes: torch.Tensor, h: int, w: int) -> torch.Tensor:
    """Boxes clipped to an ``h`` x ``w`` image."""
    boxes[:, 0::2] = boxes[:, 0::2].clamp(0, w)
    boxes[:, 1::2] = boxes[:, 1::2].clamp(0, h)
    return boxes


@TRANSFORMS.register_module()
class Resize(BaseTransform):
    """Resize to a fixed size (MMCV's Resize).

    ``gt_bboxes`` (x1 y1 x2 y2 pixels), when present, are scaled with the image and, with
    ``clip_object_border``, clipped to it.

    Args:
        scale: target (width, height), or an int for a square.
        scale_factor: alternatively, a factor applied to the current size.
        keep_ratio: fit within ``scale`` keeping the aspect ratio (MMCV's rescale rule:
            the long edge at most ``max(scale)``, the short edge at most ``min(scale)``).
        interpolation: 'nearest', 'bilinear', 'bicubic', 'lanczos' or 'area'.
    """

    def __init__(self, scale: int | Sequence[int] | None = None, scale_factor: float | None = None,
                 keep_ratio: bool = False, clip_object_border: bool = True, backend: str = 'cv2',
                 interpolation: str = 'bilinear'):
        if scale is None and scale_factor is None:
            raise ConfigError('Resize needs scale or scale_factor')
        self.scale = (scale, scale) if isinstance(scale, int) else (tuple(scale) if scale is not None else None)
        self.scale_factor = scale_factor
        self.keep_ratio = keep_ratio
        self.clip_object_border = clip_object_border
        self.interpolation = interpolation
        self._mode = _interp(interpolation)

    def _target(self, h: int, w: int) -> tuple[int, int]:
        if self.scale is None:
            sf = self.scale_factor
            fw, fh = (sf, sf) if isinstance(sf, numbers.Number) else sf
            return int(h * fh + 0.5), int(w * fw + 0.5)
        tw, th = self.scale
        if self.keep_ratio:
            r = min(max(tw, th) / max(h, w), min(tw, th) / min(h, w))
            return int(h * r + 0.5), int(w * r + 0.5)
        return th, tw

    def transform(self, results: dict) -> dict:
        img: torch.Tensor = results['img']
        h, w = img.shape[-2:]
        nh, nw = self._target(h, w)
        results['img'] = resize_img(img, nh, nw, self._mode)
        results['img_shape'] = (nh, nw)
        results['scale'] = (nw, nh)
        results['scale_factor'] = (nw / w, nh / h)
        results['keep_ratio'] = self.keep_ratio
        if 'gt_bboxes' in results:
            boxes = box_tensor(results['gt_bboxes']) * torch.tensor([nw / w, nh / h] * 2)
            results['gt_bboxes'] = clip_boxes(boxes, nh, nw) if self.clip_object_border else boxes
        return results


@TRANSFORMS.register_module()
class ResizeEdge(BaseTransform):
    """Resize so that one edge ('short', 'long', 'width' or 'height') equals ``scale``.

    The other edge is scaled by the same ratio and truncated to an int (as MMPretrain).
    """

    def __init__(self, scale: int, edge: str = 'short', backend: str = 'cv2', interpolation: str = 'bilinear'):
        if edge not in ('short', 'long', 'width', 'height'):
            raise ConfigError(f"ResizeEdge edge={edge!r}: use 'short', 'long', 'width' or 'height'")
        self.scale = scale
        self.edge = edge
        self.backend = backend
        self.interpolation = interpolation
        self._mode = _interp(interpolation)

    def transform(self, results: dict) -> dict:
        img = results['img']
        h, w = img.shape[-2:]
        if (self.edge == 'short' and w < h) or (self.edge == 'long' and w > h) or self.edge == 'width':
            nw, nh = self.scale, int(self.scale * h / w)
        else:
            nh, nw = self.scale, int(self.scale * w / h)
        results['img'] = resize_img(img, nh, nw, self._mode)
        results['img_shape'] = (nh, nw)
        results['scale'] = (nw, nh)
        results['scale_factor'] = (nw / w, nh / h)
        return results


@TRANSFORMS.register_module()
class RandomResizedCrop(BaseTransform):
    """Crop a random area (``crop_ratio_range`` of the image) with a random aspect ratio, then resize.

    Inception-style augmentation (Szegedy et al., "Going deeper with convolutions", 2015).
    ``scale`` is the output size: an int for a square, or (h, w). After ``max_attempts``
    failed draws the centre crop clamped to ``aspect_ratio_range`` is used.
    """

    def __init__(self, scale: int | Sequence[int], crop_ratio_range: tuple[float, float] = (0.08, 1.0),
                 aspect_ratio_range: tuple[float, float] = (3. / 4., 4. / 3.), max_attempts: int = 10,
                 interpolation: str = 'bilinear', backend: str = 'cv2'):
        self.scale = _pair(scale, 'RandomResizedCrop scale')
        if crop_ratio_range[0] > crop_ratio_range[1] or aspect_ratio_range[0] > aspect_ratio_range[1]:
            raise ConfigError(f'RandomResizedCrop ranges must be (min, max), got crop_ratio_range='
                              f'{crop_ratio_range}, aspect_ratio_range={aspect_ratio_range}')
        if not isinstance(max_attempts, int) or max_attempts < 0:
            raise ConfigError(f'RandomResizedCrop max_attempts must be an int >= 0, got {max_attempts!r}')
        self.crop_ratio_range = tuple(crop_ratio_range)
        self.aspect_ratio_range = tuple(aspect_ratio_range)
        self.max_attempts = max_attempts
        self.interpolation = interpolation
        self.backend = backend
        self._mode = _interp(interpolation)
        self._log_ratio = (math.log(self.aspect_ratio_range[0]), math.log(self.aspect_ratio_range[1]))

    def rand_crop_params(self, h: int, w: int) -> tuple[int, int, int, int]:
        """(top, left, height, width) of the crop."""
        area = h * w
        for _ in range(self.max_attempts):
            target_area = np.random.uniform(*self.crop_ratio_range) * area
            aspect = math.exp(np.random.uniform(*self._log_ratio))
            tw = int(round(math.sqrt(target_area * aspect)))
            th = int(round(math.sqrt(target_area / aspect)))
            if 0 < tw <= w and 0 < th <= h:
                top = np.random.randint(0, h - th + 1)
                left = np.random.randint(0, w - tw + 1)
                return int(top), int(left), th, tw
        in_ratio = w / h
        if in_ratio < min(self.aspect_ratio_range):
            tw, th = w, int(round(w / min(self.aspect_ratio_range)))
        elif in_ratio > max(self.aspect_ratio_range):
            th, tw = h, int(round(h * max(self.aspect_ratio_range)))
        else:
            tw, th = w, h
        return (h - th) // 2, (w - tw) // 2, th, tw

    def transform(self, results: dict) -> dict:
        img = results['img']
        h, w = img.shape[-2:]
        top, left, th, tw = self.rand_crop_params(h, w)
        img = resize_img(_crop(img, top, left, th, tw), self.scale[0], self.scale[1], self._mode)
        results['img'] = img
        results['img_shape'] = tuple(img.shape[-2:])
        return results


@TRANSFORMS.register_module()
class RandomResizedCropAndInterpolationWithTwoPic(RandomResizedCrop):
    """One random crop resized twice: the image (``size``, ``interpolation``) and, when
    ``second_size`` is given, the view a tokenizer encodes (``second_size``, ``second_interpolation``),
    for BEiT-style masked image modelling (MMPretrain's arguments).

    Required keys: img. Modified keys: img (a list [image, second view] with ``second_size``),
    img_shape.

    Args:
        size / second_size: output sizes (int or (h, w)).
        scale / ratio: the crop's area fraction and aspect ratio ranges.
        interpolation: 'bilinear', 'bicubic', ... or 'random' (bilinear or bicubic per image).
        second_interpolation: of the second view ('lanczos').
    """

    def __init__(self, size: int | Sequence[int], second_size: int | Sequence[int] | None = None,
                 scale: tuple[float, float] = (0.08, 1.0), ratio: tuple[float, float] = (3. / 4., 4. / 3.),
                 interpolation: str = 'bilinear', second_interpolation: str = 'lanczos'):
        self.interpolations = ('bilinear', 'bicubic') if interpolation == 'random' else (interpolation,)
        super().__init__(size, crop_ratio_range=scale, aspect_ratio_range=ratio,
                         interpolation=self.interpolations[0])
        self._modes = [_interp(i) for i in self.interpolations]
        self.size = self.scale
        self.second_size = None if second_size is None else _pair(second_size, 'second_size')
        self.second_interpolation = second_interpolation
        self._second_mode = _interp(second_interpolation)

    def transform(self, results: dict) -> dict:
        img = results['img']
        crop = _crop(img, *self.rand_crop_params(*img.shape[-2:]))
        mode = self._modes[np.random.randint(len(self._modes))] if len(self._modes) > 1 else self._modes[0]
        first = resize_img(crop, *self.size, mode)
        results['img'] = first if self.second_size is None else [
            first, resize_img(crop, *self.second_size, self._second_mode)]
        results['img_shape'] = tuple(first.shape[-2:])
        return results


@TRANSFORMS.register_module()
class EfficientNetRandomCrop(RandomResizedCrop):
    """EfficientNet-style random crop (TPU reference preprocessing, Tan & Le 2019).

    The crop height is drawn between the heights that give ``crop_ratio_range`` of the area at a
    random aspect ratio; crops covering less than ``min_covered`` of the image are rejected.
    The fallback is the EfficientNet centre crop of ``scale / (scale + crop_padding)`` of the short edge.
    """

    def __init__(self, scale: int, min_covered: float = 0.1, crop_padding: int = 32,
                 interpolation: str = 'bicubic', **kwargs):
        if not isinstance(scale, int):
            raise ConfigError(f'EfficientNetRandomCrop scale must be an int, got {scale!r}')
        super().__init__(scale, interpolation=interpolation, **kwargs)
        if min_covered < 0:
            raise ConfigError('EfficientNetRandomCrop min_covered must be >= 0')
        self.min_covered = min_covered
        self.crop_padding = crop_padding

    def rand_crop_params(self, h: int, w: int) -> tuple[int, int, int, int]:
        area = h * w
        min_area = self.crop_ratio_range[0] * area
        max_area = self.crop_ratio_range[1] * area
        for _ in range(self.max_attempts):
            aspect = np.random.uniform(*self.aspect_ratio_range)
            min_th = int(round(math.sqrt(min_area / aspect)))
            max_th = int(round(math.sqrt(max_area / aspect)))
            if max_th * aspect > w:
                max_th = int((w + 0.5 - 1e-7) / aspect)
                if max_th * aspect > w:
                    max_th -= 1
            max_th = min(max_th, h)
            min_th = min(max_th, min_th)
            th = int(round(np.random.uniform(min_th, max_th)))
            tw = int(round(th * aspect))
            t_area = th * tw
            if (t_area < min_area or t_area > max_area or tw > w or th > h or t_area < self.min_covered * area):
                continue
            top = np.random.randint(0, h - th + 1)
            left = np.random.randint(0, w - tw + 1)
            return int(top), int(left), th, tw
        return _efficientnet_center(h, w, self.scale[0], self.crop_padding)


def _efficientnet_center(h: int, w: int, size: int, padding: int) -> tuple[int, int, int, int]:
    crop = size / (size + padding) * min(h, w)
    top = max(0, int(round((h - crop) / 2.)))
    left = max(0, int(round((w - crop) / 2.)))
    # MMCV's imcrop keeps pixels up to offset + crop - 1 (inclusive, truncated)
    ch = min(h, int(top + crop - 1) + 1) - top
    cw = min(w, int(left + crop - 1) + 1) - left
    return top, left, ch, cw


@TRANSFORMS.register_module()
class EfficientNetCenterCrop(BaseTransform):
    """EfficientNet-style centre crop: crop ``crop_size / (crop_size + crop_padding)`` of the short
    edge from the centre, then resize to ``crop_size``."""

    def __init__(self, crop_size: int, crop_padding: int = 32, interpolation: str = 'bicubic',
                 backend: str = 'cv2'):
        if not isinstance(crop_size, int) or crop_size <= 0 or crop_padding < 0:
            raise ConfigError(f'EfficientNetCenterCrop needs an int crop_size > 0 and crop_padding >= 0, '
                              f'got {crop_size!r}, {crop_padding!r}')
        self.crop_size = crop_size
        self.crop_padding = crop_padding
        self.interpolation = interpolation
        self.backend = backend
        self._mode = _interp(interpolation)

    def transform(self, results: dict) -> dict:
        img = results['img']
        h, w = img.shape[-2:]
        top, left, ch, cw = _efficientnet_center(h, w, self.crop_size, self.crop_padding)
        img = resize_img(_crop(img, top, left, ch, cw), self.crop_size, self.crop_size, self._mode)
        results['img'] = img
        results['img_shape'] = tuple(img.shape[-2:])
        return results


@TRANSFORMS.register_module()
class CenterCrop(BaseTransform):
    """Crop the centre (MMCV's CenterCrop). ``crop_size``: int or (w, h).

    An image smaller than the crop keeps its size along that edge unless ``auto_pad`` pads it first.
    """

    def __init__(self, crop_size: int | Sequence[int], auto_pad: bool = False, pad_cfg: dict | None = None,
                 clip_object_border: bool = True):
        self.crop_size = _pair(crop_size, 'CenterCrop crop_size')  # (w, h)
        self.auto_pad = auto_pad
        self.pad_val = (pad_cfg or {}).get('pad_val', 0)

    def transform(self, results: dict) -> dict:
        img = results['img']
        cw, ch = self.crop_size
        h, w = img.shape[-2:]
        if self.auto_pad and (h < ch or w < cw):
            val = self.pad_val.get('img', 0) if isinstance(self.pad_val, dict) else self.pad_val
            img = TF.pad(img, [0, 0, max(0, cw - w), max(0, ch - h)], fill=config_fill(val, img.shape[0], results))
            h, w = img.shape[-2:]
        ch, cw = min(ch, h), min(cw, w)
        top = max(0, int(round((h - ch) / 2.)))
        left = max(0, int(round((w - cw) / 2.)))
        img = _crop(img, top, left, ch, cw)
        results['img'] = img
        results['img_shape'] = tuple(img.shape[-2:])
        return results


@TRANSFORMS.register_module()
class Pad(BaseTransform):
    """Pad to a fixed ``size`` (w, h), to a multiple of ``size_divisor``, or to a square (MMCV's Pad)."""

    def __init__(self, size: Sequence[int] | None = None, size_divisor: int | None = None,
                 pad_to_square: bool = False, pad_val: float | dict = 0, padding_mode: str = 'constant'):
        if sum([size is not None, size_divisor is not None, pad_to_square]) != 1:
            raise ConfigError('Pad: give exactly one of size, size_divisor or pad_to_square=True')
        self.size = _pair(size, 'Pad size') if size is not None else None
        self.size_divisor = size_divisor
        self.pad_to_square = pad_to_square
        self.pad_val = pad_val.get('img', 0) if isinstance(pad_val, dict) else pad_val
        self.padding_mode = padding_mode

    def transform(self, results: dict) -> dict:
        img = results['img']
        h, w = img.shape[-2:]
        if self.pad_to_square:
            tw = th = max(h, w)
        elif self.size is not None:
            tw, th = self.size
        else:
            d = self.size_divisor
            tw, th = -(-w // d) * d, -(-h // d) * d
        img = TF.pad(img, [0, 0, max(0, tw - w), max(0, th - h)],
                     fill=config_fill(self.pad_val, img.shape[0], results), padding_mode=self.padding_mode)
        results['img'] = img
        results['img_shape'] = tuple(img.shape[-2:])
        results['pad_shape'] = tuple(img.shape[-2:])
        return results


@TRANSFORMS.register_module()
class RandomCrop(BaseTransform):
    """Crop a random ``crop_size`` ((h, w) or int) window, optionally after padding.

    Args:
        padding: pixels added on each border first: int, (left/right, top/bottom) or
            (left, top, right, bottom) - the CIFAR recipe is ``RandomCrop(32, padding=4)``.
        pad_if_needed: pad images smaller than the crop.
        pad_val: constant fill value (int or per-channel sequence).
        padding_mode: 'constant', 'edge', 'reflect' or 'symmetric'.
    """

    def __init__(self, crop_size: int | Sequence[int], padding: int | Sequence[int] | None = None,
                 pad_if_needed: bool = False, pad_val: float | Sequence[float] = 0, padding_mode: str = 'constant'):
        self.crop_size = _pair(crop_size, 'RandomCrop crop_size')
        if padding_mode not in ('constant', 'edge', 'reflect', 'symmetric'):
            raise ConfigError(f"RandomCrop padding_mode={padding_mode!r}: use 'constant', 'edge', 'reflect' "
                              f"or 'symmetric'")
        self.padding = padding
        self.pad_if_needed = pad_if_needed
        self.pad_val = pad_val
        self.padding_mode = padding_mode

    def _pad(self, img: torch.Tensor, padding: list[int], mode: str, results: dict) -> torch.Tensor:
        fill = config_fill(self.pad_val, img.shape[0], results) if mode == 'constant' else 0
        return TF.pad(img, padding, fill=fill, padding_mode=mode)

    def transform(self, results: dict) -> dict:
        img = results['img']
        if self.padding is not None:
            p = self.padding
            p = [p] * 4 if isinstance(p, int) else (list(p) * 2 if len(p) == 2 else list(p))
            img = self._pad(img, p, 'constant', results)  # MMCV pads the fixed border with a constant
        th, tw = self.crop_size
        if self.pad_if_needed:
            hp = math.ceil(max(0, th - img.shape[-2]) / 2)
            wp = math.ceil(max(0, tw - img.shape[-1]) / 2)
            if hp or wp:
                img = self._pad(img, [wp, hp, wp, hp], self.padding_mode, results)
        h, w = img.shape[-2:]
        if not (h == th and w == tw):
            th, tw = min(h, th), min(w, tw)
            top = int(np.random.randint(0, h - th + 1))
            left = int(np.random.randint(0, w - tw + 1))
            img = _crop(img, top, left, th, tw)
        results['img'] = img
        results['img_shape'] = tuple(img.shape[-2:])
        return results


@TRANSFORMS.register_module()
class RandomFlip(BaseTransform):
    """Flip with probability ``prob`` (MMCV's RandomFlip).

    ``direction``: 'horizontal', 'vertical', 'diagonal' or a list. With a list of probabilities
    (one per direction) one direction is picked with those odds (no flip with the remainder);
    with one probability and a list of directions, the direction is picked uniformly.
    Sets ``flip`` and ``flip_direction``.
    """

    _DIRS = ('horizontal', 'vertical', 'diagonal')

    def __init__(self, prob: float | Sequence[float] | None = None,
                 direction: str | Sequence[str] = 'horizontal', swap_seg_labels=None):
        dirs = [direction] if isinstance(direction, str) else list(direction)
        for d in dirs:
            if d not in self._DIRS:
                raise ConfigError(f'RandomFlip direction {d!r} is not one of {self._DIRS}')
        if isinstance(prob, (list, tuple)):
            if len(prob) != len(dirs) or sum(prob) > 1:
                raise ConfigError('RandomFlip: a list prob needs one entry per direction, summing to <= 1')
        elif prob is not None and not 0 <= prob <= 1:
            raise ConfigError(f'RandomFlip prob must be in [0, 1], got {prob}')
        self.prob = prob
        self.direction = direction
        self._dirs = dirs

    def _choose(self) -> str | None:
        if self.prob is None:
            return None
        options = self._dirs + [None]
        if isinstance(self.prob, (list, tuple)):
            probs = list(self.prob) + [1 - sum(self.prob)]
        else:  # one probability shared evenly by the directions
            probs = [self.prob / len(self._dirs)] * len(self._dirs) + [1 - self.prob]
        return options[np.random.choice(len(options), p=probs)]  # one draw, as MMCV

    def transform(self, results: dict) -> dict:
        d = self._choose()
        results['flip'] = d is not None
        results['flip_direction'] = d
        if d is not None:
            img = results['img']
            if d == 'horizontal':
                img = TF.horizontal_flip(img)
            elif d == 'vertical':
                img = TF.vertical_flip(img)
            else:
                img = img.flip((-2, -1))
            results['img'] = img
        return results


def _range(value, name: str, center: float = 1., bound: tuple[float, float] = (0, float('inf'))):
    if isinstance(value, numbers.Number):
        if value < 0:
            raise ConfigError(f'ColorJitter {name}: if {name} is a single number, it must be non-negative; '
                              f'got {value}')
        value = (center - float(value), center + float(value))
    if not (isinstance(value, (tuple, list)) and len(value) == 2):
        raise ConfigTypeError(f'ColorJitter {name} should be a single number or a (min, max) pair, got {value!r}')
    value = (max(bound[0], float(value[0])), min(bound[1], float(value[1])))
    return None if value[0] == value[1] == center else value


@TRANSFORMS.register_module()
class ColorJitter(BaseTransform):
    """Randomly change brightness, contrast, saturation and hue, in a random order.

    Each factor is drawn uniformly from ``[max(0, 1 - x), 1 + x]`` (hue from ``[-x, x]``) or
    the given (min, max) range.
    """

    def __init__(self, brightness: float | Sequence[float] = 0., contrast: float | Sequence[float] = 0.,
                 saturation: float | Sequence[float] = 0., hue: float | Sequence[float] = 0.,
                 backend: str = 'pillow'):
        self.brightness = _range(brightness, 'brightness')
        self.contrast = _range(contrast, 'contrast')
        self.saturation = _range(saturation, 'saturation')
        self.hue = _range(hue, 'hue', center=0, bound=(-0.5, 0.5))
        self.backend = backend

    def transform(self, results: dict) -> dict:
        order = np.random.permutation(4)
        b = np.random.uniform(*self.brightness) if self.brightness is not None else None
        c = np.random.uniform(*self.contrast) if self.contrast is not None else None
        s = np.random.uniform(*self.saturation) if self.saturation is not None else None
        hu = np.random.uniform(*self.hue) if self.hue is not None else None
        img = results['img']
        for i in order:
            if i == 0 and b is not None:
                img = TF.adjust_brightness(img, float(b))
            elif i == 1 and c is not None:
                img = TF.adjust_contrast(img, float(c)) if img.shape[0] in (1, 3) else img
            elif i == 2 and s is not None and img.shape[0] == 3:
                img = TF.adjust_saturation(img, float(s))
            elif i == 3 and hu is not None and img.shape[0] == 3:
                img = TF.adjust_hue(img, float(hu))
        results['img'] = img
        return results


@TRANSFORMS.register_module()
class Lighting(BaseTransform):
    """AlexNet-style PCA lighting noise (Krizhevsky et al. 2012).

    Adds ``eigvec @ (alpha * eigval)`` with ``alpha ~ N(0, alphastd)`` to every pixel. ``eigval``
    and ``eigvec`` are given in the image's channel order (RGB in fovea); ``to_rgb`` is accepted
    for MMPretrain configs and has no effect because fovea images are RGB already.
    """

    def __init__(self, eigval: Sequence[float], eigvec: Sequence[Sequence[float]], alphastd: float = 0.1,
                 to_rgb: bool = False):
        self.eigval = np.asarray(eigval, dtype=np.float64)
        self.eigvec = np.asarray(eigvec, dtype=np.float64)
        if self.eigvec.ndim != 2 or self.eigvec.shape[1] != len(self.eigval):
            raise ConfigError(f'Lighting eigvec must be a list of equal-length rows matching eigval, got shape '
                              f'{self.eigvec.shape} for {len(self.eigval)} eigenvalues')
        self.alphastd = float(alphastd)
        self.to_rgb = to_rgb

    def transform(self, results: dict) -> dict:
        img = results['img']
        alpha = np.random.normal(0, self.alphastd, len(self.eigval))
        shift = (self.eigvec * (alpha * self.eigval)[None, :]).sum(1)
        out = img.float() + torch.as_tensor(shift, dtype=torch.float32).view(-1, 1, 1)
        results['img'] = out.round_().clamp_(0, 255).to(img.dtype) if img.dtype == torch.uint8 else out
        return results


@TRANSFORMS.register_module()
class RandomGrayscale(BaseTransform):
    """Convert to greyscale with probability ``prob`` (MMCV's RandomGrayscale).

    ``channel_weights`` are given in ``color_format`` order ('bgr' by default, as MMCV); fovea
    images are RGB, so BGR weights are reversed. ``keep_channels`` keeps 3 identical channels.
    """

    def __init__(self, prob: float = 0.1, keep_channels: bool = False,
                 channel_weights: Sequence[float] = (1., 1., 1.), color_format: str = 'bgr'):
        if not 0 <= prob <= 1:
            raise ConfigError(f'RandomGrayscale prob must be in [0, 1], got {prob}')
        if color_format not in ('bgr', 'rgb'):
            raise ConfigError(f"RandomGrayscale color_format must be 'bgr' or 'rgb', got {color_format!r}")
        self.prob = prob
        self.keep_channels = keep_channels
        self.channel_weights = tuple(channel_weights)
        self.color_format = color_format
        w = torch.tensor(self.channel_weights, dtype=torch.float32)
        w = w / w.sum()
        self._w = (w.flip(0) if color_format == 'bgr' else w).view(-1, 1, 1)

    def transform(self, results: dict) -> dict:
        img = results['img']
        if np.random.rand() < self.prob and img.shape[0] > 1:
            if img.shape[0] != len(self.channel_weights):
                raise ValueError(f'RandomGrayscale has {len(self.channel_weights)} channel weights for a '
                                 f'{img.shape[0]}-channel image')
            grey = (img.float() * self._w).sum(0, keepdim=True)
            grey = grey.to(torch.uint8) if img.dtype == torch.uint8 else grey
            results['img'] = grey.expand(img.shape[0], -1, -1).contiguous() if self.keep_channels else grey
        return results


@TRANSFORMS.register_module()
class RandomErasing(BaseTransform):
    """Random Erasing (Zhong et al. 2017, arXiv:1708.04896): fill a random rectangle.

    Args:
        erase_prob: probability of erasing.
        min_area_ratio / max_area_ratio: area of the rectangle relative to the image.
        aspect_range: (min, max) aspect ratio, or a float r meaning (r, 1/r).
        mode: 'const' (fill with ``fill_color``) or 'rand' (uniform 0-255 noise, or
            N(fill_color, fill_std) when ``fill_std`` is set).
    """

    def __init__(self, erase_prob: float = 0.5, min_area_ratio: float = 0.02, max_area_ratio: float = 0.4,
                 aspect_range: float | Sequence[float] = (3 / 10, 10 / 3), mode: str = 'const',
                 fill_color: float | Sequence[float] = (128, 128, 128),
                 fill_std: float | Sequence[float] | None = None):
        if not 0 <= erase_prob <= 1 or not 0 <= min_area_ratio <= max_area_ratio <= 1:
            raise ConfigError('RandomErasing needs 0 <= erase_prob <= 1 and 0 <= min_area_ratio <= '
                              'max_area_ratio <= 1')
        if isinstance(aspect_range, numbers.Number):
            a = min(aspect_range, 1 / aspect_range)
            aspect_range = (a, 1 / a)
        if mode not in ('const', 'rand'):
            raise ConfigError(f"RandomErasing mode={mode!r}: use 'const' or 'rand'")
        self.erase_prob = erase_prob
        self.min_area_ratio = min_area_ratio
        self.max_area_ratio = max_area_ratio
        self.aspect_range = tuple(aspect_range)
        self.mode = mode
        self.fill_color = [fill_color] * 3 if isinstance(fill_color, numbers.Number) else list(fill_color)
        self.fill_std = ([fill_std] * 3 if isinstance(fill_std, numbers.Number) else
                         (list(fill_std) if fill_std is not None else None))

    def transform(self, results: dict) -> dict:
        if np.random.rand() > self.erase_prob:
            return results
        img = results['img']
        c, ih, iw = img.shape
        log_ar = np.log(np.array(self.aspect_range, dtype=np.float32))
        aspect = np.exp(np.random.uniform(*log_ar))
        area = ih * iw * np.random.uniform(self.min_area_ratio, self.max_area_ratio)
        h = min(int(round(np.sqrt(area * aspect))), ih)
        w = min(int(round(np.sqrt(area / aspect))), iw)
        top = np.random.randint(0, ih - h) if ih > h else 0
        left = np.random.randint(0, iw - w) if iw > w else 0
        color = _fill(self.fill_color, c)  # in MMPretrain's channel order; the patch is made in that order
        if self.mode == 'const':
            patch = np.empty((h, w, c), dtype=np.float32)
            patch[:, :] = np.array(color, dtype=np.uint8) if img.dtype == torch.uint8 else np.array(color)
        elif self.fill_std is None:
            patch = np.random.uniform(0, 256, (h, w, c)).astype(np.uint8).astype(np.float32)
        else:
            noise = np.random.normal(color, _fill(self.fill_std, c), (h, w, c))
            patch = np.clip(noise.astype(np.int32), 0, 255).astype(np.float32)
        if c == 3 and results.get(MMPRETRAIN_BGR, True):
            patch = patch[..., ::-1]
        patch_t = torch.from_numpy(np.ascontiguousarray(patch.transpose(2, 0, 1)))
        img = img.clone()
        img[:, top:top + h, left:left + w] = patch_t.to(img.dtype)
        results['img'] = img
        return results

"""Data preprocessors: the device-side end of the data pipeline.

Workers deliver uint8 CHW RGB images; the model's preprocessor moves a collated
batch to the model's device, converts it to float, normalises it, optionally
switches it to channels_last, and applies batch augments (Mixup, CutMix) that
turn hard labels into soft targets.

Channel order: fovea decodes images as RGB. MMPretrain decodes files to BGR (but
keeps CIFAR/MNIST arrays RGB) and flips when ``to_rgb=True``. To give the model the
same tensor MMPretrain gives for the same data and config, fovea feeds BGR exactly
when MMPretrain would: when the sample's MMPretrain order (``mmpretrain_bgr``, set by
``PackInputs``; BGR when unknown) differs from ``to_rgb`` (3-channel input only).
``mean``/``std`` are on the 0-255 scale, in the order the model sees.
"""
from __future__ import annotations

from typing import Any, Sequence

import torch
import torch.nn.functional as F
from torch import nn

from fovea.registry import BATCH_AUGMENTS, MODELS
from fovea.structures import DataSample, SampleList
from fovea.utils.errors import ConfigError

__all__ = ['BaseDataPreprocessor', 'ClsDataPreprocessor', 'SelfSupDataPreprocessor', 'stack_batch', 'samples_to_targets']


def stack_batch(inputs: torch.Tensor | Sequence[torch.Tensor], pad_size_divisor: int = 1,
                pad_value: float = 0) -> torch.Tensor:
    """Stack images of possibly different sizes into one tensor, padding bottom/right."""
    if isinstance(inputs, torch.Tensor):
        if pad_size_divisor <= 1:
            return inputs
        inputs = list(inputs)
    h = max(t.shape[-2] for t in inputs)
    w = max(t.shape[-1] for t in inputs)
    if pad_size_divisor > 1:
        h = -(-h // pad_size_divisor) * pad_size_divisor
        w = -(-w // pad_size_divisor) * pad_size_divisor
    out = [F.pad(t, (0, w - t.shape[-1], 0, h - t.shape[-2]), value=pad_value) if t.shape[-2:] != (h, w) else t
           for t in inputs]
    return torch.stack(out)


def samples_to_targets(data_samples: Sequence[DataSample], num_classes: int | None = None,
                       device: torch.device | None = None) -> torch.Tensor:
    """Hard labels as a (B,) tensor, or soft/one-hot targets (B, C) when the samples carry scores."""
    if 'gt_score' in data_samples[0]:
        return torch.stack([s.gt_score for s in data_samples]).to(device)
    return torch.cat([s.gt_label for s in data_samples]).to(device)


@MODELS.register_module()
class BaseDataPreprocessor(nn.Module):
    """Move a batch to the model's device and convert images to float."""

    def __init__(self, non_blocking: bool = True):
        super().__init__()
        self.non_blocking = non_blocking
        self.register_buffer('_device_probe', torch.empty(0), persistent=False)
        self.channels_last = False

    @property
    def device(self) -> torch.device:
        return self._device_probe.device

    def cast(self, data: Any) -> Any:
        """Move tensors (and DataSamples) in nested containers to the device."""
        if isinstance(data, torch.Tensor):
            return data.to(self.device, non_blocking=self.non_blocking)
        if isinstance(data, DataSample):
            return data.to(self.device, non_blocking=self.non_blocking)
        if isinstance(data, list) and data and all(isinstance(s, DataSample) for s in data):
            return SampleList(data).to(self.device, non_blocking=self.non_blocking)  # one copy per field
        if isinstance(data, dict):
            return {k: self.cast(v) for k, v in data.items()}
        if isinstance(data, (list, tuple)):
            return type(data)(self.cast(v) for v in data)
        return data

    def forward(self, data: dict, training: bool = False) -> dict:
        data = self.cast(data)
        inputs = data['inputs']
        if isinstance(inputs, (list, tuple)) and inputs and isinstance(inputs[0], torch.Tensor):
            inputs = stack_batch(inputs)
        if isinstance(inputs, torch.Tensor):
            inputs = inputs.float()
        return {'inputs': inputs, 'data_samples': data.get('data_samples')}


@MODELS.register_module()
class ClsDataPreprocessor(BaseDataPreprocessor):
    """Preprocessor for image classification (MMPretrain's arguments and semantics).

    Args:
        mean / std: per-channel statistics on the 0-255 scale (``None``: no normalisation).
        pad_size_divisor / pad_value: pad images so height and width divide by this.
        to_rgb: see the module docstring (fovea images are RGB already).
        to_onehot / num_classes: store one-hot ``gt_score`` targets.
        batch_augments: ``dict(augments=[dict(type='Mixup', alpha=0.8), ...], probs=[...])``,
            applied in training only.
    """

    def __init__(self, mean: Sequence[float] | None = None, std: Sequence[float] | None = None,
                 pad_size_divisor: int = 1, pad_value: float = 0, to_rgb: bool = False,
                 to_onehot: bool = False, num_classes: int | None = None,
                 batch_augments: dict | None = None, non_blocking: bool = True):
        super().__init__(non_blocking)
        self.pad_size_divisor = pad_size_divisor
        self.pad_value = pad_value
        self.to_rgb = to_rgb
        self.to_onehot = to_onehot
        self.num_classes = num_classes
        self._normalize = mean is not None
        if self._normalize:
            if std is None:
                raise ValueError('ClsDataPreprocessor: give std together with mean')
            self.register_buffer('mean', torch.tensor(mean, dtype=torch.float32).view(-1, 1, 1), False)
            self.register_buffer('std', torch.tensor(std, dtype=torch.float32).view(-1, 1, 1), False)
        self.batch_augments = None
        if batch_augments is not None:
            batch_augments = dict(batch_augments)
            batch_augments.setdefault('type', 'RandomBatchAugment')
            if num_classes is None:
                num_classes = batch_augments.get('num_classes')
            batch_augments.setdefault('num_classes', num_classes)
            self.batch_augments = BATCH_AUGMENTS.build(batch_augments, key='batch_augments')
            self.to_onehot = True

    def _image_batch(self, inputs: torch.Tensor | Sequence[torch.Tensor], src_bgr: bool,
                     norm: tuple[torch.Tensor, torch.Tensor] | None = None) -> torch.Tensor:
        """uint8 images (a batch tensor or a list of CHW tensors) -> the float batch the model sees
        (normalised by ``norm=(mean, std)`` where given, else by the preprocessor's own)."""
        if isinstance(inputs, torch.Tensor) and self.pad_size_divisor <= 1:
            batch = inputs.float()
        else:
            batch = stack_batch([t.float() for t in inputs], self.pad_size_divisor, self.pad_value)
        if batch.shape[1] == 3 and src_bgr != self.to_rgb:
            batch = batch.flip(1)  # RGB -> BGR, the order MMPretrain feeds here
        if norm is not None:
            batch = (batch - norm[0]) / norm[1]
        elif self._normalize:
            batch = (batch - self.mean) / self.std
        if self.channels_last and batch.ndim == 4:
            batch = batch.contiguous(memory_format=torch.channels_last)
        return batch

    @staticmethod
    def _source_bgr(data: dict) -> bool:
        return bool(data['data_samples'][0].get('mmpretrain_bgr', True)) if data.get('data_samples') else True

    def forward(self, data: dict, training: bool = False) -> dict:
        data = self.cast(data)
        batch = self._image_batch(data['inputs'], self._source_bgr(data))
        samples = data.get('data_samples')
        if samples is not None and self.to_onehot and 'gt_label' in samples[0] and 'gt_score' not in samples[0]:
            num = self.num_classes or samples[0].get('num_classes')
            if num is None:
                raise ValueError('ClsDataPreprocessor: to_onehot/batch_augments need num_classes')
            for s in samples:
                s.set_gt_score(F.one_hot(s.gt_label, num).sum(0).float().clamp_(max=1))
        if training and self.batch_augments is not None and samples is not None:
            score = torch.stack([s.gt_score for s in samples])
            batch, score = self.batch_augments(batch, score)
            for s, sc in zip(samples, score):
                s.set_gt_score(sc)
        return {'inputs': batch, 'data_samples': samples}


@MODELS.register_module()
class SelfSupDataPreprocessor(ClsDataPreprocessor):
    """Preprocessor for self-supervised learning (MMPretrain's arguments): ``inputs`` is one batch
    or, from the ``MultiView`` transform, a list of per-view batches, each normalised as
    :class:`ClsDataPreprocessor` normalises one. ``to_rgb``, ``bgr_to_rgb`` and ``rgb_to_bgr`` all
    mean "flip the channel order MMPretrain would have loaded" (its one switch for the three).
    Labels, if any, pass through untouched.
    """

    def __init__(self, mean: Sequence[float] | None = None, std: Sequence[float] | None = None,
                 pad_size_divisor: int = 1, pad_value: float = 0, to_rgb: bool = False,
                 bgr_to_rgb: bool = False, rgb_to_bgr: bool = False, non_blocking: bool = True):
        super().__init__(mean=mean, std=std, pad_size_divisor=pad_size_divisor, pad_value=pad_value,
                         to_rgb=to_rgb or bgr_to_rgb or rgb_to_bgr, non_blocking=non_blocking)

    def forward(self, data: dict, training: bool = False) -> dict:
        data = self.cast(data)
        inputs, src_bgr = data['inputs'], self._source_bgr(data)
        if isinstance(inputs, (list, tuple)) and inputs and (
                isinstance(inputs[0], (list, tuple)) or (isinstance(inputs[0], torch.Tensor) and inputs[0].ndim == 4)):
            batch = [self._image_batch(view, src_bgr) for view in inputs]
        else:
            batch = self._image_batch(inputs, src_bgr)
        return {'inputs': batch, 'data_samples': data.get('data_samples')}


@MODELS.register_module()
class TwoNormDataPreprocessor(SelfSupDataPreprocessor):
    """Two views normalised differently (MMPretrain's, for BEiT v1 and CAE): the image by
    ``mean``/``std``, the tokenizer's view by ``second_mean``/``second_std`` (DALL-E's inputs are
    mapped to [0.1, 0.9]: mean -31.875, std 318.75 on the 0-255 scale)."""

    def __init__(self, mean: Sequence[float] | None = None, std: Sequence[float] | None = None,
                 second_mean: Sequence[float] | None = None, second_std: Sequence[float] | None = None,
                 bgr_to_rgb: bool = False, to_rgb: bool = False, non_blocking: bool = False):
        if None in (mean, std, second_mean, second_std):
            raise ConfigError('TwoNormDataPreprocessor needs mean, std, second_mean and second_std '
                              '(model.data_preprocessor or the top-level data_preprocessor).')
        super().__init__(mean=mean, std=std, to_rgb=to_rgb, bgr_to_rgb=bgr_to_rgb, non_blocking=non_blocking)
        self.register_buffer('second_mean', torch.tensor(second_mean, dtype=torch.float32).view(-1, 1, 1), False)
        self.register_buffer('second_std', torch.tensor(second_std, dtype=torch.float32).view(-1, 1, 1), False)

    def forward(self, data: dict, training: bool = False) -> dict:
        data = self.cast(data)
        inputs, src_bgr = data['inputs'], self._source_bgr(data)
        if not isinstance(inputs, (list, tuple)) or len(inputs) != 2:
            raise ConfigError('TwoNormDataPreprocessor takes two views per image (the image and the target '
                              "view): put dict(type='RandomResizedCropAndInterpolationWithTwoPic', size=..., "
                              'second_size=...) in the training pipeline.')
        return {'inputs': [self._image_batch(inputs[0], src_bgr),
                           self._image_batch(inputs[1], src_bgr, (self.second_mean, self.second_std))],
                'data_samples': data.get('data_samples')}

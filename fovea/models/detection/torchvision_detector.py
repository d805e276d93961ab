"""Object detection with fovea backbones through torchvision's detectors.

:class:`FPNBackbone` turns any fovea backbone into what ``torchvision.models.detection`` takes as its
``backbone``: the feature maps chosen by ``out_indices`` (the backbone contract's ``out_channels``
say their widths) go through torchvision's ``FeaturePyramidNetwork``, with a max-pooled extra level
(Faster/Mask R-CNN) or P6/P7 convolutions (RetinaNet, FCOS). :class:`TorchvisionDetector` builds
``FasterRCNN``, ``MaskRCNN``, ``RetinaNet`` or ``FCOS`` on it (``weights=None``: the backbone's weights
come from its ``init_cfg``, e.g. a fovea ImageNet or self-supervised checkpoint with
``prefix='backbone.'``) and speaks fovea's model contract: ``loss`` / ``predict`` on
``DataSample`` lists, so the Runner, its hooks and ``CocoMetric`` work unchanged.

Labels are 0-based class indices, as fovea's datasets give them; the R-CNN models' background class
(torchvision's label 0) is added and removed here. ``frozen_stages`` and ``norm_eval`` are the
backbone's own arguments (``BaseBackbone.train`` re-applies them).
"""
from __future__ import annotations

from collections import OrderedDict
from typing import Any, Sequence

import torch
from torch import nn

from fovea.models.base import BaseModel
from fovea.models.data_preprocessor import ClsDataPreprocessor
from fovea.registry import MODELS
from fovea.structures import DataSample
from fovea.utils.errors import ConfigError

__all__ = ['FPNBackbone', 'TorchvisionDetector', 'DetDataPreprocessor']


class FPNBackbone(nn.Module):
    """A fovea backbone's multi-scale outputs through an FPN, as torchvision's detectors take them.

    Args:
        body: a built fovea backbone (``BaseBackbone``) returning feature maps for its ``out_indices``.
        out_channels: FPN width.
        extra_blocks: 'pool' (a max-pooled level on top, torchvision's R-CNN default), 'p6p7' (two
            stride-2 convolutions on P5: RetinaNet/FCOS) or None.
    """

    def __init__(self, body: nn.Module, out_channels: int = 256, extra_blocks: str | None = 'pool'):
        super().__init__()
        from torchvision.ops.feature_pyramid_network import (FeaturePyramidNetwork, LastLevelMaxPool,
                                                             LastLevelP6P7)
        info = getattr(body, 'feature_info', None)
        if not info:
            raise ConfigError(f'{type(body).__name__} does not declare its outputs (feature_info); detection needs '
                              f'a fovea backbone (BaseBackbone) with out_indices.')
        flat = [f['index'] for f in info if f['reduction'] is None]
        if flat:
            raise ConfigError(f'{type(body).__name__} outputs {flat} are vectors, not feature maps; choose '
                              f'out_indices of spatial outputs (ViT: out_type=\'featmap\').')
        extras = {'pool': LastLevelMaxPool, 'p6p7': lambda: LastLevelP6P7(out_channels, out_channels), None: lambda: None}
        if extra_blocks not in extras:
            raise ConfigError(f"FPN extra_blocks={extra_blocks!r}: use 'pool', 'p6p7' or None.")
        self.body = body
        self.fpn = FeaturePyramidNetwork(list(body.out_channels), out_channels, extra_blocks=extras[extra_blocks]())
        self.out_channels = out_channels
        #: names of the levels that come from the backbone (the RoI poolers read these)
        self.feature_names = [str(i) for i in range(len(body.out_channels))]
        self.num_levels = len(self.feature_names) + {'pool': 1, 'p6p7': 2, None: 0}[extra_blocks]
        self.strides = [f['reduction'] for f in info]

    def forward(self, x: torch.Tensor) -> 'OrderedDict[str, torch.Tensor]':
        return self.fpn(OrderedDict(zip(self.feature_names, self.body(x))))


_DETECTORS = ('FasterRCNN', 'MaskRCNN', 'RetinaNet', 'FCOS')
_RCNN = ('FasterRCNN', 'MaskRCNN')


@MODELS.register_module()
class DetDataPreprocessor(ClsDataPreprocessor):
    """Normalise detection images one by one (their sizes differ) into a list of float (C, H, W)
    tensors; torchvision's detector resizes and batches them. MMDetection's arguments: ``mean``/``std``
    on the 0-255 scale, ``bgr_to_rgb`` (fovea decodes RGB, so with MMDetection's configs, which set
    it, the model sees RGB as there); ``pad_size_divisor`` is the detector's (32)."""

    def __init__(self, mean: Sequence[float] | None = None, std: Sequence[float] | None = None,
                 bgr_to_rgb: bool = False, rgb_to_bgr: bool = False, to_rgb: bool = False,
                 pad_size_divisor: int = 1, pad_value: float = 0, non_blocking: bool = True, **kwargs):
        unknown = set(kwargs) - {'boxtype2tensor', 'batch_augments', 'pad_mask', 'mask_pad_value', 'pad_seg',
                                 'seg_pad_value'}
        if unknown:
            raise ConfigError(f'DetDataPreprocessor got unexpected arguments {sorted(unknown)}')
        super().__init__(mean=mean, std=std, to_rgb=to_rgb or bgr_to_rgb or rgb_to_bgr, non_blocking=non_blocking)

    def forward(self, data: dict, training: bool = False) -> dict:
        data = self.cast(data)
        bgr = self._source_bgr(data)
        images = [self._image_batch(img[None], bgr)[0] for img in data['inputs']]
        return {'inputs': images, 'data_samples': data.get('data_samples')}


@MODELS.register_module()
class TorchvisionDetector(BaseModel):
    """``torchvision.models.detection.<detector>`` on a fovea backbone and FPN.

    Args:
        detector: 'FasterRCNN', 'MaskRCNN', 'RetinaNet' or 'FCOS'.
        backbone: a fovea backbone config with the ``out_indices`` to use (ResNet: ``(0, 1, 2, 3)`` for
            R-CNNs, ``(1, 2, 3)`` for RetinaNet/FCOS), ``frozen_stages``, ``norm_eval`` and its
            ``init_cfg`` (``dict(type='Pretrained', checkpoint=..., prefix='backbone.')``).
        num_classes: object classes (without background).
        neck: ``dict(out_channels=256, extra_blocks='pool' | 'p6p7' | None)`` (default by detector).
        anchor_sizes: the anchors' base size per FPN level (default ``32 * 2**level``; FCOS: its point
            sizes ``8 * 2**level``).
        detector_cfg: further keyword arguments of the torchvision class (``min_size``, ``max_size``,
            ``box_score_thresh``, ``rpn_batch_size_per_image``, ...). ``image_mean``/``image_std`` are
            fixed to identity: the data preprocessor normalises.
        data_preprocessor: defaults to ``DetDataPreprocessor``.
    """

    def __init__(self, detector: str, backbone: dict, num_classes: int, neck: dict | None = None,
                 anchor_sizes: Sequence[int] | None = None, detector_cfg: dict | None = None,
                 data_preprocessor: dict | None = None, init_cfg: dict | None = None):
        if detector not in _DETECTORS:
            raise ConfigError(f'TorchvisionDetector detector={detector!r}: choose one of {", ".join(_DETECTORS)}.')
        if num_classes < 1:
            raise ConfigError(f'TorchvisionDetector num_classes must be >= 1, got {num_classes}')
        data_preprocessor = dict(data_preprocessor or {})
        data_preprocessor.setdefault('type', 'DetDataPreprocessor')
        super().__init__(data_preprocessor=data_preprocessor, init_cfg=init_cfg)
        from torchvision.models import detection as tvd
        from torchvision.models.detection.anchor_utils import AnchorGenerator
        from torchvision.ops import MultiScaleRoIAlign

        neck = dict(neck or {})
        neck.pop('type', None)
        neck.setdefault('extra_blocks', 'pool' if detector in _RCNN else 'p6p7')
        fpn = FPNBackbone(MODELS.build(backbone, key='backbone'), **neck)
        self.detector_name, self.num_classes = detector, num_classes
        self.with_background = int(detector in _RCNN)
        levels = fpn.num_levels
        if anchor_sizes is None:
            anchor_sizes = [(8 if detector == 'FCOS' else 32) * 2 ** i for i in range(levels)]
        if len(anchor_sizes) != levels:
            raise ConfigError(f'model.anchor_sizes has {len(anchor_sizes)} entries for {levels} FPN levels '
                              f'({len(fpn.feature_names)} backbone outputs + extra blocks {neck["extra_blocks"]!r}).')
        kwargs: dict[str, Any] = dict(image_mean=[0., 0., 0.], image_std=[1., 1., 1.])
        if detector in _RCNN:
            kwargs['rpn_anchor_generator'] = AnchorGenerator(tuple((s,) for s in anchor_sizes), ((0.5, 1.0, 2.0),) * levels)
            kwargs['box_roi_pool'] = MultiScaleRoIAlign(fpn.feature_names, 7, 2)
            if detector == 'MaskRCNN':
                kwargs['mask_roi_pool'] = MultiScaleRoIAlign(fpn.feature_names, 14, 2)
        elif detector == 'RetinaNet':
            kwargs['anchor_generator'] = AnchorGenerator(tuple((s, int(s * 2 ** (1 / 3)), int(s * 2 ** (2 / 3)))
                                                               for s in anchor_sizes), ((0.5, 1.0, 2.0),) * levels)
        else:
            kwargs['anchor_generator'] = AnchorGenerator(tuple((s,) for s in anchor_sizes), ((1.0,),) * levels)
        kwargs.update(detector_cfg or {})
        try:
            self.detector = getattr(tvd, detector)(fpn, num_classes=num_classes + self.with_background, **kwargs)
        except TypeError as exc:
            raise ConfigError(f'model.detector_cfg: torchvision.models.detection.{detector} refused the arguments: '
                              f'{exc}') from None

    @property
    def backbone(self) -> nn.Module:
        """The fovea backbone (inside the FPN adapter)."""
        return self.detector.backbone.body

    def _targets(self, data_samples: list[DataSample]) -> list[dict[str, torch.Tensor]]:
        targets = []
        for s in data_samples:
            keep = ~s.gt_ignore_flags if 'gt_ignore_flags' in s else slice(None)
            t = {'boxes': s.gt_bboxes[keep].float(), 'labels': s.gt_labels[keep].long() + self.with_background}
            if self.detector_name == 'MaskRCNN':
                if 'gt_masks' not in s:
                    raise ValueError("MaskRCNN needs instance masks: LoadAnnotations(with_mask=True) in the pipeline.")
                t['masks'] = s.gt_masks[keep]
            targets.append(t)
        return targets

    def loss(self, inputs: list[torch.Tensor], data_samples: list[DataSample]) -> dict[str, torch.Tensor]:
        losses = self.detector(list(inputs), self._targets(data_samples))
        return {k if 'loss' in k else f'loss_{k}': v for k, v in losses.items()}

    def predict(self, inputs: list[torch.Tensor], data_samples: list[DataSample] | None = None) -> list[DataSample]:
        """``pred_bboxes`` (x1, y1, x2, y2 in input pixels), ``pred_scores``, ``pred_labels`` (0-based)
        and, for Mask R-CNN, ``pred_masks`` (bool, per image pixel) of each image."""
        outputs = self.detector(list(inputs))
        if data_samples is None:
            data_samples = [DataSample() for _ in outputs]
        for s, out in zip(data_samples, outputs):
            s.set_field(out['boxes'].detach(), 'pred_bboxes')
            s.set_field(out['scores'].detach(), 'pred_scores')
            s.set_field(out['labels'].detach() - self.with_background, 'pred_labels')
            if 'masks' in out:
                s.set_field(out['masks'][:, 0].detach() > 0.5, 'pred_masks')
        return data_samples

    def _forward(self, inputs: list[torch.Tensor], data_samples: Any = None) -> 'OrderedDict[str, torch.Tensor]':
        """The FPN's feature maps of the (normalised, not resized) images stacked as one batch."""
        return self.detector.backbone(torch.stack(list(inputs)))

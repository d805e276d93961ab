"""Recognizer2D: video classification with a 2D image backbone (MMAction2's ``Recognizer2D``).

A batch of videos arrives as ``(N, V, C, H, W)``: V frames per video (segments x clips x crops, in
that order of nesting: the frames of one clip are contiguous). The recognizer runs all N * V frames
through the backbone as one image batch, takes its last output (any fovea backbone: the contract's
``out_channels[-1]`` is the head's ``in_channels``) and lets the head combine the frames:
:class:`~fovea.models.video.heads.TSNHead` averages them, :class:`~fovea.models.video.heads.TSMHead`
averages the frames of each clip and, at test time, the clips' scores. With a ``ResNetTSM`` or
``MobileNetV2TSM`` backbone the frames of a clip exchange channels in every residual block.
"""
from __future__ import annotations

from typing import Any, Sequence

import torch

from fovea.models.base import BaseModel
from fovea.models.data_preprocessor import ClsDataPreprocessor
from fovea.registry import MODELS
from fovea.structures import DataSample
from fovea.utils.errors import ConfigError

__all__ = ['Recognizer2D', 'ActionDataPreprocessor']


@MODELS.register_module()
class ActionDataPreprocessor(ClsDataPreprocessor):
    """Normalise video batches (N, V, C, H, W) as :class:`ClsDataPreprocessor` normalises images
    (MMAction2's arguments; ``format_shape='NCHW'``, the 2D recognizers' layout, only).

    Frames decoded by fovea's video loaders are RGB, so ``to_rgb`` (MMAction2: flip the channel
    order) is off by default and mean/std are in RGB order.
    """

    def __init__(self, mean: Sequence[float] | None = None, std: Sequence[float] | None = None,
                 to_rgb: bool = False, to_float32: bool = True, format_shape: str = 'NCHW',
                 blending: dict | None = None, non_blocking: bool = True):
        if format_shape != 'NCHW':
            raise ConfigError(f"ActionDataPreprocessor format_shape={format_shape!r}: fovea's 2D recognizers take "
                              f"'NCHW' (frames as images) only.")
        if blending is not None:
            raise ConfigError('ActionDataPreprocessor: blending (MixUp/CutMix of videos) is not implemented in '
                              'fovea; remove it from the config.')
        super().__init__(mean=mean, std=std, to_rgb=to_rgb, non_blocking=non_blocking)
        self.format_shape = format_shape

    def forward(self, data: dict, training: bool = False) -> dict:
        data = self.cast(data)
        inputs = data['inputs']
        if not isinstance(inputs, torch.Tensor) or inputs.ndim != 5:
            shape = tuple(inputs.shape) if isinstance(inputs, torch.Tensor) else type(inputs).__name__
            raise ValueError(f'ActionDataPreprocessor takes video batches (N, V, C, H, W), got {shape}; pack '
                             f'each video as a (V, C, H, W) uint8 tensor (PackInputs after the video transforms).')
        n, v = inputs.shape[:2]
        frames = self._image_batch(inputs.flatten(0, 1), src_bgr=False)  # fovea decodes video frames RGB
        return {'inputs': frames.view(n, v, *frames.shape[1:]), 'data_samples': data.get('data_samples')}


@MODELS.register_module()
class Recognizer2D(BaseModel):
    """2D-backbone video recognizer: frames through ``backbone``, combined by ``cls_head``.

    Args:
        backbone: any fovea backbone config (``ResNetTSM``/``MobileNetV2TSM`` for TSM); its last output
            feeds the head. Load ImageNet weights with ``init_cfg=dict(type='Pretrained',
            checkpoint=..., prefix='backbone.')``.
        cls_head: ``TSNHead`` or ``TSMHead`` config; ``in_channels`` must be the backbone's last width.
        neck: not supported (MMAction2's TPN/TRN necks).
        train_cfg / test_cfg: MMAction2's; ``test_cfg.max_testing_views`` runs the test frames through
            the backbone in chunks of that many views.
        data_preprocessor: defaults to ``ActionDataPreprocessor``.
    """

    def __init__(self, backbone: dict, cls_head: dict | None = None, neck: dict | None = None,
                 train_cfg: dict | None = None, test_cfg: dict | None = None,
                 data_preprocessor: dict | None = None, init_cfg: dict | None = None):
        if neck is not None:
            raise ConfigError('Recognizer2D: necks are not implemented in fovea; remove model.neck.')
        data_preprocessor = dict(data_preprocessor or {})
        data_preprocessor.setdefault('type', 'ActionDataPreprocessor')
        super().__init__(data_preprocessor=data_preprocessor, init_cfg=init_cfg)
        self.backbone = MODELS.build(backbone, key='backbone')
        self.cls_head = MODELS.build(cls_head, key='cls_head')
        widths = getattr(self.backbone, 'out_channels', None)
        if self.cls_head is not None and widths and self.cls_head.in_channels != widths[-1]:
            raise ConfigError(f'model.cls_head.in_channels is {self.cls_head.in_channels}, but the backbone\'s '
                              f'last output (out_indices {tuple(self.backbone.out_indices)}) has {widths[-1]} '
                              f'channels: set in_channels={widths[-1]}.')
        self.train_cfg, self.test_cfg = train_cfg or {}, test_cfg or {}

    def extract_feat(self, inputs: torch.Tensor, test_mode: bool = False) -> tuple[torch.Tensor, int]:
        """(last backbone feature map of every frame (N * V, C, H, W), V) for a (N, V, C, H, W) batch."""
        num_segs = inputs.shape[1]
        frames = inputs.flatten(0, 1)
        chunk = self.test_cfg.get('max_testing_views') if test_mode else None
        if chunk:
            feats = torch.cat([self.backbone(part)[-1] for part in frames.split(chunk)])
        else:
            feats = self.backbone(frames)[-1]
        return feats, num_segs

    def loss(self, inputs: torch.Tensor, data_samples: list[DataSample]) -> dict[str, torch.Tensor]:
        feats, num_segs = self.extract_feat(inputs)
        return self.cls_head.loss(feats, data_samples, num_segs=num_segs)

    def predict(self, inputs: torch.Tensor, data_samples: list[DataSample] | None = None) -> list[DataSample]:
        """``pred_score``/``pred_label`` per video, the scores of its clips and crops averaged."""
        feats, num_segs = self.extract_feat(inputs, test_mode=True)
        if data_samples is None:
            data_samples = [DataSample() for _ in range(inputs.shape[0])]
        return self.cls_head.predict(feats, data_samples, num_segs=num_segs)

    def _forward(self, inputs: torch.Tensor, data_samples: Any = None) -> torch.Tensor:
        feats, num_segs = self.extract_feat(inputs)
        return self.cls_head(feats, num_segs) if self.cls_head is not None else feats

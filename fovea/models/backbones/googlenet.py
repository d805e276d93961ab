"""GoogLeNet / Inception v1 (Szegedy et al., "Going Deeper with Convolutions", CVPR 2015).

The torchvision layout (batch norm after every conv, ``eps=1e-3``; the "5x5" branch uses a
3x3 conv as torchvision's port of the pretrained weights does), with torchvision's module names
so its checkpoints load directly. The auxiliary classifiers are not built (they only serve training
and torchvision drops them from its pretrained model).
"""
from __future__ import annotations

from typing import Sequence

import torch
from torch import nn

from fovea.models.backbones.base import BaseBackbone
from fovea.models.layers.basic_conv import BasicConv2d
from fovea.models.layers.freeze import freeze_module
from fovea.registry import MODELS
from fovea.utils.errors import ConfigError

__all__ = ['GoogLeNet', 'InceptionBlock']


class InceptionBlock(nn.Module):
    """Four parallel branches concatenated: 1x1; 1x1 -> 3x3; 1x1 -> 3x3; 3x3 max-pool -> 1x1."""

    def __init__(self, in_channels: int, ch1x1: int, ch3x3red: int, ch3x3: int, ch5x5red: int, ch5x5: int,
                 pool_proj: int):
        super().__init__()
        self.branch1 = BasicConv2d(in_channels, ch1x1, kernel_size=1)
        self.branch2 = nn.Sequential(BasicConv2d(in_channels, ch3x3red, kernel_size=1),
                                     BasicConv2d(ch3x3red, ch3x3, kernel_size=3, padding=1))
        self.branch3 = nn.Sequential(BasicConv2d(in_channels, ch5x5red, kernel_size=1),
                                     BasicConv2d(ch5x5red, ch5x5, kernel_size=3, padding=1))
        self.branch4 = nn.Sequential(nn.MaxPool2d(kernel_size=3, stride=1, padding=1, ceil_mode=True),
                                     BasicConv2d(in_channels, pool_proj, kernel_size=1))
        self.out_channels = ch1x1 + ch3x3 + ch5x5 + pool_proj

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.cat([self.branch1(x), self.branch2(x), self.branch3(x), self.branch4(x)], 1)


@MODELS.register_module()
class GoogLeNet(BaseBackbone):
    """GoogLeNet backbone.

    Stages (for ``out_indices``/``frozen_stages``): 0 the conv stem (192 ch, stride 4), 1 inception 3a-3b
    (480 ch, stride 8), 2 inception 4a-4e (832 ch, stride 16), 3 inception 5a-5b (1024 ch, stride 32);
    index 4 is the classifier's logits when ``num_classes > 0``.

    Args:
        num_classes: when > 0, global pooling, dropout and the fully connected classifier are part of the
            backbone (use ``ClsHead``); ``-1`` returns feature maps (use a neck and ``LinearClsHead``).
        dropout: dropout before the classifier.
        out_indices: default (4,) with a classifier, else (3,).
        frozen_stages / norm_eval: as in ResNet.

    torchvision's pretrained weights expect inputs scaled to [-1, 1] (``transform_input``): use
    ``mean=[127.5] * 3, std=[127.5] * 3`` in the data preprocessor with them.
    """
    prefers_channels_last = True

    #: name, in_channels, ch1x1, ch3x3red, ch3x3, ch5x5red, ch5x5, pool_proj
    arch_settings: tuple[tuple, ...] = (
        ('inception3a', 192, 64, 96, 128, 16, 32, 32),
        ('inception3b', 256, 128, 128, 192, 32, 96, 64),
        ('inception4a', 480, 192, 96, 208, 16, 48, 64),
        ('inception4b', 512, 160, 112, 224, 24, 64, 64),
        ('inception4c', 512, 128, 128, 256, 24, 64, 64),
        ('inception4d', 512, 112, 144, 288, 32, 64, 64),
        ('inception4e', 528, 256, 160, 320, 32, 128, 128),
        ('inception5a', 832, 256, 160, 320, 32, 128, 128),
        ('inception5b', 832, 384, 192, 384, 48, 128, 128),
    )
    stage_modules: tuple[tuple[str, ...], ...] = (
        ('conv1', 'maxpool1', 'conv2', 'conv3'),
        ('maxpool2', 'inception3a', 'inception3b'),
        ('maxpool3', 'inception4a', 'inception4b', 'inception4c', 'inception4d', 'inception4e'),
        ('maxpool4', 'inception5a', 'inception5b'),
    )

    def __init__(self, num_classes: int = -1, dropout: float = 0.2, out_indices: Sequence[int] | None = None,
                 frozen_stages: int = -1, norm_eval: bool = False,
                 init_cfg: dict | list[dict] | None = [
                     dict(type='TruncNormal', layer=['Conv2d', 'Linear'], std=0.01),
                     dict(type='Constant', layer=['BatchNorm2d'], val=1)]):
        super().__init__(init_cfg)
        self.num_classes = num_classes
        if out_indices is None:
            out_indices = (4,) if num_classes > 0 else (3,)
        if max(out_indices) > 4 or (4 in out_indices and num_classes <= 0):
            raise ConfigError(f'GoogLeNet out_indices {tuple(out_indices)}: stages are 0..3 (4 is the classifier, '
                              f'which needs num_classes > 0)')
        self.out_indices = tuple(out_indices)
        self.frozen_stages = frozen_stages
        self.norm_eval = norm_eval
        self.conv1 = BasicConv2d(3, 64, kernel_size=7, stride=2, padding=3)
        self.maxpool1 = nn.MaxPool2d(3, stride=2, ceil_mode=True)
        self.conv2 = BasicConv2d(64, 64, kernel_size=1)
        self.conv3 = BasicConv2d(64, 192, kernel_size=3, padding=1)
        self.maxpool2 = nn.MaxPool2d(3, stride=2, ceil_mode=True)
        self.maxpool3 = nn.MaxPool2d(3, stride=2, ceil_mode=True)
        self.maxpool4 = nn.MaxPool2d(2, stride=2, ceil_mode=True)
        for name, *channels in self.arch_settings:
            self.add_module(name, InceptionBlock(*channels))
        if num_classes > 0:
            self.avgpool = nn.AdaptiveAvgPool2d((1, 1))
            self.dropout = nn.Dropout(p=dropout)
            self.fc = nn.Linear(1024, num_classes)
            self.out_indices = tuple(sorted({*self.out_indices, 4}))  # the logits are always returned
        self.stage_channels = (192, 480, 832, 1024) + ((num_classes,) if num_classes > 0 else ())
        self.stage_reductions = (4, 8, 16, 32) + ((None,) if num_classes > 0 else ())
        self._freeze_stages()

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, ...]:
        outs = []
        for i, names in enumerate(self.stage_modules):
            for name in names:
                x = getattr(self, name)(x)
            if i in self.out_indices:
                outs.append(x)
        if self.num_classes > 0:
            outs.append(self.fc(self.dropout(self.avgpool(x).flatten(1))))
        return tuple(outs)

    def _freeze_stages(self) -> None:
        for i in range(min(self.frozen_stages + 1, len(self.stage_modules)) if self.frozen_stages >= 0 else 0):
            for name in self.stage_modules[i]:
                freeze_module(getattr(self, name))

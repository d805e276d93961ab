"""AlexNet (Krizhevsky et al., "ImageNet Classification with Deep Convolutional Neural Networks", NeurIPS 2012).

The single-tower variant of torchvision and MMPretrain ("One weird trick ...", Krizhevsky 2014):
five convs (64-192-384-256-256) with three max-pools, then three fully connected layers.
"""
from __future__ import annotations

import torch
from torch import nn

from fovea.models.backbones.base import BaseBackbone
from fovea.registry import MODELS

__all__ = ['AlexNet']


@MODELS.register_module()
class AlexNet(BaseBackbone):
    """AlexNet backbone.

    Args:
        num_classes: when > 0, the classifier (dropout-4096-4096-classes) is part of the backbone
            and the output is the logits (MMPretrain's convention; use ``ClsHead``); ``-1`` returns the
            256-channel feature map.

    The feature map is average-pooled to 6x6 before the classifier (as torchvision does), so inputs
    other than 224x224 work too; at 224 the pooling is the identity.
    """
    prefers_channels_last = True

    def __init__(self, num_classes: int = -1, init_cfg: dict | None = None):
        super().__init__(init_cfg)
        self.num_classes = num_classes
        self.features = nn.Sequential(
            nn.Conv2d(3, 64, kernel_size=11, stride=4, padding=2), nn.ReLU(inplace=True),
            nn.MaxPool2d(kernel_size=3, stride=2),
            nn.Conv2d(64, 192, kernel_size=5, padding=2), nn.ReLU(inplace=True),
            nn.MaxPool2d(kernel_size=3, stride=2),
            nn.Conv2d(192, 384, kernel_size=3, padding=1), nn.ReLU(inplace=True),
            nn.Conv2d(384, 256, kernel_size=3, padding=1), nn.ReLU(inplace=True),
            nn.Conv2d(256, 256, kernel_size=3, padding=1), nn.ReLU(inplace=True),
            nn.MaxPool2d(kernel_size=3, stride=2))
        if num_classes > 0:
            self.avgpool = nn.AdaptiveAvgPool2d((6, 6))
            self.classifier = nn.Sequential(
                nn.Dropout(), nn.Linear(256 * 6 * 6, 4096), nn.ReLU(inplace=True),
                nn.Dropout(), nn.Linear(4096, 4096), nn.ReLU(inplace=True),
                nn.Linear(4096, num_classes))
        self.stage_channels = (num_classes,) if num_classes > 0 else (256,)
        self.stage_reductions = (None,) if num_classes > 0 else (32,)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor]:
        x = self.features(x)
        if self.num_classes > 0:
            x = self.classifier(self.avgpool(x).flatten(1))
        return (x,)

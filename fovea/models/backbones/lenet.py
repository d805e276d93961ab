"""LeNet-5 (LeCun et al., "Gradient-based learning applied to document recognition", 1998)."""
from __future__ import annotations

import torch
from torch import nn

from fovea.models.backbones.base import BaseBackbone
from fovea.registry import MODELS

__all__ = ['LeNet5']


@MODELS.register_module()
class LeNet5(BaseBackbone):
    """LeNet-5 as MMPretrain builds it: conv(6,5x5)-tanh-avgpool-conv(16,5x5)-tanh-avgpool-conv(120,5x5)-tanh,
    then, when ``num_classes > 0``, the fully connected classifier 120-84-classes.

    The stack expects 32x32 input (the 120 feature maps are then 1x1). Returns a one-element tuple.

    Args:
        num_classes: size of the built-in classifier; ``-1`` leaves it out (use a head instead).
        in_channels: input channels (1 for greyscale digits).
    """
    prefers_channels_last = True

    def __init__(self, num_classes: int = -1, in_channels: int = 1, init_cfg: dict | None = None):
        super().__init__(init_cfg)
        self.num_classes = num_classes
        self.features = nn.Sequential(
            nn.Conv2d(in_channels, 6, kernel_size=5, stride=1), nn.Tanh(),
            nn.AvgPool2d(kernel_size=2),
            nn.Conv2d(6, 16, kernel_size=5, stride=1), nn.Tanh(),
            nn.AvgPool2d(kernel_size=2),
            nn.Conv2d(16, 120, kernel_size=5, stride=1), nn.Tanh())
        if num_classes > 0:
            self.classifier = nn.Sequential(nn.Linear(120, 84), nn.Tanh(), nn.Linear(84, num_classes))
        self.stage_channels = (num_classes if num_classes > 0 else 120,)
        self.stage_reductions = (None,)  # unpadded convs: 32x32 -> 1x1, not proportional to the input

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor]:
        x = self.features(x)
        if self.num_classes > 0:
            x = self.classifier(x.flatten(1))
        return (x,)

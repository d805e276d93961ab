"""SimMIM's linear decoder (MMPretrain's ``SimMIMLinearDecoder``)."""
from __future__ import annotations

import torch
from torch import nn

from fovea.models.base import BaseModule
from fovea.registry import MODELS

__all__ = ['SimMIMLinearDecoder']


@MODELS.register_module()
class SimMIMLinearDecoder(BaseModule):
    """A 1x1 convolution to ``encoder_stride ** 2 * 3`` channels and a pixel shuffle: the last
    feature map (B, in_channels, H/s, W/s) back to an image (B, 3, H, W).

    Args:
        in_channels: channels of the feature map.
        encoder_stride: the backbone's total stride s (32 for Swin).
    """

    def __init__(self, in_channels: int, encoder_stride: int, init_cfg: dict | list | None = None):
        super().__init__(init_cfg)
        self.decoder = nn.Sequential(nn.Conv2d(in_channels, encoder_stride ** 2 * 3, kernel_size=1),
                                     nn.PixelShuffle(encoder_stride))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.decoder(x)

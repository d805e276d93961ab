"""BasicConv2d: conv (no bias) -> BatchNorm (eps 1e-3) -> ReLU, the unit of the Inception networks."""
from __future__ import annotations

import torch
from torch import nn

from fovea.models.layers.conv import build_conv_layer

__all__ = ['BasicConv2d']


class BasicConv2d(nn.Module):
    """The Inception family's conv unit; children ``conv``/``bn``/``relu`` as in torchvision and MMPretrain.

    Args:
        in_channels / out_channels: channels.
        conv_cfg: conv layer config (default ``nn.Conv2d``).
        **kwargs: conv arguments (``kernel_size``, ``stride``, ``padding``).
    """

    def __init__(self, in_channels: int, out_channels: int, conv_cfg: dict | None = None, **kwargs):
        super().__init__()
        self.conv = build_conv_layer(conv_cfg, in_channels, out_channels, bias=False, **kwargs)
        self.bn = nn.BatchNorm2d(out_channels, eps=0.001)
        self.relu = nn.ReLU(inplace=True)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.relu(self.bn(self.conv(x)))

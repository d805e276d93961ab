"""TensorFlow 'SAME' padding for convolutions (used by EfficientNet weights ported from TF)."""
from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

__all__ = ['Conv2dAdaptivePadding']


class Conv2dAdaptivePadding(nn.Conv2d):
    """Conv2d that pads its input like TensorFlow's ``padding='SAME'``: the output size is
    ``ceil(input / stride)`` and any odd padding goes to the bottom/right. The ``padding``
    argument is ignored (MMCV's ``Conv2dAdaptivePadding``, registered conv type of that name).
    """

    def __init__(self, in_channels: int, out_channels: int, kernel_size: int | tuple, stride: int | tuple = 1,
                 padding: int | tuple = 0, dilation: int | tuple = 1, groups: int = 1, bias: bool = True):
        super().__init__(in_channels, out_channels, kernel_size, stride, 0, dilation, groups, bias)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        pads = []
        for size, k, s, d in zip(x.shape[-2:], self.weight.shape[-2:], self.stride, self.dilation):
            total = max((math.ceil(size / s) - 1) * s + (k - 1) * d + 1 - size, 0)
            pads.append((total // 2, total - total // 2))
        (top, bottom), (left, right) = pads
        if top or bottom or left or right:
            x = F.pad(x, [left, right, top, bottom])
        return F.conv2d(x, self.weight, self.bias, self.stride, 0, self.dilation, self.groups)

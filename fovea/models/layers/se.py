"""Squeeze-and-excitation (Hu et al., "Squeeze-and-Excitation Networks", CVPR 2018)."""
from __future__ import annotations

import torch
from torch import nn

from fovea.models.layers.conv import ConvModule, make_divisible

__all__ = ['SELayer']


class SELayer(nn.Module):
    """Channel attention: global pool -> 1x1 conv (squeeze) -> act -> 1x1 conv (excite) -> gate.

    Args:
        channels: input/output channels.
        squeeze_channels: hidden width; default ``make_divisible(channels / ratio, divisor)``.
        ratio / divisor: used when ``squeeze_channels`` is not given.
        act_cfg: two activation configs (after squeeze, after excite).
        bias: conv biases (MMCV default True).
    """

    def __init__(self, channels: int, squeeze_channels: int | None = None, ratio: int = 16, divisor: int = 8,
                 bias: bool | str = 'auto', conv_cfg: dict | None = None,
                 act_cfg: tuple[dict, dict] = (dict(type='ReLU'), dict(type='Sigmoid'))):
        super().__init__()
        if isinstance(act_cfg, dict):
            act_cfg = (act_cfg, act_cfg)
        if squeeze_channels is None:
            squeeze_channels = make_divisible(channels // ratio, divisor)
        self.global_avgpool = nn.AdaptiveAvgPool2d(1)
        self.conv1 = ConvModule(channels, squeeze_channels, 1, bias=bias, conv_cfg=conv_cfg, act_cfg=act_cfg[0])
        self.conv2 = ConvModule(squeeze_channels, channels, 1, bias=bias, conv_cfg=conv_cfg, act_cfg=act_cfg[1])

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x * self.conv2(self.conv1(self.global_avgpool(x)))

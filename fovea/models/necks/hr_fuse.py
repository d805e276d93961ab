"""HRFuseScales (MMPretrain's): the neck that turns HRNet's four branches into one classification feature."""
from __future__ import annotations

from typing import Sequence

import torch
from torch import nn

from fovea.models.backbones.resnet import Bottleneck, ResLayer
from fovea.models.base import BaseModule
from fovea.models.layers.conv import ConvModule
from fovea.registry import MODELS
from fovea.utils.errors import ConfigError

__all__ = ['HRFuseScales']


@MODELS.register_module()
class HRFuseScales(BaseModule):
    """Widen each branch to 128, 256, 512, 1024 channels (one Bottleneck each, ``increase_layers``), then,
    from the highest resolution down, halve the resolution with a stride-2 3x3 ConvModule
    (``downsample_layers``) and add the next branch; a 1x1 ConvModule (``final_layer``) gives
    ``out_channels``. Returns a one-element tuple at 1/32 resolution.

    Args:
        in_channels: widths of the four branches (HRNet-W18: 18, 36, 72, 144).
        out_channels: width of the output (2048).
        norm_cfg: of the ConvModules (BN, momentum 0.1).
    """

    def __init__(self, in_channels: Sequence[int], out_channels: int = 2048,
                 norm_cfg: dict = dict(type='BN', momentum=0.1),
                 init_cfg: dict | list[dict] | None = dict(type='Normal', layer='Linear', std=0.01)):
        super().__init__(init_cfg)
        if len(in_channels) != 4:
            raise ConfigError(f'HRFuseScales needs the widths of 4 branches, got in_channels={list(in_channels)}')
        self.in_channels, self.out_channels = tuple(in_channels), out_channels
        widths = (128, 256, 512, 1024)
        self.increase_layers = nn.ModuleList(ResLayer(Bottleneck, 1, c, w) for c, w in zip(in_channels, widths))
        self.downsample_layers = nn.ModuleList(
            ConvModule(widths[i], widths[i + 1], 3, 2, 1, norm_cfg=norm_cfg, bias=False) for i in range(3))
        self.final_layer = ConvModule(widths[3], out_channels, 1, norm_cfg=norm_cfg, bias=False)

    def forward(self, x: tuple[torch.Tensor, ...]) -> tuple[torch.Tensor]:
        if not isinstance(x, tuple) or len(x) != len(self.in_channels):
            raise ValueError(f'HRFuseScales takes a tuple of {len(self.in_channels)} feature maps (HRNet with '
                             f'multiscale_output=True), got {type(x).__name__} of {len(x)}')
        feat = self.increase_layers[0](x[0])
        for down, increase, t in zip(self.downsample_layers, self.increase_layers[1:], x[1:]):
            feat = down(feat) + increase(t)
        return (self.final_layer(feat),)

"""Res2Net (Gao et al., "Res2Net: A New Multi-scale Backbone Architecture", TPAMI 2021).

A ResNet whose bottleneck 3x3 conv works on ``scales`` channel groups of ``width`` channels, hierarchically:
group ``i`` is convolved after adding the previous group's output, so one block sees several receptive
fields. The first block of a stage (``stage_type='stage'``) convolves the groups independently and
average-pools the last one.

MMPretrain's arguments and module names (``convs`` / ``bns``, ``pool``; with ``avg_down`` the shortcut keeps
its AvgPool at stride 1 too: ``downsample.1/.2``), so its checkpoints load; the block is fovea's
:class:`~fovea.models.backbones.resnet.Bottleneck`.
"""
from __future__ import annotations

import math

import torch
from torch import nn

from fovea.models.backbones.resnet import Bottleneck, ResNet
from fovea.models.layers.conv import build_conv_layer, build_norm_layer
from fovea.registry import MODELS
from fovea.utils.errors import ConfigError

__all__ = ['Res2Net', 'Bottle2neck']


class Bottle2neck(Bottleneck):
    """:class:`Bottleneck` whose 1x1 convs are ``width * scales`` wide and whose 3x3 conv is ``scales - 1``
    convs (``convs``/``bns``) over ``width``-channel groups."""

    def __init__(self, in_channels: int, out_channels: int, scales: int = 4, base_width: int = 26,
                 base_channels: int = 64, stage_type: str = 'normal', **kwargs):
        super().__init__(in_channels, out_channels, **kwargs)
        if scales < 2:
            raise ConfigError(f'Res2Net needs scales > 1 (scales=1 is a ResNet), got {scales}')
        if stage_type not in ('normal', 'stage'):
            raise ConfigError(f"Res2Net stage_type must be 'normal' or 'stage', got {stage_type!r}")
        conv_cfg, norm_cfg = kwargs.get('conv_cfg'), kwargs.get('norm_cfg', dict(type='BN'))
        width = int(math.floor(out_channels // self.expansion * (base_width / base_channels)))
        conv1_stride, conv2_stride = (1, self.stride) if self.style == 'pytorch' else (self.stride, 1)
        self.conv1 = build_conv_layer(conv_cfg, in_channels, width * scales, 1, stride=conv1_stride, bias=False)
        self.add_module(self.norm_names[0], build_norm_layer(norm_cfg, width * scales, postfix=1)[1])
        if stage_type == 'stage':
            self.pool = nn.AvgPool2d(3, conv2_stride, padding=1)
        self.convs = nn.ModuleList(
            build_conv_layer(conv_cfg, width, width, 3, stride=conv2_stride, padding=self.dilation,
                             dilation=self.dilation, bias=False) for _ in range(scales - 1))
        self.bns = nn.ModuleList(build_norm_layer(norm_cfg, width, postfix=i + 1)[1] for i in range(scales - 1))
        self.conv3 = build_conv_layer(conv_cfg, width * scales, out_channels, 1, bias=False)
        del self.conv2
        delattr(self, self.norm_names[1])
        self.stage_type, self.scales, self.width = stage_type, scales, width

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        def residual(t: torch.Tensor) -> torch.Tensor:
            spx = torch.split(self.relu(self.norm1(self.conv1(t))), self.width, 1)
            outs, sp = [], None
            for i, (conv, bn) in enumerate(zip(self.convs, self.bns)):
                sp = spx[i] if sp is None or self.stage_type == 'stage' else sp + spx[i]
                sp = self.relu(bn(conv(sp.contiguous())))
                outs.append(sp)
            outs.append(self.pool(spx[-1]) if self.stage_type == 'stage' else spx[-1])
            return self.norm3(self.conv3(torch.cat(outs, 1)))
        return self._finish(x, residual)


@MODELS.register_module()
class Res2Net(ResNet):
    """Res2Net backbone: :class:`ResNet` arguments (MMPretrain's defaults: ``deep_stem=True``,
    ``avg_down=True``, ``init_cfg=None``) and

    Args:
        depth: 50, 101 or 152.
        scales: channel groups in each block's 3x3 stage (4); base_width: their width at 64 base channels (26).
    """
    arch_settings = {
        50: (Bottle2neck, (3, 4, 6, 3)),
        101: (Bottle2neck, (3, 4, 23, 3)),
        152: (Bottle2neck, (3, 8, 36, 3)),
    }

    def __init__(self, scales: int = 4, base_width: int = 26, style: str = 'pytorch', deep_stem: bool = True,
                 avg_down: bool = True, init_cfg: dict | list[dict] | None = None, **kwargs):
        self.scales, self.base_width = scales, base_width
        super().__init__(style=style, deep_stem=deep_stem, avg_down='always' if avg_down else False,
                         init_cfg=init_cfg, **kwargs)

    def _block_kwargs(self) -> dict:
        return dict(scales=self.scales, base_width=self.base_width, base_channels=self.base_channels,
                    first_block_kwargs=dict(stage_type='stage'))

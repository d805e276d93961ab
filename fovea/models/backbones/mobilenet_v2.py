"""MobileNetV2 (Sandler et al., "MobileNetV2: Inverted Residuals and Linear Bottlenecks", CVPR 2018)."""
from __future__ import annotations

from typing import Sequence

import torch
from torch import nn

from fovea.models.backbones.base import BaseBackbone
from fovea.models.layers.conv import ConvModule, make_divisible
from fovea.models.layers.freeze import freeze_module
from fovea.models.layers.inverted_residual import InvertedResidual as MBConv
from fovea.registry import MODELS

__all__ = ['MobileNetV2']


class InvertedResidual(MBConv):
    """MobileNetV2's block with MMPretrain's signature: the depthwise width is
    ``round(in_channels * expand_ratio)`` (no expansion conv when ``expand_ratio == 1``), ReLU6.

    Children are named as in :class:`fovea.models.layers.InvertedResidual` (``expand_conv``,
    ``depthwise_conv``, ``linear_conv``); MMPretrain's ``conv.0/1/2`` checkpoints are renamed on
    loading (``fovea.convert.mbconv``).
    """

    def __init__(self, in_channels: int, out_channels: int, stride: int, expand_ratio: float,
                 conv_cfg: dict | None = None, norm_cfg: dict = dict(type='BN'),
                 act_cfg: dict = dict(type='ReLU6'), with_cp: bool = False, init_cfg: dict | None = None):
        super().__init__(in_channels, out_channels, mid_channels=int(round(in_channels * expand_ratio)),
                         stride=stride, conv_cfg=conv_cfg, norm_cfg=norm_cfg, act_cfg=act_cfg, with_cp=with_cp)
        self.stride = stride

    @property
    def use_res_connect(self) -> bool:
        """MMPretrain's name for ``with_res_shortcut``."""
        return self.with_res_shortcut


@MODELS.register_module()
class MobileNetV2(BaseBackbone):
    """MobileNetV2 backbone, with MMPretrain's arguments and module names.

    A 3x3 stride-2 stem, seven stages of inverted residual blocks (``layer1`` .. ``layer7``)
    and a final 1x1 convolution to 1280 channels (``conv2``). Output indices 0..7 name
    ``layer1`` .. ``layer7`` and ``conv2``.

    Args:
        widen_factor: width multiplier of every layer (channels rounded to multiples of 8); the last
            convolution widens only when ``widen_factor > 1``.
        out_indices: which of the 8 layers to return.
        frozen_stages: freeze the stem and ``layer1`` .. ``layer{frozen_stages}`` (-1: none).
        conv_cfg / norm_cfg / act_cfg: layer configs (ReLU6 by default).
        norm_eval: keep batch norms in eval mode while training.
        with_cp: gradient checkpointing inside the blocks.
    """
    prefers_channels_last = True

    #: expand_ratio, channels, num_blocks, stride of each stage
    arch_settings = [[1, 16, 1, 1], [6, 24, 2, 2], [6, 32, 3, 2], [6, 64, 4, 2], [6, 96, 3, 1],
                     [6, 160, 3, 2], [6, 320, 1, 1]]

    def __init__(self, widen_factor: float = 1., out_indices: Sequence[int] = (7,), frozen_stages: int = -1,
                 conv_cfg: dict | None = None, norm_cfg: dict = dict(type='BN'), act_cfg: dict = dict(type='ReLU6'),
                 norm_eval: bool = False, with_cp: bool = False,
                 init_cfg: dict | list[dict] | None = [dict(type='Kaiming', layer=['Conv2d']),
                                                       dict(type='Constant', val=1,
                                                            layer=['_BatchNorm', 'GroupNorm'])]):
        super().__init__(init_cfg)
        for index in out_indices:
            if index not in range(8):
                raise ValueError(f'MobileNetV2 out_indices must be in range(0, 8), got {index}')
        if frozen_stages not in range(-1, 8):
            raise ValueError(f'MobileNetV2 frozen_stages must be in range(-1, 8), got {frozen_stages}')
        self.widen_factor = widen_factor
        self.out_indices = tuple(out_indices)
        self.frozen_stages = frozen_stages
        self.norm_eval = norm_eval
        in_channels = make_divisible(32 * widen_factor, 8)
        self.conv1 = ConvModule(3, in_channels, 3, stride=2, padding=1, conv_cfg=conv_cfg, norm_cfg=norm_cfg,
                                act_cfg=act_cfg)
        self.layers: list[str] = []
        widths, reductions = [], []
        for i, (expand_ratio, channels, num_blocks, stride) in enumerate(self.arch_settings):
            out_channels = make_divisible(channels * widen_factor, 8)
            blocks = []
            for j in range(num_blocks):
                blocks.append(InvertedResidual(
                    in_channels, out_channels, stride=stride if j == 0 else 1, expand_ratio=expand_ratio,
                    conv_cfg=conv_cfg, norm_cfg=norm_cfg, act_cfg=act_cfg, with_cp=with_cp))
                in_channels = out_channels
            self.add_module(f'layer{i + 1}', nn.Sequential(*blocks))
            self.layers.append(f'layer{i + 1}')
            widths.append(out_channels)
            reductions.append((reductions[-1] if reductions else 2) * stride)
        self.out_channel = int(1280 * widen_factor) if widen_factor > 1.0 else 1280
        self.conv2 = ConvModule(in_channels, self.out_channel, 1, conv_cfg=conv_cfg, norm_cfg=norm_cfg,
                                act_cfg=act_cfg)
        self.layers.append('conv2')
        self.stage_channels = (*widths, self.out_channel)
        self.stage_reductions = (*reductions, reductions[-1])
        self._freeze_stages()

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, ...]:
        x = self.conv1(x)
        outs = []
        for i, name in enumerate(self.layers):
            x = getattr(self, name)(x)
            if i in self.out_indices:
                outs.append(x)
        return tuple(outs)

    def _freeze_stages(self) -> None:
        if self.frozen_stages >= 0:
            freeze_module(self.conv1)
        for i in range(1, self.frozen_stages + 1):
            freeze_module(getattr(self, f'layer{i}'))
